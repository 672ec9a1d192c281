// Package schedule is the glue of InvitationRemindersFunction: it turns the
// reminder schedule's event into one run of the reminder and expiry sweep
// (internal/sweep), once per event id.
package schedule

import (
	"context"
	"errors"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/internal/sweep"
)

// Sweeper runs one sweep (sweep.Sweeper).
type Sweeper interface {
	Run(ctx context.Context) (sweep.Result, error)
}

// Once runs work at most once per key (internal/idempotency's Guard).
type Once interface {
	Run(ctx context.Context, scope, key string, payload []byte, work func(context.Context) error) error
}

// IdempotencyScope is the scope of the handler's idempotency records.
const IdempotencyScope = "Sweep"

// Handler serves the schedule's events. Its errors make the scheduler
// retry and, in the end, dead-letter the event.
type Handler struct {
	sweeper Sweeper
	once    Once
	log     *slog.Logger
}

// Option configures a Handler.
type Option func(*Handler)

// WithOnce makes Handle run once per schedule event id: a redelivered
// schedule event does not start a second sweep. (Two sweeps would still be
// safe, each candidate being claimed by one conditional write; this saves
// the reads.)
func WithOnce(o Once) Option { return func(h *Handler) { h.once = o } }

// WithLogger sets the logger the sweep's figures are written to
// (slog.Default otherwise).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// New returns a Handler running s.
func New(s Sweeper, opts ...Option) (*Handler, error) {
	if s == nil {
		return nil, errors.New("schedule: nil Sweeper")
	}
	h := &Handler{sweeper: s, log: slog.Default()}
	for _, o := range opts {
		o(h)
	}
	if h.log == nil {
		return nil, errors.New("schedule: nil logger")
	}
	return h, nil
}

// Handle serves one schedule event.
func (h *Handler) Handle(ctx context.Context, e events.CloudWatchEvent) error {
	if h.once == nil || e.ID == "" {
		return h.sweep(ctx)
	}
	return h.once.Run(ctx, IdempotencyScope, e.ID, []byte(e.DetailType), h.sweep)
}

// sweep runs one sweep and logs what it did.
func (h *Handler) sweep(ctx context.Context) error {
	res, err := h.sweeper.Run(ctx)
	h.log.InfoContext(ctx, "sweep finished", "partitions", res.Partitions, "candidates", res.Candidates,
		"requested", res.Requested, "expired", res.Expired, "rescheduled", res.Rescheduled, "dropped", res.Dropped,
		"lost", res.Lost, "complete", res.Complete)
	return err
}
