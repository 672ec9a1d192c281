package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/idempotency"
	"github.com/ocpro/upgrade/internal/notify"
)

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
	m, _, snd, inv := setup(t, nil)
	db, table := testenv.DynamoDB(t)
	p, err := idempotency.NewDynamo(db, table)
	if err != nil {
		t.Fatal(err)
	}
	g, err := idempotency.New(p, idempotency.Config{})
	if err != nil {
		t.Fatal(err)
	}
	once := &countingOnce{g: g}
	h, err := notify.NewEventHandler(m, notify.WithOnce(once))
	if err != nil {
		t.Fatal(err)
	}
	detail, _ := json.Marshal(map[string]any{"invitationId": inv.ID, "operatorId": inv.OperatorID})
	e := events.CloudWatchEvent{ID: "evt-1", Source: notify.SourceUpgrades, DetailType: notify.DetailTypeInvitationCreated, Detail: detail}

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
	if len(snd.sent) != 1 {
		t.Errorf("sent %d mails, want 1", len(snd.sent))
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
	m, _, snd, _ := setup(t, nil)
	h, err := notify.NewEventHandler(m, notify.WithOnce(refusingOnce{t}))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []events.CloudWatchEvent{
		{ID: "evt-other", Source: "ocpro.bench", DetailType: "Bench Probe", Detail: json.RawMessage(`{}`)},
		{ID: "evt-type", Source: notify.SourceUpgrades, DetailType: "Service Upgraded", Detail: json.RawMessage(`{}`)},
		{ID: "evt-test", Source: notify.SourceUpgrades, DetailType: notify.DetailTypeTestMailRequested, Detail: json.RawMessage(`{}`)},
	} {
		if err := h.Handle(t.Context(), e); err != nil {
			t.Errorf("%s/%s: %v", e.Source, e.DetailType, err)
		}
	}
	if len(snd.sent) != 0 {
		t.Errorf("sent %d mails for events nobody asked for", len(snd.sent))
	}
}
