package notify_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/mail"
	"github.com/ocpro/upgrade/internal/mail/layout"
	"github.com/ocpro/upgrade/internal/notify"
	"github.com/ocpro/upgrade/internal/notify/notifytest"
)

// syncBuffer is a log sink that concurrent handlers may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTestMailerByErrorKind drives every SES outcome through the test mail:
// only throttling and a paused account ask EventBridge to retry, and a
// permanent refusal is logged with its reason and counted, since there is
// no invitation to record it on.
func TestTestMailerByErrorKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		wantRetry bool
		wantSent  int
		wantLog   []string
	}{
		{"accepted", nil, false, 1, []string{`"MailsSent"`, "test mail sent"}},
		{"permanent", &mail.SendError{Kind: mail.ErrorPermanent, Code: "MessageRejected", Message: "Email address is on the suppression list."},
			false, 0, []string{`"MailsFailed"`, "Email address is on the suppression list."}},
		{"throttled", &mail.SendError{Kind: mail.ErrorThrottled, Code: "TooManyRequestsException", Message: "Maximum sending rate exceeded."},
			true, 0, nil},
		{"paused", &mail.SendError{Kind: mail.ErrorPaused, Code: "SendingPausedException", Message: "Sending is paused."},
			true, 0, []string{"ses_sending_paused"}},
		{"unknown", &mail.SendError{Kind: mail.ErrorUnknown, Code: "RequestTimeout", Message: "timeout"},
			false, 0, []string{`"MailsFailed"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snd := &notifytest.Sender{Err: tt.err}
			logs := &syncBuffer{}
			tm := notifytest.TestMailer(t, notifytest.Settings{}, snd, logs)
			err := tm.Send(t.Context(), notify.TestMail{OperatorID: "op-1", To: "it-admin@contoso.com", RequestID: "req-1"})
			if (err != nil) != tt.wantRetry {
				t.Fatalf("Send() = %v, want retry %v", err, tt.wantRetry)
			}
			if tt.wantRetry && !errors.Is(err, notify.ErrSendLater) {
				t.Errorf("Send() = %v, want ErrSendLater", err)
			}
			if n := len(snd.To()); n != tt.wantSent {
				t.Errorf("sent %d mails, want %d", n, tt.wantSent)
			}
			out := logs.String()
			for _, w := range tt.wantLog {
				if !strings.Contains(out, w) {
					t.Errorf("log lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "it-admin@contoso.com") {
				t.Errorf("log holds the recipient's address:\n%s", out)
			}
		})
	}
}

// TestTestMailerUsesSavedSettings renders the operator's own settings when
// it saved some and the defaults otherwise, always marked as a test.
func TestTestMailerUsesSavedSettings(t *testing.T) {
	t.Parallel()
	own := mail.DefaultSettings("Live Platform Voice")
	own.WelcomeSubject = "Approve {{service}} now"
	own.ReplyTo = "support@liveplatform.example"
	tests := []struct {
		name                          string
		operator                      string
		wantSubject, wantSender, want string
	}{
		// The saved sender name signs the text; the From name stays the
		// deployment's.
		{"saved settings", "op-own", "[Test] Approve Contoso Teams Calling (example) now", "Live Platform", "support@liveplatform.example"},
		{"defaults", "op-new", "[Test] Live Platform: approve Microsoft Teams calling for Contoso (example)", "Live Platform", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snd := &notifytest.Sender{}
			tm := notifytest.TestMailer(t, notifytest.Settings{"op-own": own}, snd, &syncBuffer{})
			if err := tm.Send(t.Context(), notify.TestMail{OperatorID: tt.operator, To: "me@operator.example"}); err != nil {
				t.Fatal(err)
			}
			to, msgs := snd.To(), snd.Messages()
			if len(to) != 1 {
				t.Fatalf("sent %d mails, want 1", len(to))
			}
			msg := msgs[0]
			if to[0] != "me@operator.example" || msg.Subject != tt.wantSubject || msg.SenderName != tt.wantSender || msg.ReplyTo != tt.want {
				t.Errorf("sent to %s: subject %q, sender %q, reply-to %q", to[0], msg.Subject, msg.SenderName, msg.ReplyTo)
			}
			if !strings.Contains(msg.Text, "https://portal.example.net/invite/example") ||
				!strings.Contains(msg.Text, mail.FormatExpiry(time.Date(2026, 12, 1, 17, 45, 0, 0, time.UTC))) {
				t.Errorf("text lacks the sample link or the sample expiry:\n%s", msg.Text)
			}
		})
	}
}

func TestNewTestMailerChecksDeps(t *testing.T) {
	t.Parallel()
	r := layout.NewRenderer()
	full := func() notify.TestMailerDeps {
		return notify.TestMailerDeps{Settings: notifytest.Settings{}, Renderer: r, Sender: &notifytest.Sender{}, Clock: notifytest.Clock(time.Now()),
			Branding: mail.Branding{OperatorName: "Live Platform"}, PublicBaseURL: "https://portal.example.net"}
	}
	tests := []struct {
		name   string
		change func(*notify.TestMailerDeps)
		ok     bool
	}{
		{"complete", func(*notify.TestMailerDeps) {}, true},
		{"no settings", func(d *notify.TestMailerDeps) { d.Settings = nil }, false},
		{"no renderer", func(d *notify.TestMailerDeps) { d.Renderer = nil }, false},
		{"no sender", func(d *notify.TestMailerDeps) { d.Sender = nil }, false},
		{"no clock", func(d *notify.TestMailerDeps) { d.Clock = nil }, false},
		{"no operator name", func(d *notify.TestMailerDeps) { d.Branding.OperatorName = "" }, false},
		{"relative base URL", func(d *notify.TestMailerDeps) { d.PublicBaseURL = "/portal" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := full()
			tt.change(&d)
			if _, err := notify.NewTestMailer(d); (err == nil) != tt.ok {
				t.Errorf("NewTestMailer() error = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
