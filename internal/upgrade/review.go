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

// ReviewStore is what staff's review of a tenant needs from the store.
type ReviewStore interface {
	// GetInvitation reads an invitation by id; the caller checks the
	// operator.
	GetInvitation(ctx context.Context, id string) (Invitation, error)
	// ConfirmTenant moves the invitation from AWAITING_CONFIRMATION (in
	// inv.TenantID) to AUTHENTICATION_COMPLETE, binds its customer to the
	// tenant and writes events to the outbox, together or not at all:
	// ErrStateChanged when the invitation moved, ErrTenantBound when the
	// customer is bound to another tenant.
	ConfirmTenant(ctx context.Context, inv Invitation, at time.Time, events ...event.Message) error
	// RefuseTenant moves the invitation from AWAITING_CONFIRMATION to
	// FAILED and drops its kept credential; ErrStateChanged when it moved.
	RefuseTenant(ctx context.Context, inv Invitation) error
}

// Review is staff judging a tenant the wizard could not tell is the
// customer's (Customer Invitations, an invitation AWAITING_CONFIRMATION):
// they see its name, id and verified domains and confirm or refuse it
// before the upgrade may resume.
type Review struct {
	store ReviewStore
	clock Clock
	log   *slog.Logger
}

// NewReview checks its collaborators; log may be nil for slog.Default.
func NewReview(store ReviewStore, clock Clock, log *slog.Logger) (*Review, error) {
	switch {
	case store == nil:
		return nil, errors.New("upgrade: nil ReviewStore")
	case clock == nil:
		return nil, errors.New("upgrade: nil Clock")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Review{store: store, clock: clock, log: log}, nil
}

// awaiting reads the operator's invitation and checks it waits for staff.
func (r *Review) awaiting(ctx context.Context, operatorID, id string) (Invitation, error) {
	inv, err := r.store.GetInvitation(ctx, id)
	if errors.Is(err, ErrNotFound) || err == nil && inv.OperatorID != operatorID {
		return Invitation{}, fault.NotFoundf("Not found.")
	}
	if err != nil {
		return Invitation{}, fmt.Errorf("read invitation %s: %w", id, err)
	}
	if inv.Status != InvitationAwaitingConfirmation {
		return Invitation{}, fault.New(fault.PreconditionFailed,
			fmt.Sprintf("The invitation is %s; only an invitation AWAITING_CONFIRMATION has a tenant to confirm or refuse.", inv.Status))
	}
	return inv, nil
}

// ConfirmTenant is staff confirming that the tenant the administrator
// consented in is the customer's: the invitation completes, the customer
// is bound to the tenant, and Authentication Completed makes the upgrade
// ready to resume. A customer bound to another tenant is never moved.
func (r *Review) ConfirmTenant(ctx context.Context, operatorID, id string) (Invitation, error) {
	inv, err := r.awaiting(ctx, operatorID, id)
	if err != nil {
		return Invitation{}, err
	}
	now := r.clock.Now().UTC()
	// Authentication Completed, as the wizard announces the authentications
	// it completes, in the same transaction.
	events, err := Announce(AuthenticationCompletedEvent(inv, inv.TenantID))
	if err != nil {
		return Invitation{}, err
	}
	switch err := r.store.ConfirmTenant(ctx, inv, now, events...); {
	case errors.Is(err, ErrTenantBound):
		return Invitation{}, &fault.Error{Kind: fault.Conflict, Err: err,
			Detail: "The customer is bound to another Microsoft tenant; a customer never moves to another tenant. Refuse this tenant and send a new link."}
	case errors.Is(err, ErrStateChanged):
		return Invitation{}, &fault.Error{Kind: fault.Conflict, Detail: "The invitation changed meanwhile; reload it.", Err: err}
	case err != nil:
		return Invitation{}, fmt.Errorf("confirm tenant of invitation %s: %w", id, err)
	}
	r.log.InfoContext(ctx, "tenant confirmed by staff", "invitationId", id, "tenantId", inv.TenantID)
	inv.Status, inv.AuthenticatedAt = InvitationAuthenticationComplete, now
	return inv, nil
}

// RefuseTenant is staff refusing the tenant: the invitation fails and the
// credential kept from that tenant's account is dropped; the operator may
// then make a new link for the customer's own administrator.
func (r *Review) RefuseTenant(ctx context.Context, operatorID, id string) (Invitation, error) {
	inv, err := r.awaiting(ctx, operatorID, id)
	if err != nil {
		return Invitation{}, err
	}
	switch err := r.store.RefuseTenant(ctx, inv); {
	case errors.Is(err, ErrStateChanged):
		return Invitation{}, &fault.Error{Kind: fault.Conflict, Detail: "The invitation changed meanwhile; reload it.", Err: err}
	case err != nil:
		return Invitation{}, fmt.Errorf("refuse tenant of invitation %s: %w", id, err)
	}
	r.log.InfoContext(ctx, "tenant refused by staff", "invitationId", id, "tenantId", inv.TenantID)
	inv.Status = InvitationFailed
	return inv, nil
}
