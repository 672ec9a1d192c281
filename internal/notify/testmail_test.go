package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/idempotency"
	"github.com/ocpro/upgrade/internal/mail"
	"github.com/ocpro/upgrade/internal/mail/layout"
	"github.com/ocpro/upgrade/internal/notify"
)

// savedSettings is a SettingsReader over a map.
type savedSettings map[string]mail.Settings

func (s savedSettings) EmailSettings(_ context.Context, op string) (mail.Settings, bool, error) {
	v, ok := s[op]
	return v, ok, nil
}

// captureSender keeps every mail it is asked to send, or fails with err.
type captureSender struct {
	mu   sync.Mutex
	err  error
	to   []string
	msgs []mail.Message
}

func (c *captureSender) Send(_ context.Context, to string, msg mail.Message, _ map[string]string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return "", c.err
	}
	c.to, c.msgs = append(c.to, to), append(c.msgs, msg)
	return "msg-test", nil
}

func (c *captureSender) sent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.to)
}

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

func newTestMailer(t *testing.T, settings notify.SettingsReader, snd notify.Sender, logs *syncBuffer) *notify.TestMailer {
	t.Helper()
	r := layout.NewRenderer()
	tm, err := notify.NewTestMailer(notify.TestMailerDeps{Settings: settings, Renderer: r, Sender: snd,
		Clock: fixedClock(time.Date(2026, 11, 29, 17, 45, 0, 0, time.UTC)), Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Branding: mail.Branding{OperatorName: "Live Platform"}, PublicBaseURL: "https://portal.example.net", InvitationTTL: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tm
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
			snd := &captureSender{err: tt.err}
			logs := &syncBuffer{}
			tm := newTestMailer(t, savedSettings{}, snd, logs)
			err := tm.Send(t.Context(), notify.TestMail{OperatorID: "op-1", To: "it-admin@contoso.com", RequestID: "req-1"})
			if (err != nil) != tt.wantRetry {
				t.Fatalf("Send() = %v, want retry %v", err, tt.wantRetry)
			}
			if tt.wantRetry && !errors.Is(err, notify.ErrSendLater) {
				t.Errorf("Send() = %v, want ErrSendLater", err)
			}
			if snd.sent() != tt.wantSent {
				t.Errorf("sent %d mails, want %d", snd.sent(), tt.wantSent)
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
		{"saved settings", "op-own", "[Test] Approve Contoso Teams Calling (example) now", "Live Platform Voice", "support@liveplatform.example"},
		{"defaults", "op-new", "[Test] Live Platform: approve Microsoft Teams calling for Contoso (example)", "Live Platform", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snd := &captureSender{}
			tm := newTestMailer(t, savedSettings{"op-own": own}, snd, &syncBuffer{})
			if err := tm.Send(t.Context(), notify.TestMail{OperatorID: tt.operator, To: "me@operator.example"}); err != nil {
				t.Fatal(err)
			}
			if snd.sent() != 1 {
				t.Fatalf("sent %d mails, want 1", snd.sent())
			}
			msg := snd.msgs[0]
			if snd.to[0] != "me@operator.example" || msg.Subject != tt.wantSubject || msg.SenderName != tt.wantSender || msg.ReplyTo != tt.want {
				t.Errorf("sent to %s: subject %q, sender %q, reply-to %q", snd.to[0], msg.Subject, msg.SenderName, msg.ReplyTo)
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
		return notify.TestMailerDeps{Settings: savedSettings{}, Renderer: r, Sender: &captureSender{}, Clock: fixedClock(time.Now()),
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

// TestRedeliveredTestMailSendsOnce hands the sample Test Mail Requested
// event of events/ to the handler as EventBridge may: three times at once
// and twice more afterwards, through the real idempotency records in
// DynamoDB Local. One test mail goes out.
func TestRedeliveredTestMailSendsOnce(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	m, st, _, _ := setup(t, nil)
	snd := &captureSender{}
	h, err := notify.NewEventHandler(m, notify.WithOnce(newGuard(t)), notify.WithTestMailer(newTestMailer(t, st, snd, &syncBuffer{})))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "invitationemail", "test-mail-requested.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e events.CloudWatchEvent
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	if e.Source != notify.SourceUpgrades || e.DetailType != notify.DetailTypeTestMailRequested {
		t.Fatalf("sample event is %s / %s", e.Source, e.DetailType)
	}

	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := h.Handle(t.Context(), e); err != nil && !errors.Is(err, idempotency.ErrInProgress) {
				t.Errorf("concurrent delivery: %v", err)
			}
		})
	}
	wg.Wait()
	for range 2 {
		if err := h.Handle(t.Context(), e); err != nil {
			t.Errorf("later delivery: %v", err)
		}
	}
	if snd.sent() != 1 || snd.to[0] != "it-admin@contoso.com" {
		t.Errorf("sent %v, want one mail to it-admin@contoso.com", snd.to)
	}
}

// TestTestMailWithoutTestMailer shows that a handler wired without a
// TestMailer drops the request rather than failing it forever.
func TestTestMailWithoutTestMailer(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	m, _, snd, _ := setup(t, nil)
	h, err := notify.NewEventHandler(m)
	if err != nil {
		t.Fatal(err)
	}
	detail, _ := json.Marshal(map[string]string{"operatorId": "op-1", "to": "it-admin@contoso.com"})
	e := events.CloudWatchEvent{ID: "evt-t", Source: notify.SourceUpgrades, DetailType: notify.DetailTypeTestMailRequested, Detail: detail}
	if err := h.Handle(t.Context(), e); err != nil {
		t.Errorf("Handle() = %v, want the event dropped", err)
	}
	if len(snd.sent) != 0 {
		t.Errorf("sent %d mails", len(snd.sent))
	}
}

func newGuard(t *testing.T) *idempotency.Guard {
	t.Helper()
	db, table := testenv.DynamoDB(t)
	p, err := idempotency.NewDynamo(db, table)
	if err != nil {
		t.Fatal(err)
	}
	g, err := idempotency.New(p, idempotency.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}
