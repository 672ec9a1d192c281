package sweep

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Share is the part of the SES send rate the sweep's mails may take, so
// that Welcome mails of new upgrades still find room.
const Share = 0.8

// RatePacer spaces calls to Wait at most rate per second. A rate of zero
// means no pacing.
type RatePacer struct {
	interval time.Duration

	mu   sync.Mutex
	next time.Time
}

// NewFixedPacer returns a pacer of rate per second (0: unpaced).
func NewFixedPacer(rate float64) (*RatePacer, error) {
	if rate < 0 {
		return nil, fmt.Errorf("sweep: negative send rate %v", rate)
	}
	return &RatePacer{interval: interval(rate)}, nil
}

// NewSendRatePacer returns a pacer at Share of the account's SES send
// rate (mails per second), which the deployment states: reading it from
// SES would make the sweep link the SES client for that one call.
func NewSendRatePacer(maxSendRate float64) (*RatePacer, error) {
	if maxSendRate <= 0 {
		return nil, fmt.Errorf("sweep: SES send rate %v must be positive", maxSendRate)
	}
	return NewFixedPacer(maxSendRate * Share)
}

func interval(rate float64) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / rate)
}

// Wait blocks until the next call may go, or ctx ends.
func (p *RatePacer) Wait(ctx context.Context) error {
	if p.interval == 0 {
		return nil
	}
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.interval)
	p.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
