package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// bindCondition adds the condition that the customer exists and is bound
// to no tenant or to tenantID, and binds it to tenantID.
func bindCondition(e *expr, tenantID string) {
	e.exists()
	e.cond = append(e.cond, "(attribute_not_exists("+e.name("TenantID")+") OR "+e.name("TenantID")+" = "+e.value(tenantID)+")")
	e.put("TenantID", tenantID, false)
}

// BindTenant records tenantID as the customer's Microsoft tenant when it
// has none, with one conditional write; binding it again to the same
// tenant changes nothing. It returns upgrade.ErrTenantBound when the
// customer is bound to another tenant, upgrade.ErrNotFound when there is
// no such customer.
func (s *Store) BindTenant(ctx context.Context, operatorID, customerID, tenantID string) error {
	if tenantID == "" {
		return errors.New("store: bind a customer to an empty tenant id")
	}
	e := newExpr()
	bindCondition(e, tenantID)
	err := s.update(ctx, e, customerPK(operatorID, customerID), skMain, upgrade.ErrTenantBound, "bind customer tenant")
	if !errors.Is(err, upgrade.ErrTenantBound) {
		return err
	}
	if _, gerr := s.GetCustomer(ctx, operatorID, customerID); errors.Is(gerr, upgrade.ErrNotFound) {
		return upgrade.ErrNotFound
	}
	return err
}

// ConfirmTenant is staff confirming the tenant of an invitation that waits
// for it: in one transaction the invitation moves from
// AWAITING_CONFIRMATION (still naming inv.TenantID) to
// AUTHENTICATION_COMPLETE, its customer is bound to that tenant and the
// events go to the outbox. It
// returns upgrade.ErrStateChanged when the invitation moved meanwhile and
// upgrade.ErrTenantBound when the customer is bound to another tenant;
// either way nothing changes.
func (s *Store) ConfirmTenant(ctx context.Context, inv upgrade.Invitation, at time.Time, events ...event.Message) error {
	to := upgrade.InvitationAuthenticationComplete
	e := newExpr()
	e.exists()
	e.is("Status", string(upgrade.InvitationAwaitingConfirmation), false)
	e.is("TenantID", inv.TenantID, inv.TenantID == "")
	e.put("Status", string(to), false)
	e.put("GSI2PK", invitationStatusPK(inv.OperatorID, to), false)
	e.put("AuthenticatedAt", at.UTC(), false)
	c := newExpr()
	bindCondition(c, inv.TenantID)
	tx := txn{table: s.table}
	tx.update(e, invitationPK(inv.ID), skMain)
	tx.update(c, customerPK(inv.OperatorID, inv.CustomerID), skMain)
	tx.outbox(events)
	return s.runTenantTxn(ctx, tx, "confirm tenant")
}

// RefuseTenant is staff refusing the tenant of an invitation that waits
// for confirmation: in one transaction the invitation moves from
// AWAITING_CONFIRMATION to FAILED and the delegated credential kept from
// that tenant's account is deleted. The operator may then make a new link.
// It returns upgrade.ErrStateChanged when the invitation moved meanwhile.
func (s *Store) RefuseTenant(ctx context.Context, inv upgrade.Invitation) error {
	to := upgrade.InvitationFailed
	e := newExpr()
	e.exists()
	e.is("Status", string(upgrade.InvitationAwaitingConfirmation), false)
	e.put("Status", string(to), false)
	e.put("GSI2PK", invitationStatusPK(inv.OperatorID, to), false)
	tx := txn{table: s.table}
	tx.update(e, invitationPK(inv.ID), skMain)
	tx.delete(newExpr(), invitationPK(inv.ID), skCredential)
	return s.runTenantTxn(ctx, tx, "refuse tenant")
}

// runTenantTxn runs a confirm or refuse transaction: the invitation's
// condition is item 0, the customer's (when there is one) item 1.
func (s *Store) runTenantTxn(ctx context.Context, tx txn, what string) error {
	in, err := tx.input()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	err = s.transact(ctx, in.TransactItems)
	if _, ok := conditionFailed(err, 0); ok {
		return upgrade.ErrStateChanged
	}
	if _, ok := conditionFailed(err, 1); ok {
		return upgrade.ErrTenantBound
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// SetCustomerDomain sets the customer's domain, or removes it when domain
// is empty, with one conditional write on the customer's existence.
func (s *Store) SetCustomerDomain(ctx context.Context, operatorID, customerID, domain string) error {
	e := newExpr()
	e.exists()
	e.put("Domain", domain, domain == "")
	return s.update(ctx, e, customerPK(operatorID, customerID), skMain, upgrade.ErrNotFound, "set customer domain")
}
