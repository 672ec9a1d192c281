package sweep

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestSendRatePacer: the sweep takes Share of the account's send rate.
func TestSendRatePacer(t *testing.T) {
	t.Parallel()
	p, err := NewSendRatePacer(1000)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Duration(float64(time.Second) / (1000 * Share)); p.interval != want {
		t.Errorf("interval = %v, want %v", p.interval, want)
	}
}

func TestNewPacersCheckArguments(t *testing.T) {
	t.Parallel()
	for _, rate := range []float64{0, -1} {
		if _, err := NewSendRatePacer(rate); err == nil {
			t.Errorf("NewSendRatePacer(%v) succeeded", rate)
		}
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
