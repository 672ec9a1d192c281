package sweep

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// quota is a SendQuota answering rate or err, counting the reads.
type quota struct {
	rate  float64
	err   error
	reads atomic.Int32
}

func (q *quota) MaxSendRate(context.Context) (float64, error) {
	q.reads.Add(1)
	return q.rate, q.err
}

// TestQuotaPacerRate: the pacer takes Share of the account's quota, read
// once for the container's life however many sweeps wait at once, and the
// configured rate when the quota cannot be read.
func TestQuotaPacerRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		quota *quota
		want  time.Duration
	}{
		{"quota read", &quota{rate: 1000}, time.Duration(float64(time.Second) / (1000 * Share))},
		{"quota unreadable", &quota{err: errors.New("AccessDenied")}, time.Second / 500},
		{"no quota", &quota{rate: 0}, time.Second / 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := NewQuotaPacer(tt.quota, 500, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					if err := p.Wait(t.Context()); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if n := tt.quota.reads.Load(); n != 1 {
				t.Errorf("the quota was read %d times, want once", n)
			}
			if p.interval != tt.want {
				t.Errorf("interval = %v, want %v", p.interval, tt.want)
			}
		})
	}
}

func TestNewPacersCheckArguments(t *testing.T) {
	t.Parallel()
	if _, err := NewQuotaPacer(nil, 1, nil); err == nil {
		t.Error("NewQuotaPacer(nil) succeeded")
	}
	if _, err := NewQuotaPacer(&quota{}, 0, nil); err == nil {
		t.Error("NewQuotaPacer with no fallback rate succeeded")
	}
	if _, err := NewFixedPacer(-1); err == nil {
		t.Error("NewFixedPacer(-1) succeeded")
	}
}

// TestWaitEndsWithItsContext: a sweep cut off by its deadline does not
// stay blocked in the pacer.
func TestWaitEndsWithItsContext(t *testing.T) {
	t.Parallel()
	p, err := NewFixedPacer(1.0 / 3600) // one an hour
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(t.Context()); err != nil {
		t.Fatalf("first Wait = %v, want at once", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait after cancel = %v, want context.Canceled", err)
	}
}
