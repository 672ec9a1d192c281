package idempotency_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/idempotency"
)

// clock is a settable clock shared by the guards of one test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newGuard returns a Guard on a fresh DynamoDB Local table.
func newGuard(t *testing.T, c *clock) (*idempotency.Guard, *idempotency.Dynamo) {
	t.Helper()
	testenv.Integration(t)
	db, table := testenv.DynamoDB(t)
	p, err := idempotency.NewDynamo(db, table)
	if err != nil {
		t.Fatal(err)
	}
	g, err := idempotency.New(p, idempotency.Config{Expiry: time.Hour, InProgressTimeout: time.Minute, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return g, p
}

// counter is work that counts its runs and returns its run number.
type counter struct{ n atomic.Int32 }

func (c *counter) work(context.Context) ([]byte, error) {
	n := c.n.Add(1)
	return []byte{byte(n)}, nil
}

func TestDo(t *testing.T) {
	t.Parallel()
	fail := errors.New("boom")
	tests := []struct {
		name string
		// second runs after a first Do of scope "s", key "k", payload "p"
		// whose work ran once; it returns the second call's outcome.
		second      func(ctx context.Context, g *idempotency.Guard, c *clock, w *counter) ([]byte, bool, error)
		wantRuns    int32
		wantResult  []byte
		wantReplay  bool
		wantErr     error
		failFirstDo bool
	}{
		{name: "same key and payload replays the result", wantRuns: 1, wantResult: []byte{1}, wantReplay: true,
			second: func(ctx context.Context, g *idempotency.Guard, _ *clock, w *counter) ([]byte, bool, error) {
				return g.Do(ctx, "s", "k", []byte("p"), w.work)
			}},
		{name: "same key with another payload is refused", wantRuns: 1, wantErr: idempotency.ErrPayloadMismatch,
			second: func(ctx context.Context, g *idempotency.Guard, _ *clock, w *counter) ([]byte, bool, error) {
				return g.Do(ctx, "s", "k", []byte("other"), w.work)
			}},
		{name: "another scope is another key", wantRuns: 2, wantResult: []byte{2},
			second: func(ctx context.Context, g *idempotency.Guard, _ *clock, w *counter) ([]byte, bool, error) {
				return g.Do(ctx, "other", "k", []byte("p"), w.work)
			}},
		{name: "an expired record is ignored", wantRuns: 2, wantResult: []byte{2},
			second: func(ctx context.Context, g *idempotency.Guard, c *clock, w *counter) ([]byte, bool, error) {
				c.Advance(time.Hour + time.Second)
				return g.Do(ctx, "s", "k", []byte("p"), w.work)
			}},
		{name: "a record just before expiry still replays", wantRuns: 1, wantResult: []byte{1}, wantReplay: true,
			second: func(ctx context.Context, g *idempotency.Guard, c *clock, w *counter) ([]byte, bool, error) {
				c.Advance(time.Hour - time.Second)
				return g.Do(ctx, "s", "k", []byte("p"), w.work)
			}},
		{name: "failed work is released and runs again", failFirstDo: true, wantRuns: 2, wantResult: []byte{2},
			second: func(ctx context.Context, g *idempotency.Guard, _ *clock, w *counter) ([]byte, bool, error) {
				return g.Do(ctx, "s", "k", []byte("p"), w.work)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &clock{now: time.Now()}
			g, _ := newGuard(t, c)
			w := &counter{}
			first := w.work
			if tt.failFirstDo {
				first = func(ctx context.Context) ([]byte, error) {
					w.work(ctx)
					return nil, fail
				}
			}
			if _, _, err := g.Do(t.Context(), "s", "k", []byte("p"), first); tt.failFirstDo != errors.Is(err, fail) {
				t.Fatalf("first Do: %v", err)
			}
			got, replayed, err := tt.second(t.Context(), g, c, w)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("second Do error = %v, want %v", err, tt.wantErr)
			}
			if string(got) != string(tt.wantResult) || replayed != tt.wantReplay {
				t.Errorf("second Do = %v, replayed %v; want %v, %v", got, replayed, tt.wantResult, tt.wantReplay)
			}
			if n := w.n.Load(); n != tt.wantRuns {
				t.Errorf("work ran %d times, want %d", n, tt.wantRuns)
			}
		})
	}
}

// TestConcurrentSameKeyRunsOnce starts many attempts with one key at once
// while the first is still working: exactly one runs, the others are told
// that it is in progress, and after it completes they get its result.
func TestConcurrentSameKeyRunsOnce(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Now()}
	g, _ := newGuard(t, c)
	const n = 8
	release := make(chan struct{})
	var runs atomic.Int32
	work := func(context.Context) ([]byte, error) {
		runs.Add(1)
		<-release
		return []byte("done"), nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, _, err := g.Do(t.Context(), "s", "k", []byte("p"), work)
			errs <- err
		})
	}
	// All but the winner return on their own; then let the winner finish.
	var inProgress int
	for range n - 1 {
		if err := <-errs; errors.Is(err, idempotency.ErrInProgress) {
			inProgress++
		} else {
			t.Errorf("a concurrent attempt returned %v, want ErrInProgress", err)
		}
	}
	close(release)
	wg.Wait()
	if err := <-errs; err != nil {
		t.Errorf("the running attempt: %v", err)
	}
	if runs.Load() != 1 || inProgress != n-1 {
		t.Errorf("work ran %d times, %d attempts told in progress; want 1 and %d", runs.Load(), inProgress, n-1)
	}
	got, replayed, err := g.Do(t.Context(), "s", "k", []byte("p"), work)
	if err != nil || !replayed || string(got) != "done" {
		t.Errorf("after completion: %q, %v, %v; want the stored result replayed", got, replayed, err)
	}
}

// TestCrashedAttemptIsTakenOver leaves a record in progress, as a Lambda
// that timed out would: before the in-progress expiry a duplicate is told
// to wait, after it the duplicate takes the key over and runs the work, and
// the crashed attempt can no longer complete it.
func TestCrashedAttemptIsTakenOver(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Now()}
	g, p := newGuard(t, c)
	ctx := t.Context()
	crashed := idempotency.Record{Scope: "s", KeyHash: idempotency.Hash([]byte("k")), Status: idempotency.InProgress,
		PayloadHash: idempotency.Hash([]byte("p")), Attempt: "crashed", ExpiresAt: c.Now().Add(time.Hour),
		InProgressUntil: c.Now().Add(30 * time.Second)}
	if _, err := p.Acquire(ctx, crashed, c.Now()); err != nil {
		t.Fatal(err)
	}
	w := &counter{}
	if _, _, err := g.Do(ctx, "s", "k", []byte("p"), w.work); !errors.Is(err, idempotency.ErrInProgress) {
		t.Fatalf("before the in-progress expiry: %v, want ErrInProgress", err)
	}
	c.Advance(31 * time.Second)
	if got, replayed, err := g.Do(ctx, "s", "k", []byte("p"), w.work); err != nil || replayed || string(got) != "\x01" {
		t.Fatalf("after the in-progress expiry: %v, %v, %v; want the work run", got, replayed, err)
	}
	crashed.Status, crashed.Result = idempotency.Completed, []byte("late")
	if err := p.Complete(ctx, crashed); !errors.Is(err, idempotency.ErrNotOwner) {
		t.Errorf("late completion by the crashed attempt: %v, want ErrNotOwner", err)
	}
	if got, _, err := g.Do(ctx, "s", "k", []byte("p"), w.work); err != nil || string(got) != "\x01" || w.n.Load() != 1 {
		t.Errorf("replay %q, %v after %d runs; want the take-over's result after 1 run", got, err, w.n.Load())
	}
}

// TestDeadlineBoundsInProgress checks that an attempt under a context
// deadline (Lambda's) can be taken over right after that deadline, long
// before the configured in-progress timeout.
func TestDeadlineBoundsInProgress(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Now()}
	g, _ := newGuard(t, c) // in-progress timeout: one minute
	ctx, cancel := context.WithDeadline(t.Context(), c.Now().Add(20*time.Second))
	defer cancel()
	inside, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		_, _, err := g.Do(ctx, "s", "k", []byte("p"), func(context.Context) ([]byte, error) {
			close(inside)
			<-release // the "Lambda" hangs until it is killed
			return nil, errors.New("killed")
		})
		done <- err
	}()
	defer close(release)
	select {
	case <-inside:
	case err := <-done:
		t.Fatalf("the first attempt did not start: %v", err)
	}
	w := &counter{}
	if _, _, err := g.Do(t.Context(), "s", "k", []byte("p"), w.work); !errors.Is(err, idempotency.ErrInProgress) {
		t.Fatalf("during the attempt: %v, want ErrInProgress", err)
	}
	c.Advance(21 * time.Second) // past the deadline, before the one-minute timeout
	if _, _, err := g.Do(t.Context(), "s", "k", []byte("p"), w.work); err != nil || w.n.Load() != 1 {
		t.Errorf("after the deadline: %v with %d runs; want a take-over", err, w.n.Load())
	}
}

func TestNewChecksArguments(t *testing.T) {
	t.Parallel()
	p, err := idempotency.NewDynamo(fakeAPI{}, "table")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    idempotency.Persistence
		cfg  idempotency.Config
	}{
		{"nil persistence", nil, idempotency.Config{}},
		{"negative expiry", p, idempotency.Config{Expiry: -time.Second}},
		{"negative in-progress timeout", p, idempotency.Config{InProgressTimeout: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := idempotency.New(tt.p, tt.cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
	if _, err := idempotency.NewDynamo(nil, "table"); err == nil {
		t.Error("NewDynamo accepted a nil client")
	}
	if _, err := idempotency.NewDynamo(fakeAPI{}, ""); err == nil {
		t.Error("NewDynamo accepted an empty table")
	}
}
