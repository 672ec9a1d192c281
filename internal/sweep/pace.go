package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// AccountAPI is the SES v2 call that tells the account's send rate.
type AccountAPI interface {
	GetAccount(ctx context.Context, in *sesv2.GetAccountInput, opts ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
}

// Share is the part of the SES send rate the sweep's mails may take, so
// that Welcome mails of new upgrades still find room.
const Share = 0.8

// RatePacer spaces calls to Wait at most rate per second. The rate is
// fixed, or read from SES GetAccount (SendQuota.MaxSendRate times Share) on
// first use and cached for the container's life. A rate of zero means no
// pacing.
type RatePacer struct {
	client   AccountAPI
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

// NewSESPacer returns a pacer that reads the rate from SES, using fallback
// per second when SES cannot tell.
func NewSESPacer(client AccountAPI, fallback float64, log *slog.Logger) (*RatePacer, error) {
	if client == nil {
		return nil, errors.New("sweep: nil SES client")
	}
	if fallback <= 0 {
		return nil, fmt.Errorf("sweep: fallback send rate %v must be positive", fallback)
	}
	if log == nil {
		log = slog.Default()
	}
	return &RatePacer{client: client, fallback: fallback, log: log}, nil
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
	out, err := p.client.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil || out.SendQuota == nil || out.SendQuota.MaxSendRate <= 0 {
		p.log.WarnContext(ctx, "SES send rate unknown; using the configured rate", "rate", p.fallback, "error", err)
		return p.fallback
	}
	r := out.SendQuota.MaxSendRate * Share
	p.log.InfoContext(ctx, "pacing mail requests", "sesMaxSendRate", out.SendQuota.MaxSendRate, "rate", r)
	return r
}
