package quota_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/quota"
)

func newLimiter(t *testing.T, c *testenv.Clock, scope string, r quota.Rule) *quota.Limiter {
	t.Helper()
	db, table := testenv.DynamoDB(t)
	d, err := quota.NewDynamo(db, table)
	if err != nil {
		t.Fatal(err)
	}
	l, err := quota.New(d, c, scope, r, "Too many requests.")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Concurrent callers in one window get exactly Limit passes between them;
// the refused get the rest of the window as Retry-After; another key and
// the next window start from zero.
func TestLimiterOnDynamoDBLocal(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 9, 0, 20, 0, time.UTC)
	c := testenv.NewClock(t0)
	l := newLimiter(t, c, "test", quota.Rule{Limit: 5, Window: time.Minute})
	ctx := context.Background()

	var passed, refused atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			err := l.Take(ctx, "op-a")
			switch {
			case err == nil:
				passed.Add(1)
			case fault.KindOf(err) == fault.TooManyRequests && fault.RetryAfterOf(err) == 40*time.Second:
				refused.Add(1)
			default:
				t.Errorf("Take = %v (retry after %v)", err, fault.RetryAfterOf(err))
			}
		})
	}
	wg.Wait()
	if passed.Load() != 5 || refused.Load() != 15 {
		t.Fatalf("%d passed, %d refused; want 5 and 15", passed.Load(), refused.Load())
	}
	if err := l.Take(ctx, "op-b"); err != nil {
		t.Fatalf("another operator is refused: %v", err)
	}
	c.Set(t0.Add(40 * time.Second))
	if err := l.Take(ctx, "op-a"); err != nil {
		t.Fatalf("the next window is refused: %v", err)
	}
}

func TestNoLimit(t *testing.T) {
	t.Parallel()
	l, err := quota.New(failing{}, testenv.NewClock(time.Time{}), "s", quota.Rule{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Take(context.Background(), "k"); err != nil {
		t.Fatalf("Take without a limit = %v", err)
	}
}

type failing struct{}

func (failing) Add(context.Context, string, time.Time, int, time.Time) (bool, error) {
	return false, errors.New("dynamodb down")
}

// A counter that cannot be reached refuses: an outage must not lift the
// limit.
func TestCounterDown(t *testing.T) {
	t.Parallel()
	l, err := quota.New(failing{}, testenv.NewClock(time.Time{}), "s", quota.Rule{Limit: 1, Window: time.Minute}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Take(context.Background(), "k"); fault.KindOf(err) != fault.Unavailable {
		t.Fatalf("Take with the counter down = %v, want Unavailable", err)
	}
}

func TestNewChecks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		c     quota.Counter
		clock quota.Clock
		scope string
		r     quota.Rule
	}{
		{"nil counter", nil, testenv.NewClock(time.Time{}), "s", quota.Rule{}},
		{"nil clock", failing{}, nil, "s", quota.Rule{}},
		{"no scope", failing{}, testenv.NewClock(time.Time{}), "", quota.Rule{}},
		{"window too short", failing{}, testenv.NewClock(time.Time{}), "s", quota.Rule{Limit: 1, Window: time.Millisecond}},
		{"negative limit", failing{}, testenv.NewClock(time.Time{}), "s", quota.Rule{Limit: -1, Window: time.Minute}},
	} {
		if _, err := quota.New(tc.c, tc.clock, tc.scope, tc.r, ""); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
}
