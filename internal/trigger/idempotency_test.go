package trigger_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/idempotency"
	"github.com/ocpro/upgrade/internal/trigger"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// countingTenants counts domain calls from many goroutines; each call
// waits for gate, so that concurrent deliveries overlap with it.
type countingTenants struct {
	completed, keepAlives atomic.Int32
	gate                  chan struct{}
	err                   error
}

func (c *countingTenants) AuthenticationCompleted(context.Context, upgrade.AuthenticationCompleted) error {
	c.completed.Add(1)
	<-c.gate
	return c.err
}

func (c *countingTenants) KeepAlive(context.Context) (upgrade.KeepAliveReport, error) {
	c.keepAlives.Add(1)
	<-c.gate
	return upgrade.KeepAliveReport{Checked: 2, Stopped: 1}, c.err
}

func guard(t *testing.T) *idempotency.Guard {
	t.Helper()
	testenv.Integration(t)
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

// TestRedeliveredEventsRunOnce delivers each event trigger's sample four
// times at once and twice more afterwards: the domain is called once, the
// deliveries that met it in progress fail (EventBridge retries them) and
// the later ones succeed without a call.
func TestRedeliveredEventsRunOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		event string
		calls func(*countingTenants) int32
	}{
		{"Authentication Completed", "authentication-completed.json", func(c *countingTenants) int32 { return c.completed.Load() }},
		{"keep-alive schedule", "keep-alive.json", func(c *countingTenants) int32 { return c.keepAlives.Load() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ten := &countingTenants{gate: make(chan struct{})}
			r, err := trigger.New(&fakeHTTP{}, ten, trigger.WithOnce(guard(t)))
			if err != nil {
				t.Fatal(err)
			}
			raw := sample(t, tt.event)
			const concurrent = 4
			errs := make(chan error, concurrent)
			var wg sync.WaitGroup
			for range concurrent {
				wg.Go(func() {
					_, err := r.Handle(t.Context(), raw)
					errs <- err
				})
			}
			// Every delivery but the one in the domain returns by itself.
			for range concurrent - 1 {
				if err := <-errs; !errors.Is(err, idempotency.ErrInProgress) {
					t.Errorf("concurrent delivery: %v, want ErrInProgress", err)
				}
			}
			close(ten.gate)
			wg.Wait()
			if err := <-errs; err != nil {
				t.Errorf("the delivery that ran: %v", err)
			}
			for range 2 {
				if _, err := r.Handle(t.Context(), raw); err != nil {
					t.Errorf("later delivery: %v", err)
				}
			}
			if n := tt.calls(ten); n != 1 {
				t.Errorf("the domain was called %d times, want 1", n)
			}
		})
	}
}

// TestFailedDeliveryIsRetried checks that a delivery whose domain call
// failed leaves the event free for EventBridge's retry.
func TestFailedDeliveryIsRetried(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	close(gate)
	ten := &countingTenants{gate: gate, err: errors.New("Graph unavailable")}
	r, err := trigger.New(&fakeHTTP{}, ten, trigger.WithOnce(guard(t)))
	if err != nil {
		t.Fatal(err)
	}
	raw := sample(t, "authentication-completed.json")
	if _, err := r.Handle(t.Context(), raw); !errors.Is(err, ten.err) {
		t.Fatalf("first delivery: %v, want the domain's error", err)
	}
	ten.err = nil
	if _, err := r.Handle(t.Context(), raw); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := ten.completed.Load(); n != 2 {
		t.Errorf("the domain was called %d times, want 2 (the failure and the retry)", n)
	}
}

// TestOutboxRedeliveryRunsOnce: the pipe may put one outbox item on the
// bus twice, each time in a new envelope with a new envelope id; the
// detail's eventId is the same, so the validation runs once, and the
// domain is told that id.
func TestOutboxRedeliveryRunsOnce(t *testing.T) {
	t.Parallel()
	ten := &countingTenants{gate: make(chan struct{})}
	close(ten.gate)
	r, err := trigger.New(&fakeHTTP{}, ten, trigger.WithOnce(guard(t)))
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(sample(t, "authentication-completed.json"), &e); err != nil {
		t.Fatal(err)
	}
	for _, envelope := range []string{"envelope-1", "envelope-2", "envelope-3"} {
		e["id"] = envelope
		raw, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Handle(t.Context(), raw); err != nil {
			t.Fatalf("delivery in %s: %v", envelope, err)
		}
	}
	if n := ten.completed.Load(); n != 1 {
		t.Errorf("the domain was called %d times for one event, want 1", n)
	}
}
