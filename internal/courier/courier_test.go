package courier_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/internal/courier"
	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/notify"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// recorder is the use case as the handler sees it: it records every call.
type recorder struct {
	mu         sync.Mutex
	requests   []upgrade.MailRequest
	deliveries []notify.Delivery
	tests      []notify.TestMail
}

func (r *recorder) Deliver(_ context.Context, m upgrade.MailRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, m)
	return nil
}

func (r *recorder) RecordDelivery(_ context.Context, d notify.Delivery) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliveries = append(r.deliveries, d)
	return nil
}

func (r *recorder) Send(_ context.Context, m notify.TestMail) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tests = append(r.tests, m)
	return nil
}

func (r *recorder) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests) + len(r.deliveries) + len(r.tests)
}

// sample reads a sample event of events/invitationemail. The ocpro.*
// samples are written by internal/store's golden test from what the
// outbox carries through the template's pipe; the aws.ses ones are SES's
// shape.
func sample(t *testing.T, name string) events.CloudWatchEvent {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "invitationemail", name))
	if err != nil {
		t.Fatal(err)
	}
	var e events.CloudWatchEvent
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestSamplesReachTheUseCase hands every sample event of the function to
// the real handler: each makes exactly one call of the use case, with the
// fields the sender put.
func TestSamplesReachTheUseCase(t *testing.T) {
	t.Parallel()
	const msg = "0102018f-example-message-id"
	tests := []struct {
		file     string
		request  *upgrade.MailRequest
		test     *notify.TestMail
		delivery string
	}{
		// Invitation Created means the Welcome mail of the current
		// generation, which the use case reads as generation 0.
		{file: "invitation-created.json", request: &upgrade.MailRequest{InvitationID: "01jexampleinvitation", OperatorID: "op-1",
			Mail: upgrade.MailWelcome}},
		{file: "invitation-mail-requested.json", request: &upgrade.MailRequest{InvitationID: "01jexampleinvitation", OperatorID: "op-1",
			Generation: 1, Mail: upgrade.ReminderMail(1)}},
		{file: "test-mail-requested.json", test: &notify.TestMail{OperatorID: "op-1", To: "it-admin@contoso.com", RequestID: "Jx1AbCdEfGhIjK="}},
		{file: "email-delivered.json", delivery: upgrade.DeliveryDelivered},
		{file: "email-bounced.json", delivery: upgrade.DeliveryBounced},
		{file: "email-complaint-received.json", delivery: upgrade.DeliveryComplained},
		{file: "email-rejected.json", delivery: upgrade.DeliveryRejected},
		{file: "email-delivery-delayed.json", delivery: upgrade.DeliveryDelayed},
		{file: "email-rendering-failed.json", delivery: upgrade.DeliveryFailed},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			h, err := courier.New(rec, courier.WithTestMailer(rec))
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Handle(t.Context(), sample(t, tt.file)); err != nil {
				t.Fatalf("Handle() = %v", err)
			}
			if rec.calls() != 1 {
				t.Fatalf("%d calls of the use case, want 1: %+v", rec.calls(), rec)
			}
			switch {
			case tt.request != nil:
				if len(rec.requests) != 1 || rec.requests[0] != *tt.request {
					t.Errorf("Deliver(%+v), want %+v", rec.requests, *tt.request)
				}
			case tt.test != nil:
				if len(rec.tests) != 1 || rec.tests[0] != *tt.test {
					t.Errorf("Send(%+v), want %+v", rec.tests, *tt.test)
				}
			default:
				if len(rec.deliveries) != 1 {
					t.Fatalf("RecordDelivery not called: %+v", rec)
				}
				d := rec.deliveries[0]
				if d.Status != tt.delivery || d.MessageID != msg || d.At.IsZero() {
					t.Errorf("RecordDelivery(%+v), want status %s of %s", d, tt.delivery, msg)
				}
				if d.Status != upgrade.DeliveryDelivered && d.Reason == "" {
					t.Errorf("RecordDelivery(%+v) without a reason for the operator", d)
				}
			}
		})
	}
}

// TestBadEvents: a detail that will never decode is dropped (an error
// would only bring it back), while one of a schema version this build does
// not read is returned as an error, so that EventBridge keeps it until a
// receiver that reads it is deployed. SES events that change no status
// are ignored.
func TestBadEvents(t *testing.T) {
	t.Parallel()
	created, requested, testMail := event.InvitationCreated{}.Type(), event.InvitationMailRequested{}.Type(), event.TestMailRequested{}.Type()
	ev := func(ty event.Type, detail string) events.CloudWatchEvent {
		return events.CloudWatchEvent{ID: "evt-bad", Source: ty.Source, DetailType: ty.DetailType, Detail: json.RawMessage(detail)}
	}
	tests := []struct {
		name    string
		e       events.CloudWatchEvent
		wantErr error
	}{
		{"created, not an object", ev(created, `[1]`), nil},
		{"created without invitation", ev(created, `{"operatorId":"op-1"}`), nil},
		{"requested without invitation", ev(requested, `{"operatorId":"op-1","generation":1,"mail":"reminder-1"}`), nil},
		{"requested of an unknown kind", ev(requested, `{"invitationId":"i1","generation":1,"mail":"reminder-9x"}`), nil},
		{"test mail without recipient", ev(testMail, `{"operatorId":"op-1"}`), nil},
		{"test mail with a recipient of the wrong type", ev(testMail, `{"operatorId":"op-1","to":["a@b.example"]}`), nil},
		{"created of a newer schema", ev(created, `{"schemaVersion":2,"invitationId":"i1"}`), event.ErrVersion},
		{"requested of a newer schema", ev(requested, `{"schemaVersion":2,"invitationId":"i1","mail":"welcome"}`), event.ErrVersion},
		{"test mail of a newer schema", ev(testMail, `{"schemaVersion":2,"operatorId":"op-1","to":"a@b.example"}`), event.ErrVersion},
		{"SES send event", events.CloudWatchEvent{ID: "evt-ses", Source: event.SourceSES, DetailType: "Email Sent",
			Detail: json.RawMessage(`{"eventType":"Send","mail":{"messageId":"m1"}}`)}, nil},
		{"SES event without message", events.CloudWatchEvent{ID: "evt-ses", Source: event.SourceSES, DetailType: "Email Delivered",
			Detail: json.RawMessage(`{"eventType":"Delivery","delivery":{}}`)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			h, err := courier.New(rec, courier.WithTestMailer(rec))
			if err != nil {
				t.Fatal(err)
			}
			err = h.Handle(t.Context(), tt.e)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Handle() = %v, want %v", err, tt.wantErr)
			}
			if rec.calls() != 0 {
				t.Errorf("a bad event reached the use case: %+v", rec)
			}
		})
	}
}

// refusingOnce fails the test if the handler asks for an idempotency
// record.
type refusingOnce struct{ t *testing.T }

func (r refusingOnce) Run(context.Context, string, string, []byte, func(context.Context) error) error {
	r.t.Error("an event the handler does not act on asked for an idempotency record")
	return nil
}

// TestUnexpectedEventCostsNoRecord: an event that no route of the handler
// takes (another source, another detail type, a test mail with no test
// mailer wired) is dropped before the idempotency record, so it costs no
// DynamoDB write and cannot fail on one.
func TestUnexpectedEventCostsNoRecord(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h, err := courier.New(rec, courier.WithOnce(refusingOnce{t}))
	if err != nil {
		t.Fatal(err)
	}
	testMail := event.TestMailRequested{}.Type()
	for _, e := range []events.CloudWatchEvent{
		{ID: "evt-other", Source: "ocpro.bench", DetailType: "Bench Probe", Detail: json.RawMessage(`{}`)},
		{ID: "evt-type", Source: event.SourceUpgrades, DetailType: event.ServiceUpgraded{}.Type().DetailType, Detail: json.RawMessage(`{}`)},
		{ID: "evt-source", Source: event.SourceConsent, DetailType: event.InvitationCreated{}.Type().DetailType, Detail: json.RawMessage(`{}`)},
		{ID: "evt-test", Source: testMail.Source, DetailType: testMail.DetailType,
			Detail: json.RawMessage(`{"operatorId":"op-1","to":"it-admin@contoso.com"}`)},
	} {
		if err := h.Handle(t.Context(), e); err != nil {
			t.Errorf("%s/%s: %v", e.Source, e.DetailType, err)
		}
	}
	if rec.calls() != 0 {
		t.Errorf("events nobody asked for reached the use case: %+v", rec)
	}
}

func TestNewChecksDependencies(t *testing.T) {
	t.Parallel()
	if _, err := courier.New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	if _, err := courier.New(&recorder{}, courier.WithLogger(nil)); err == nil {
		t.Error("New(WithLogger(nil)) succeeded")
	}
	h, err := courier.New(&recorder{})
	if err != nil || reflect.ValueOf(h).IsNil() {
		t.Errorf("New() = %v, %v", h, err)
	}
}

// FuzzHandle feeds any detail to every route of the handler: it never
// panics, and the only error it returns is for a schema version this build
// does not read; whatever else is wrong with a detail is dropped.
func FuzzHandle(f *testing.F) {
	for _, name := range []string{"invitation-created.json", "invitation-mail-requested.json", "test-mail-requested.json",
		"email-bounced.json", "email-delivery-delayed.json", "email-rendering-failed.json"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "events", "invitationemail", name))
		if err != nil {
			f.Fatal(err)
		}
		var e events.CloudWatchEvent
		if err := json.Unmarshal(raw, &e); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(e.Detail))
	}
	f.Add([]byte(`{"schemaVersion":3}`))
	types := []event.Type{event.InvitationCreated{}.Type(), event.InvitationMailRequested{}.Type(), event.TestMailRequested{}.Type(),
		{Source: event.SourceSES, DetailType: "Email Bounced"}}
	f.Fuzz(func(t *testing.T, detail []byte) {
		rec := &recorder{}
		h, err := courier.New(rec, courier.WithTestMailer(rec))
		if err != nil {
			t.Fatal(err)
		}
		for _, ty := range types {
			e := events.CloudWatchEvent{ID: "evt-fuzz", Source: ty.Source, DetailType: ty.DetailType, Detail: detail}
			if err := h.Handle(context.Background(), e); err != nil && !errors.Is(err, event.ErrVersion) {
				t.Errorf("%s: Handle(%q) = %v", ty.DetailType, detail, err)
			}
		}
		for _, d := range rec.deliveries {
			if d.MessageID == "" || len(d.Reason) > 500 {
				t.Errorf("RecordDelivery(%+v) from %q", d, detail)
			}
		}
	})
}
