package memory

import (
	"context"
	"time"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// BindTenant implements the tenant binding of the DynamoDB store: a
// customer bound to no tenant, or to tenantID, is bound to tenantID.
func (s *Store) BindTenant(_ context.Context, operatorID, customerID, tenantID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bindLocked(operatorID, customerID, tenantID)
}

func (s *Store) bindLocked(operatorID, customerID, tenantID string) error {
	c, ok := s.customers[customerID]
	if !ok || c.OperatorID != operatorID {
		return upgrade.ErrNotFound
	}
	if c.TenantID != "" && c.TenantID != tenantID {
		return upgrade.ErrTenantBound
	}
	c.TenantID = tenantID
	s.customers[customerID] = c
	return nil
}

// ConfirmTenant implements the DynamoDB store's confirmation: the
// invitation completes and its customer is bound, or nothing changes.
func (s *Store) ConfirmTenant(_ context.Context, inv upgrade.Invitation, at time.Time, events ...event.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.invitations[inv.ID]
	if !ok || cur.Status != upgrade.InvitationAwaitingConfirmation || cur.TenantID != inv.TenantID {
		return upgrade.ErrStateChanged
	}
	if c, ok := s.customers[cur.CustomerID]; ok && c.TenantID != "" && c.TenantID != cur.TenantID {
		return upgrade.ErrTenantBound
	}
	if err := s.checkEvents(events); err != nil {
		return err
	}
	if err := s.bindLocked(cur.OperatorID, cur.CustomerID, cur.TenantID); err != nil {
		return upgrade.ErrTenantBound
	}
	cur.Status, cur.AuthenticatedAt = upgrade.InvitationAuthenticationComplete, at.UTC()
	s.invitations[inv.ID] = cur
	return s.addEvents(events)
}

// RefuseTenant implements the DynamoDB store's refusal: the invitation
// fails and its kept credential is dropped.
func (s *Store) RefuseTenant(_ context.Context, inv upgrade.Invitation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.invitations[inv.ID]
	if !ok || cur.Status != upgrade.InvitationAwaitingConfirmation {
		return upgrade.ErrStateChanged
	}
	cur.Status = upgrade.InvitationFailed
	s.invitations[inv.ID] = cur
	delete(s.credentials, inv.ID)
	return nil
}

// SetCustomerDomain implements upgrade.Store.
func (s *Store) SetCustomerDomain(_ context.Context, operatorID, customerID, domain string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[customerID]
	if !ok || c.OperatorID != operatorID {
		return upgrade.ErrNotFound
	}
	c.Domain = domain
	s.customers[customerID] = c
	return nil
}
