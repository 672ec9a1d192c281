package upgrade

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/fault"
)

// InvitationStore is what the Customer Invitations actions need from the
// store.
type InvitationStore interface {
	// GetInvitation reads an invitation by id; the caller checks the
	// operator.
	GetInvitation(ctx context.Context, id string) (Invitation, error)
	// UpdateInvitation writes after over before in one conditional write
	// and places the invitation in the due index at due (zero: nowhere);
	// events go to the outbox in the same atomic write. It returns
	// ErrChanged, writing nothing, when the stored invitation's state,
	// generation, counters or mail times are no longer before's.
	UpdateInvitation(ctx context.Context, before, after Invitation, due time.Time, events ...event.Message) error
}

// MailRequest asks for one mail of one link generation. It carries ids
// only.
type MailRequest struct {
	InvitationID string
	OperatorID   string
	Generation   int
	Mail         MailKind
}

// ActionDeps are the collaborators of Actions. Logger, InvitationTTL and
// Reminders are optional.
type ActionDeps struct {
	Store         InvitationStore
	Links         Links
	Clock         Clock
	Logger        *slog.Logger
	InvitationTTL time.Duration
	Reminders     ReminderPolicy
}

// Actions are the operator's actions on an invitation in Security >
// Customer Invitations: resend, regenerate ("Re-initiate Authentication
// Flow") and revoke.
type Actions struct {
	store  InvitationStore
	links  Links
	clock  Clock
	log    *slog.Logger
	ttl    time.Duration
	policy ReminderPolicy
}

// NewActions checks d and returns Actions.
func NewActions(d ActionDeps) (*Actions, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("upgrade: nil InvitationStore")
	case d.Links == nil:
		return nil, errors.New("upgrade: nil Links")
	case d.Clock == nil:
		return nil, errors.New("upgrade: nil Clock")
	case d.InvitationTTL < 0:
		return nil, fmt.Errorf("upgrade: negative invitation TTL %v", d.InvitationTTL)
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.InvitationTTL == 0 {
		d.InvitationTTL = DefaultInvitationTTL
	}
	return &Actions{store: d.Store, links: d.Links, clock: d.Clock, log: d.Logger,
		ttl: d.InvitationTTL, policy: d.Reminders}, nil
}

// actionAttempts bounds the re-reads after a lost conditional write; the
// second read sees what the other writer did.
const actionAttempts = 3

// Resend asks for the same link again. It is refused with TooManyRequests
// within ResendInterval of the last mail or request, and with
// PreconditionFailed unless the invitation is PENDING with a live link and
// an address.
func (a *Actions) Resend(ctx context.Context, operatorID, id string) (Invitation, error) {
	return a.change(ctx, operatorID, id, "resend", func(inv Invitation, now time.Time) (Invitation, MailKind, error) {
		if !InvitationMailable.Contains(inv.Status) || !inv.Live(now) {
			return inv, "", fault.New(fault.PreconditionFailed, "Only a pending invitation with a live link can be sent again.")
		}
		if inv.AdminEmail == "" {
			return inv, "", fault.New(fault.PreconditionFailed, "The invitation has no administrator address to send to.")
		}
		last := inv.LastMailAt
		if inv.MailRequestedAt.After(last) {
			last = inv.MailRequestedAt
		}
		if wait := last.Add(ResendInterval).Sub(now); !last.IsZero() && wait > 0 {
			return inv, "", fault.TooMany(wait, "The last mail went less than a minute ago; wait before sending it again.")
		}
		inv.ResendCount++
		kind := ResendMail(inv.ResendCount)
		inv.MailWanted, inv.MailRequestedAt = kind, now
		return inv, kind, nil
	})
}

// Regenerate makes a new link (generation+1, a fresh expiry): every earlier
// link stops working at once, and a Welcome mail with the new link is
// requested when the invitation has an address. The reminders start again.
// A completed, token-acquired or revoked invitation cannot be regenerated.
func (a *Actions) Regenerate(ctx context.Context, operatorID, id string) (Invitation, error) {
	return a.change(ctx, operatorID, id, "regenerate", func(inv Invitation, now time.Time) (Invitation, MailKind, error) {
		if !InvitationMoves.Allows(inv.Status, InvitationPending) {
			return inv, "", fault.New(fault.PreconditionFailed, "This invitation can no longer be re-initiated.")
		}
		inv.Status, inv.Generation = InvitationPending, inv.Generation+1
		inv.ExpiresAt = now.Add(a.ttl)
		inv.RemindersSent, inv.EmailSent, inv.EmailSentAt = 0, false, time.Time{}
		inv.DeliveryStatus, inv.LastError, inv.LastMailKind, inv.LastMailAt = "", "", "", time.Time{}
		inv.MailWanted, inv.MailRequestedAt = "", time.Time{}
		if inv.AdminEmail == "" {
			return inv, "", nil
		}
		inv.MailWanted, inv.MailRequestedAt = MailWelcome, now
		return inv, MailWelcome, nil
	})
}

// Revoke kills the link: the invitation becomes REVOKED and its generation
// moves on, so that no earlier link verifies. Only an invitation whose
// link could still be used can be revoked.
func (a *Actions) Revoke(ctx context.Context, operatorID, id string) (Invitation, error) {
	return a.change(ctx, operatorID, id, "revoke", func(inv Invitation, now time.Time) (Invitation, MailKind, error) {
		if !InvitationLive.Contains(inv.Status) {
			return inv, "", fault.New(fault.PreconditionFailed, "Only an invitation whose link still works can be revoked.")
		}
		inv.Status, inv.Generation = InvitationRevoked, inv.Generation+1
		inv.MailWanted, inv.MailRequestedAt = "", time.Time{}
		return inv, "", nil
	})
}

// change reads the invitation, applies f and writes the result
// conditionally, reading again when another writer got there first. When f
// asks for a mail, Invitation Mail Requested is part of the same write.
func (a *Actions) change(ctx context.Context, operatorID, id, action string,
	f func(inv Invitation, now time.Time) (Invitation, MailKind, error)) (Invitation, error) {
	for attempt := 1; ; attempt++ {
		before, err := a.store.GetInvitation(ctx, id)
		if errors.Is(err, ErrNotFound) || err == nil && before.OperatorID != operatorID {
			return Invitation{}, fault.NotFoundf("Not found.")
		}
		if err != nil {
			return Invitation{}, fmt.Errorf("%s invitation %s: %w", action, id, err)
		}
		now := a.clock.Now().UTC()
		after, mail, err := f(before, now)
		if err != nil {
			return Invitation{}, err
		}
		var due time.Time
		if step := a.policy.Next(after); step.Action != ActionNone {
			due = step.At
		}
		var events []event.Message
		if mail != "" {
			r := MailRequest{InvitationID: id, OperatorID: operatorID, Generation: after.Generation, Mail: mail}
			if events, err = Announce(MailRequestedEvent(r)); err != nil {
				return Invitation{}, err
			}
		}
		err = a.store.UpdateInvitation(ctx, before, after, due, events...)
		if errors.Is(err, ErrChanged) && attempt < actionAttempts {
			continue
		}
		if errors.Is(err, ErrChanged) {
			return Invitation{}, &fault.Error{Kind: fault.Conflict, Detail: "The invitation is changing; try again.", Err: err}
		}
		if err != nil {
			return Invitation{}, fmt.Errorf("%s invitation %s: %w", action, id, err)
		}
		a.log.InfoContext(ctx, "invitation "+action, "invitationId", id, "generation", after.Generation, "mail", string(mail))
		after.AuthURL = ""
		if after.Live(now) {
			if after.AuthURL, err = a.links.URL(ctx, after.ID, after.Generation); err != nil {
				return Invitation{}, fmt.Errorf("derive link of invitation %s: %w", id, err)
			}
		}
		return after, nil
	}
}
