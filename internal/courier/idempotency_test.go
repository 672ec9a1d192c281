package courier_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/courier"
	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/idempotency"
	"github.com/ocpro/upgrade/internal/notify/notifytest"
)

// guard is the real idempotency Guard on the test's DynamoDB Local table.
func guard(t *testing.T) *idempotency.Guard {
	t.Helper()
	db, table := testenv.DynamoDB(t)
	g, err := idempotency.NewOnTable(db, table, idempotency.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// countingOnce is the real Guard, counting how often it lets work run.
type countingOnce struct {
	g    *idempotency.Guard
	runs atomic.Int32
}

func (c *countingOnce) Run(ctx context.Context, scope, key string, payload []byte, work func(context.Context) error) error {
	return c.g.Run(ctx, scope, key, payload, func(ctx context.Context) error {
		c.runs.Add(1)
		return work(ctx)
	})
}

// TestRedeliveredEventRunsOnce delivers one Invitation Created event five
// times at once and twice more afterwards, as EventBridge may: the handler
// works on it once, the duplicates that met it in progress fail (so that
// EventBridge retries them) and every later one is acknowledged without
// work. One mail goes out.
func TestRedeliveredEventRunsOnce(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	m, _, snd, inv := notifytest.Setup(t, nil)
	once := &countingOnce{g: guard(t)}
	h, err := courier.New(m, courier.WithOnce(once))
	if err != nil {
		t.Fatal(err)
	}
	detail, err := event.Encode(&event.InvitationCreated{InvitationID: inv.ID, OperatorID: inv.OperatorID})
	if err != nil {
		t.Fatal(err)
	}
	ty := event.InvitationCreated{}.Type()
	e := events.CloudWatchEvent{ID: "evt-1", Source: ty.Source, DetailType: ty.DetailType, Detail: detail}

	var wg sync.WaitGroup
	var inProgress atomic.Int32
	for range 5 {
		wg.Go(func() {
			err := h.Handle(t.Context(), e)
			switch {
			case errors.Is(err, idempotency.ErrInProgress):
				inProgress.Add(1)
			case err != nil:
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
	if n := once.runs.Load(); n != 1 {
		t.Errorf("the handler worked on the event %d times, want 1 (%d deliveries met it in progress)", n, inProgress.Load())
	}
	if n := len(snd.To()); n != 1 {
		t.Errorf("sent %d mails, want 1", n)
	}

	// Another event id is other work, even with the same detail.
	e.ID = "evt-2"
	if err := h.Handle(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	if n := once.runs.Load(); n != 2 {
		t.Errorf("a new event id ran the handler %d times in all, want 2", n)
	}
}

// TestRedeliveredTestMailSendsOnce hands the sample Test Mail Requested
// event of events/ to the handler as EventBridge may: three times at once
// and twice more afterwards, through the real idempotency records in
// DynamoDB Local. One test mail goes out.
func TestRedeliveredTestMailSendsOnce(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	m, st, _, _ := notifytest.Setup(t, nil)
	snd := &notifytest.Sender{}
	h, err := courier.New(m, courier.WithOnce(guard(t)), courier.WithTestMailer(notifytest.TestMailer(t, st, snd, io.Discard)))
	if err != nil {
		t.Fatal(err)
	}
	e := sample(t, "test-mail-requested.json")

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
	if to := snd.To(); len(to) != 1 || to[0] != "it-admin@contoso.com" {
		t.Errorf("sent %v, want one mail to it-admin@contoso.com", to)
	}
}

// TestTestMailWithoutTestMailer shows that a handler wired without a
// TestMailer drops the request rather than failing it forever.
func TestTestMailWithoutTestMailer(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	m, _, snd, _ := notifytest.Setup(t, nil)
	h, err := courier.New(m)
	if err != nil {
		t.Fatal(err)
	}
	detail, _ := json.Marshal(map[string]string{"operatorId": "op-1", "to": "it-admin@contoso.com"})
	ty := event.TestMailRequested{}.Type()
	e := events.CloudWatchEvent{ID: "evt-t", Source: ty.Source, DetailType: ty.DetailType, Detail: detail}
	if err := h.Handle(t.Context(), e); err != nil {
		t.Errorf("Handle() = %v, want the event dropped", err)
	}
	if n := len(snd.To()); n != 0 {
		t.Errorf("sent %d mails", n)
	}
}

// TestOutboxRedeliveryRunsOnce: the pipe may put one outbox item on the
// bus twice (a retried batch), each time in a new envelope with a new
// envelope id; the detail's eventId is the same, and the handler works on
// it once. One mail goes out.
func TestOutboxRedeliveryRunsOnce(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	m, _, snd, inv := notifytest.Setup(t, nil)
	once := &countingOnce{g: guard(t)}
	h, err := courier.New(m, courier.WithOnce(once))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := event.NewMessage(&event.InvitationCreated{InvitationID: inv.ID, OperatorID: inv.OperatorID})
	if err != nil {
		t.Fatal(err)
	}
	for _, envelope := range []string{"envelope-1", "envelope-2", "envelope-3"} {
		e := events.CloudWatchEvent{ID: envelope, Source: msg.Source, DetailType: msg.DetailType, Detail: msg.Detail}
		if err := h.Handle(t.Context(), e); err != nil {
			t.Fatalf("delivery in %s: %v", envelope, err)
		}
	}
	if n := once.runs.Load(); n != 1 {
		t.Errorf("the handler worked on one event %d times, want 1", n)
	}
	if n := len(snd.To()); n != 1 {
		t.Errorf("sent %d mails, want 1", n)
	}
}
