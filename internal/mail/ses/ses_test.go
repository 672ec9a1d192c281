package ses

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ocpro/upgrade/internal/mail"
)

// faultySES is a fault-injecting SESClient: it answers with errs in order,
// then accepts every mail.
type faultySES struct {
	mu    sync.Mutex
	errs  []error
	calls []*sesv2.SendEmailInput
	opts  [][]func(*sesv2.Options)
}

func (f *faultySES) SendEmail(_ context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	f.opts = append(f.opts, optFns)
	if n := len(f.calls); n <= len(f.errs) {
		return nil, f.errs[n-1]
	}
	return &sesv2.SendEmailOutput{MessageId: aws.String(fmt.Sprintf("msg-%d", len(f.calls)))}, nil
}

// testSender is a Sender whose clock and sleep are fake: sleeping moves the
// clock on at once, so retries cost no time and their delays can be checked.
type testSender struct {
	*Sender
	logs   *bytes.Buffer
	sleeps []time.Duration
}

func newTestSender(t *testing.T, client SESClient, cfg SenderConfig, now time.Time) *testSender {
	t.Helper()
	ts := &testSender{logs: &bytes.Buffer{}}
	if cfg.From == "" {
		cfg.From = "invitations@mail.example.net"
	}
	if cfg.ConfigurationSet == "" {
		cfg.ConfigurationSet = "invitations"
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(ts.logs, nil))
	s, err := NewSender(client, cfg)
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	s.now = func() time.Time { return now }
	s.jitter = func(d time.Duration) time.Duration { return d }
	s.sleep = func(ctx context.Context, d time.Duration) error {
		ts.sleeps = append(ts.sleeps, d)
		now = now.Add(d)
		return ctx.Err()
	}
	ts.Sender = s
	return ts
}

var testMessage = mail.Message{Subject: "Approve access", HTML: "<p>Hi</p>", Text: "Hi"}

func apiError(code, msg string, fault smithy.ErrorFault) error {
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: fault}
}

func httpError(status int, err error) error {
	return &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      err,
	}
}

func TestSendErrorKinds(t *testing.T) {
	t.Parallel()
	throttle := &types.TooManyRequestsException{Message: aws.String("Maximum sending rate exceeded.")}
	tests := []struct {
		name     string
		errs     []error
		attempts int
		kind     mail.ErrorKind // "" means the mail was accepted
		code     string
		sleeps   []time.Duration
		alarm    bool
	}{
		{name: "accepted", attempts: 1},
		{name: "throttled once then accepted", errs: []error{throttle}, attempts: 2, sleeps: []time.Duration{250 * time.Millisecond}},
		{name: "throttled until attempts run out", errs: []error{throttle, throttle, throttle, throttle}, attempts: 4, kind: mail.ErrorThrottled, code: "TooManyRequestsException",
			sleeps: []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second}},
		{name: "limit exceeded is throttling", errs: []error{&types.LimitExceededException{}}, attempts: 2, sleeps: []time.Duration{250 * time.Millisecond}},
		{name: "untyped Throttling code", errs: []error{apiError("Throttling", "Rate exceeded", smithy.FaultClient)}, attempts: 2, sleeps: []time.Duration{250 * time.Millisecond}},
		{name: "HTTP 429 without a known code", errs: []error{httpError(429, apiError("SlowDown", "", smithy.FaultUnknown))}, attempts: 2, sleeps: []time.Duration{250 * time.Millisecond}},
		{name: "message rejected", errs: []error{&types.MessageRejected{Message: aws.String("Email address is on the suppression list.")}}, attempts: 1, kind: mail.ErrorPermanent, code: "MessageRejected"},
		{name: "mail from domain not verified", errs: []error{&types.MailFromDomainNotVerifiedException{}}, attempts: 1, kind: mail.ErrorPermanent, code: "MailFromDomainNotVerifiedException"},
		{name: "bad request (unverified identity)", errs: []error{&types.BadRequestException{Message: aws.String("Email address is not verified.")}}, attempts: 1, kind: mail.ErrorPermanent, code: "BadRequestException"},
		{name: "identity not found", errs: []error{&types.NotFoundException{}}, attempts: 1, kind: mail.ErrorPermanent, code: "NotFoundException"},
		{name: "untyped MessageRejected code", errs: []error{apiError("MessageRejected", "rejected", smithy.FaultClient)}, attempts: 1, kind: mail.ErrorPermanent, code: "MessageRejected"},
		{name: "unknown 4xx is a refusal", errs: []error{httpError(403, apiError("AccessDeniedException", "not allowed", smithy.FaultClient))}, attempts: 1, kind: mail.ErrorPermanent, code: "AccessDeniedException"},
		{name: "sending paused", errs: []error{&types.SendingPausedException{}}, attempts: 1, kind: mail.ErrorPaused, code: "SendingPausedException", alarm: true},
		{name: "account suspended", errs: []error{&types.AccountSuspendedException{}}, attempts: 1, kind: mail.ErrorPaused, code: "AccountSuspendedException", alarm: true},
		{name: "timeout", errs: []error{fmt.Errorf("operation error SESv2: SendEmail: %w", context.DeadlineExceeded)}, attempts: 1, kind: mail.ErrorUnknown, code: "Unknown"},
		{name: "network error", errs: []error{&net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}}, attempts: 1, kind: mail.ErrorUnknown, code: "Unknown"},
		{name: "server error", errs: []error{httpError(500, &types.InternalServiceErrorException{})}, attempts: 1, kind: mail.ErrorUnknown, code: "InternalServiceErrorException"},
		{name: "untyped 503", errs: []error{httpError(503, apiError("ServiceUnavailable", "", smithy.FaultServer))}, attempts: 1, kind: mail.ErrorUnknown, code: "ServiceUnavailable"},
		{name: "request timeout 408", errs: []error{httpError(408, apiError("RequestTimeout", "", smithy.FaultClient))}, attempts: 1, kind: mail.ErrorUnknown, code: "RequestTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &faultySES{errs: tt.errs}
			s := newTestSender(t, fake, SenderConfig{}, time.Now())
			id, err := s.Send(context.Background(), "admin@contoso.example", testMessage, nil)
			if len(fake.calls) != tt.attempts {
				t.Errorf("SES was asked %d times, want %d", len(fake.calls), tt.attempts)
			}
			if fmt.Sprint(s.sleeps) != fmt.Sprint(tt.sleeps) {
				t.Errorf("slept %v, want %v", s.sleeps, tt.sleeps)
			}
			if tt.kind == "" {
				if err != nil || id != fmt.Sprintf("msg-%d", tt.attempts) {
					t.Fatalf("Send = %q, %v; want the id of attempt %d", id, err, tt.attempts)
				}
				return
			}
			var se *mail.SendError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *mail.SendError", err)
			}
			if se.Kind != tt.kind || se.Code != tt.code || se.Attempts != tt.attempts {
				t.Errorf("got kind %s code %s after %d, want %s %s after %d", se.Kind, se.Code, se.Attempts, tt.kind, tt.code, tt.attempts)
			}
			if mail.KindOf(err) != tt.kind {
				t.Errorf("mail.KindOf = %s, want %s", mail.KindOf(err), tt.kind)
			}
			if se.Message == "" || strings.Contains(se.Message, "SendEmail") {
				t.Errorf("message %q is not for people", se.Message)
			}
			if !errors.Is(err, tt.errs[len(tt.errs)-1]) && tt.kind != mail.ErrorUnknown {
				t.Errorf("the SES error is not wrapped: %v", err)
			}
			if got := strings.Contains(s.logs.String(), `"alarm":"ses_sending_paused"`); got != tt.alarm {
				t.Errorf("alarm logged = %v, want %v; logs:\n%s", got, tt.alarm, s.logs)
			}
		})
	}
}

func TestSendRespectsDeadline(t *testing.T) {
	t.Parallel()
	throttle := &types.TooManyRequestsException{}
	deadline := time.Now().Add(time.Hour)
	tests := []struct {
		name     string
		now      time.Time
		attempts int
	}{
		{"no time for a retry", deadline.Add(-100 * time.Millisecond), 1},
		{"time for one retry only", deadline.Add(-600 * time.Millisecond), 2},
		{"time for every retry", deadline.Add(-time.Minute), 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &faultySES{errs: []error{throttle, throttle, throttle, throttle}}
			s := newTestSender(t, fake, SenderConfig{}, tt.now)
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			defer cancel()
			_, err := s.Send(ctx, "admin@contoso.example", testMessage, nil)
			if mail.KindOf(err) != mail.ErrorThrottled {
				t.Fatalf("err = %v, want throttled", err)
			}
			if len(fake.calls) != tt.attempts {
				t.Errorf("SES was asked %d times, want %d", len(fake.calls), tt.attempts)
			}
		})
	}
}

func TestSendStopsWhenContextEndsDuringBackoff(t *testing.T) {
	t.Parallel()
	fake := &faultySES{errs: []error{&types.TooManyRequestsException{}}}
	s := newTestSender(t, fake, SenderConfig{}, time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	s.sleep = func(context.Context, time.Duration) error {
		cancel()
		return context.Canceled
	}
	_, err := s.Send(ctx, "admin@contoso.example", testMessage, nil)
	if mail.KindOf(err) != mail.ErrorThrottled || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want throttled and canceled", err)
	}
	if len(fake.calls) != 1 {
		t.Errorf("SES was asked %d times, want 1", len(fake.calls))
	}
}

func TestSendBuildsRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cfg       SenderConfig
		msg       mail.Message
		tags      map[string]string
		wantFrom  string
		wantReply []string
		wantTags  string
	}{
		{
			name:     "ASCII sender name is quoted",
			cfg:      SenderConfig{SenderName: "Live Platform"},
			msg:      testMessage,
			tags:     map[string]string{"kind": "welcome", "invitationId": "inv_01J8"},
			wantFrom: `"Live Platform" <invitations@mail.example.net>`,
			wantTags: "invitationId=inv_01J8 kind=welcome",
		},
		{
			name:     "non-ASCII sender name is RFC 2047 encoded",
			cfg:      SenderConfig{SenderName: "Zürich Télécom"},
			msg:      testMessage,
			wantFrom: "=?utf-8?q?Z=C3=BCrich_T=C3=A9l=C3=A9com?= <invitations@mail.example.net>",
			wantTags: "",
		},
		{
			name:      "message overrides sender name and reply-to",
			cfg:       SenderConfig{SenderName: "Live Platform", ReplyTo: "noreply@example.net"},
			msg:       mail.Message{Subject: "S", Text: "T", SenderName: "Contoso IT", ReplyTo: "it@contoso.example"},
			wantFrom:  `"Contoso IT" <invitations@mail.example.net>`,
			wantReply: []string{"it@contoso.example"},
		},
		{
			name:      "configured reply-to by default",
			cfg:       SenderConfig{ReplyTo: "help@example.net"},
			msg:       testMessage,
			wantFrom:  "<invitations@mail.example.net>",
			wantReply: []string{"help@example.net"},
		},
		{
			name:     "tag characters SES refuses are replaced",
			msg:      testMessage,
			tags:     map[string]string{"operator id": "op/1:ä", "": "dropped", "empty": ""},
			wantFrom: "<invitations@mail.example.net>",
			wantTags: "empty=_ operator_id=op_1__",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &faultySES{}
			s := newTestSender(t, fake, tt.cfg, time.Now())
			if _, err := s.Send(context.Background(), "admin@contoso.example", tt.msg, tt.tags); err != nil {
				t.Fatalf("Send: %v", err)
			}
			in := fake.calls[0]
			if got := aws.ToString(in.FromEmailAddress); got != tt.wantFrom {
				t.Errorf("From = %q, want %q", got, tt.wantFrom)
			}
			if fmt.Sprint(in.ReplyToAddresses) != fmt.Sprint(tt.wantReply) {
				t.Errorf("ReplyTo = %v, want %v", in.ReplyToAddresses, tt.wantReply)
			}
			var tags []string
			for _, tag := range in.EmailTags {
				tags = append(tags, aws.ToString(tag.Name)+"="+aws.ToString(tag.Value))
			}
			if got := strings.Join(tags, " "); got != tt.wantTags {
				t.Errorf("tags = %q, want %q", got, tt.wantTags)
			}
			if aws.ToString(in.ConfigurationSetName) != "invitations" {
				t.Errorf("configuration set = %q", aws.ToString(in.ConfigurationSetName))
			}
			if fmt.Sprint(in.Destination.ToAddresses) != "[admin@contoso.example]" {
				t.Errorf("to = %v", in.Destination.ToAddresses)
			}
			simple := in.Content.Simple
			if aws.ToString(simple.Subject.Charset) != "UTF-8" || aws.ToString(simple.Body.Text.Charset) != "UTF-8" {
				t.Error("charset is not UTF-8")
			}
			if (simple.Body.Html != nil) != (tt.msg.HTML != "") {
				t.Errorf("HTML part present = %v, want %v", simple.Body.Html != nil, tt.msg.HTML != "")
			}
			// Send must switch off the SDK's retries for every call.
			var o sesv2.Options
			for _, fn := range fake.opts[0] {
				fn(&o)
			}
			if _, ok := o.Retryer.(aws.NopRetryer); !ok {
				t.Errorf("per-call retryer = %T, want aws.NopRetryer", o.Retryer)
			}
		})
	}
}

func TestSendRefusesBadInputWithoutCallingSES(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		to   string
		msg  mail.Message
		code string
	}{
		{"recipient with display name", "Admin <admin@contoso.example>", testMessage, "InvalidRecipient"},
		{"two recipients", "a@contoso.example,b@contoso.example", testMessage, "InvalidRecipient"},
		{"recipient header injection", "a@contoso.example\r\nBcc: x@evil.example", testMessage, "InvalidRecipient"},
		{"empty subject", "a@contoso.example", mail.Message{Text: "x"}, "InvalidMessage"},
		{"subject with newline", "a@contoso.example", mail.Message{Subject: "a\nBcc: x", Text: "x"}, "InvalidMessage"},
		{"no content", "a@contoso.example", mail.Message{Subject: "s"}, "InvalidMessage"},
		{"sender name with brackets", "a@contoso.example", mail.Message{Subject: "s", Text: "x", SenderName: "x <y@z>"}, "InvalidSender"},
		{"reply-to list", "a@contoso.example", mail.Message{Subject: "s", Text: "x", ReplyTo: "a@x.example, b@x.example"}, "InvalidReplyTo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &faultySES{}
			s := newTestSender(t, fake, SenderConfig{}, time.Now())
			_, err := s.Send(context.Background(), tt.to, tt.msg, nil)
			var se *mail.SendError
			if !errors.As(err, &se) || se.Kind != mail.ErrorPermanent || se.Code != tt.code {
				t.Fatalf("err = %v, want permanent %s", err, tt.code)
			}
			if len(fake.calls) != 0 {
				t.Errorf("SES was called %d times", len(fake.calls))
			}
		})
	}
}

func TestNewSenderChecksConfig(t *testing.T) {
	t.Parallel()
	valid := SenderConfig{From: "invitations@mail.example.net", ConfigurationSet: "invitations"}
	tests := []struct {
		name   string
		client SESClient
		modify func(*SenderConfig)
		ok     bool
	}{
		{"valid", &faultySES{}, func(*SenderConfig) {}, true},
		{"nil client", nil, func(*SenderConfig) {}, false},
		{"no from", &faultySES{}, func(c *SenderConfig) { c.From = "" }, false},
		{"from with display name", &faultySES{}, func(c *SenderConfig) { c.From = "Op <a@b.example>" }, false},
		{"bad sender name", &faultySES{}, func(c *SenderConfig) { c.SenderName = "a\nb" }, false},
		{"bad reply-to", &faultySES{}, func(c *SenderConfig) { c.ReplyTo = "nope" }, false},
		{"no configuration set", &faultySES{}, func(c *SenderConfig) { c.ConfigurationSet = "" }, false},
		{"negative attempts", &faultySES{}, func(c *SenderConfig) { c.MaxAttempts = -1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tt.modify(&cfg)
			_, err := NewSender(tt.client, cfg)
			if (err == nil) != tt.ok {
				t.Errorf("NewSender err = %v, want ok = %v", err, tt.ok)
			}
		})
	}
}

// TestSendThroughSDK runs the real sesv2 client against a fake SES HTTP
// endpoint: the SDK's own error decoding feeds the classification, and the
// request count shows that the SDK does not retry behind Send's back.
func TestSendThroughSDK(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		errorType string
		requests  int64
		kind      mail.ErrorKind
	}{
		{"accepted", http.StatusOK, "", 1, ""},
		{"message rejected", http.StatusBadRequest, "MessageRejected", 1, mail.ErrorPermanent},
		{"not found", http.StatusNotFound, "NotFoundException", 1, mail.ErrorPermanent},
		{"sending paused", http.StatusBadRequest, "SendingPausedException", 1, mail.ErrorPaused},
		{"throttled on every attempt", http.StatusTooManyRequests, "TooManyRequestsException", 4, mail.ErrorThrottled},
		{"server error is not retried", http.StatusInternalServerError, "InternalServiceErrorException", 1, mail.ErrorUnknown},
		{"bare 503 is not retried", http.StatusServiceUnavailable, "", 1, mail.ErrorUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var requests atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				w.Header().Set("Content-Type", "application/json")
				if tt.errorType != "" {
					w.Header().Set("X-Amzn-ErrorType", tt.errorType)
				}
				w.WriteHeader(tt.status)
				if tt.status == http.StatusOK {
					fmt.Fprint(w, `{"MessageId":"0100018f-sdk"}`)
					return
				}
				fmt.Fprint(w, `{"message":"refused for the test"}`)
			}))
			defer srv.Close()
			client := sesv2.New(sesv2.Options{
				Region:       "eu-west-1",
				Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
				BaseEndpoint: aws.String(srv.URL),
			})
			s := newTestSender(t, client, SenderConfig{}, time.Now())
			id, err := s.Send(context.Background(), "admin@contoso.example", testMessage, map[string]string{"kind": "welcome"})
			if got := requests.Load(); got != tt.requests {
				t.Errorf("SES got %d requests, want %d", got, tt.requests)
			}
			if tt.kind == "" {
				if err != nil || id != "0100018f-sdk" {
					t.Fatalf("Send = %q, %v", id, err)
				}
				return
			}
			if mail.KindOf(err) != tt.kind {
				t.Fatalf("err = %v, kind %s; want %s", err, mail.KindOf(err), tt.kind)
			}
		})
	}
}
