// Package sweep is the reminder and expiry sweep of
// InvitationRemindersFunction.
//
// Each run reads the due index partition by partition (see the store's
// DueWork key scheme), re-reads every candidate on the base table with a
// strongly consistent read, decides its next step with the domain's
// ReminderPolicy and acts through one conditional write that doubles as the
// claim: two sweeps that read the same candidate race on that write and
// only one wins, so each reminder is requested exactly once. Mails are not
// sent here: the sweep's write also puts Invitation Mail Requested in the
// outbox (the expiry's, Invitation Expired), paced below the SES send
// rate, and the invitation email function sends through the same
// claim-and-settle path as every other mail, with its retries and
// dead-letter queue per mail. The run stops with a margin before the
// Lambda deadline; whatever is left is still due for the next run.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// Store is what the sweep needs from the store.
type Store interface {
	DuePartitions(ctx context.Context, now time.Time) ([]string, error)
	QueryDue(ctx context.Context, partition string, now time.Time, after string, limit int) ([]upgrade.DueRef, bool, error)
	MarkSwept(ctx context.Context, now time.Time) error
	GetInvitationConsistent(ctx context.Context, id string) (upgrade.Invitation, error)
	// UpdateInvitation writes after over before conditionally, with
	// events in the outbox in the same atomic write.
	UpdateInvitation(ctx context.Context, before, after upgrade.Invitation, due time.Time, events ...event.Message) error
}

// Pacer spaces out the mail requests.
type Pacer interface {
	Wait(ctx context.Context) error
}

// Config tunes a Sweeper. Zero values take the defaults.
type Config struct {
	Reminders upgrade.ReminderPolicy
	// Margin is how long before the context's deadline the run stops
	// taking new candidates; default 10 s.
	Margin time.Duration
	// PageSize is the page size of the due queries; default 100.
	PageSize int
}

// Sweeper runs the sweep.
type Sweeper struct {
	store Store
	pace  Pacer
	clock upgrade.Clock
	log   *slog.Logger
	cfg   Config
}

// New checks its arguments and returns a Sweeper; log may be nil.
func New(st Store, pace Pacer, clock upgrade.Clock, log *slog.Logger, cfg Config) (*Sweeper, error) {
	switch {
	case st == nil:
		return nil, errors.New("sweep: nil Store")
	case pace == nil:
		return nil, errors.New("sweep: nil Pacer")
	case clock == nil:
		return nil, errors.New("sweep: nil Clock")
	case cfg.Margin < 0 || cfg.PageSize < 0:
		return nil, errors.New("sweep: negative margin or page size")
	}
	if log == nil {
		log = slog.Default()
	}
	if cfg.Margin == 0 {
		cfg.Margin = 10 * time.Second
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = 100
	}
	return &Sweeper{store: st, pace: pace, clock: clock, log: log, cfg: cfg}, nil
}

// Result counts what one run did.
type Result struct {
	Partitions  int
	Candidates  int
	Requested   int
	Expired     int
	Rescheduled int
	Dropped     int
	// Lost counts candidates another writer changed first (another sweep,
	// the wizard, the operator): they are that writer's now.
	Lost int
	// Complete is false when the run stopped before the deadline with
	// partitions left.
	Complete bool
}

// Run sweeps every due partition once.
func (s *Sweeper) Run(ctx context.Context) (Result, error) {
	var res Result
	now := s.clock.Now().UTC()
	stopAt, bounded := ctx.Deadline()
	stopAt = stopAt.Add(-s.cfg.Margin)
	parts, err := s.store.DuePartitions(ctx, now)
	if err != nil {
		return res, fmt.Errorf("sweep: %w", err)
	}
	for _, p := range parts {
		after := ""
		for {
			refs, more, err := s.store.QueryDue(ctx, p, now, after, s.cfg.PageSize)
			if err != nil {
				return res, fmt.Errorf("sweep: %w", err)
			}
			for _, ref := range refs {
				if bounded && !time.Now().Before(stopAt) {
					s.log.WarnContext(ctx, "sweep stopped before the deadline; the rest waits for the next run", "partition", p)
					return res, nil
				}
				res.Candidates++
				if err := s.one(ctx, ref.InvitationID, now, &res); err != nil {
					return res, fmt.Errorf("sweep: invitation %s: %w", ref.InvitationID, err)
				}
				after = ref.Key
			}
			if !more || len(refs) == 0 {
				break
			}
		}
		res.Partitions++
	}
	res.Complete = true
	if err := s.store.MarkSwept(ctx, now); err != nil {
		return res, fmt.Errorf("sweep: %w", err)
	}
	return res, nil
}

// one handles one candidate: re-read, decide, act with a conditional write.
func (s *Sweeper) one(ctx context.Context, id string, now time.Time, res *Result) error {
	inv, err := s.store.GetInvitationConsistent(ctx, id)
	if errors.Is(err, upgrade.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	step := s.cfg.Reminders.Next(inv)
	after, due := inv, time.Time{}
	var announce event.Detail
	switch {
	case step.Action == upgrade.ActionNone:
		// Nothing can become due: leave the index.
	case step.At.After(now):
		// The index entry is early (another writer changed the invitation
		// without moving it): move it to the real time.
		due = step.At
	case step.Action == upgrade.ActionExpire:
		after.Status, after.MailWanted, after.MailRequestedAt = upgrade.InvitationExpired, "", time.Time{}
		announce = upgrade.InvitationExpiredEvent(after)
	case step.Action == upgrade.ActionRequestMail:
		after.MailWanted, after.MailRequestedAt = step.Mail, now
		due = s.cfg.Reminders.Next(after).At
		announce = upgrade.MailRequestedEvent(upgrade.MailRequest{InvitationID: id, OperatorID: inv.OperatorID,
			Generation: inv.Generation, Mail: step.Mail})
		// The write requests the mail, so the pace is kept before it.
		if err := s.pace.Wait(ctx); err != nil {
			return err
		}
	}
	var events []event.Message
	if announce != nil {
		if events, err = upgrade.Announce(announce); err != nil {
			return err
		}
	}
	err = s.store.UpdateInvitation(ctx, inv, after, due, events...)
	if errors.Is(err, upgrade.ErrChanged) {
		res.Lost++
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case step.Action == upgrade.ActionNone:
		res.Dropped++
	case step.At.After(now):
		res.Rescheduled++
	case step.Action == upgrade.ActionExpire:
		res.Expired++
	case step.Action == upgrade.ActionRequestMail:
		res.Requested++
	}
	return nil
}
