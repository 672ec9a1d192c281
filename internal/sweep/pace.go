package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// SendQuota tells the most mails per second the mail service accepts from
// the account (ses.Account reads it from SES).
type SendQuota interface {
	MaxSendRate(ctx context.Context) (float64, error)
}

// Share is the part of the SES send rate the sweep's mails may take, so
// that Welcome mails of new upgrades still find room.
const Share = 0.8

// RatePacer spaces calls to Wait at most rate per second. The rate is
// fixed, or Share of the account's send quota, read on first use and
// cached for the container's life. A rate of zero means no pacing.
type RatePacer struct {
	quota    SendQuota
	fallback float64
	log      *slog.Logger

	once     sync.Once
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

// NewFixedPacer returns a pacer of rate per second (0: unpaced).
func NewFixedPacer(rate float64) (*RatePacer, error) {
	if rate < 0 {
		return nil, fmt.Errorf("sweep: negative send rate %v", rate)
	}
	p := &RatePacer{}
	p.once.Do(func() { p.interval = interval(rate) })
	return p, nil
}

// NewQuotaPacer returns a pacer at Share of the send quota, using fallback
// per second when the quota cannot be read.
func NewQuotaPacer(quota SendQuota, fallback float64, log *slog.Logger) (*RatePacer, error) {
	if quota == nil {
		return nil, errors.New("sweep: nil SendQuota")
	}
	if fallback <= 0 {
		return nil, fmt.Errorf("sweep: fallback send rate %v must be positive", fallback)
	}
	if log == nil {
		log = slog.Default()
	}
	return &RatePacer{quota: quota, fallback: fallback, log: log}, nil
}

func interval(rate float64) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / rate)
}

// Wait blocks until the next call may go, or ctx ends.
func (p *RatePacer) Wait(ctx context.Context) error {
	p.once.Do(func() { p.interval = interval(p.rate(ctx)) })
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

func (p *RatePacer) rate(ctx context.Context) float64 {
	limit, err := p.quota.MaxSendRate(ctx)
	if err != nil || limit <= 0 {
		p.log.WarnContext(ctx, "SES send rate unknown; using the configured rate", "rate", p.fallback, "error", err)
		return p.fallback
	}
	r := limit * Share
	p.log.InfoContext(ctx, "pacing mail requests", "sesMaxSendRate", limit, "rate", r)
	return r
}
