package schedule_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/idempotency"
	"github.com/ocpro/upgrade/internal/schedule"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/sweep"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// sample reads the schedule's sample event of events/invitationreminders.
func sample(t *testing.T) events.CloudWatchEvent {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "invitationreminders", "scheduled-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e events.CloudWatchEvent
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// fakeSweeper counts its runs and fails them with err.
type fakeSweeper struct {
	runs atomic.Int32
	err  error
}

func (f *fakeSweeper) Run(context.Context) (sweep.Result, error) {
	f.runs.Add(1)
	return sweep.Result{Partitions: 1, Complete: f.err == nil}, f.err
}

// TestSampleEventRunsASweep: the schedule's sample event runs one sweep,
// and a failed sweep is an error, so that the scheduler retries it.
func TestSampleEventRunsASweep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
	}{
		{"sweep completes", nil},
		{"sweep fails", errors.New("DynamoDB throttled")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &fakeSweeper{err: tt.err}
			h, err := schedule.New(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Handle(t.Context(), sample(t)); !errors.Is(err, tt.err) {
				t.Errorf("Handle() = %v, want %v", err, tt.err)
			}
			if n := s.runs.Load(); n != 1 {
				t.Errorf("%d sweeps ran, want 1", n)
			}
		})
	}
}

func TestNewChecksDependencies(t *testing.T) {
	t.Parallel()
	if _, err := schedule.New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	if _, err := schedule.New(&fakeSweeper{}, schedule.WithLogger(nil)); err == nil {
		t.Error("New(WithLogger(nil)) succeeded")
	}
}

// countingStore counts the sweeps that started.
type countingStore struct {
	*store.Store
	runs atomic.Int32
}

func (c *countingStore) DuePartitions(ctx context.Context, now time.Time) ([]string, error) {
	c.runs.Add(1)
	return c.Store.DuePartitions(ctx, now)
}

// TestRedeliveredScheduleEventSweepsOnce delivers one schedule event three
// times at once and once more afterwards, through the real sweep and the
// real idempotency records in DynamoDB Local: one sweep runs.
func TestRedeliveredScheduleEventSweepsOnce(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	db, table := testenv.DynamoDB(t)
	base, err := store.New(db, table)
	if err != nil {
		t.Fatal(err)
	}
	st := &countingStore{Store: base}
	g, err := idempotency.NewOnTable(db, table, idempotency.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pace, perr := sweep.NewFixedPacer(0)
	if perr != nil {
		t.Fatal(perr)
	}
	s, err := sweep.New(st, pace, upgrade.SystemClock{}, nil,
		sweep.Config{Reminders: upgrade.ReminderPolicy{Offsets: upgrade.DefaultReminderOffsets}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := schedule.New(s, schedule.WithOnce(g))
	if err != nil {
		t.Fatal(err)
	}
	e := sample(t)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := h.Handle(t.Context(), e); err != nil && !errors.Is(err, idempotency.ErrInProgress) {
				t.Errorf("delivery: %v", err)
			}
		})
	}
	wg.Wait()
	if err := h.Handle(t.Context(), e); err != nil {
		t.Errorf("later delivery: %v", err)
	}
	if n := st.runs.Load(); n != 1 {
		t.Errorf("%d sweeps ran, want 1", n)
	}
	e.ID = "schedule-2"
	if err := h.Handle(t.Context(), e); err != nil || st.runs.Load() != 2 {
		t.Errorf("the next schedule event: %v, %d sweeps in all; want a second sweep", err, st.runs.Load())
	}
}
