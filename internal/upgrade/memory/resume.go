package memory

import (
	"context"
	"strings"
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
)

var _ upgrade.FinishStore = (*Store)(nil)

// CompleteUpgrade implements upgrade.FinishStore under one lock, with the
// conditions of the DynamoDB transaction in the same order.
func (s *Store) CompleteUpgrade(_ context.Context, c upgrade.Completion) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.upgrades[c.UpgradeID]
	if !ok || u.OperatorID != c.OperatorID || !upgrade.UpgradeMoves.Allows(u.Status, upgrade.UpgradeCompleted) ||
		!upgrade.ServiceMoves.Allows(u.Service.Status, upgrade.ServiceActive) {
		return upgrade.ErrStateChanged
	}
	if inv, ok := s.invitations[c.M365.InvitationID]; !ok || !upgrade.InvitationResumable.Contains(inv.Status) {
		return upgrade.ErrStateChanged
	}
	cust, ok := s.customers[u.CustomerID]
	if !ok || cust.OperatorID != c.OperatorID {
		return upgrade.ErrNotFound
	}
	delta := c.Service.LicensedUsers - c.PreviousUsers
	if err := upgrade.CustomerRefusal(cust.License, cust.ReservedUsers, c.Service.License, delta); err != nil {
		return err
	}
	if err := s.addEvents(c.Events); err != nil {
		return err
	}
	cust.License = c.Service.License
	cust.LicensedUsers += c.Service.LicensedUsers
	cust.ReservedUsers += delta
	s.customers[cust.ID] = cust
	u.Status, u.Service = upgrade.UpgradeCompleted, c.Service
	u.Service.Status = upgrade.ServiceActive
	s.upgrades[u.ID] = u
	s.sips[c.Service.ID] = append(s.sips[c.Service.ID], c.SIP)
	conn := c.M365
	conn.CredentialExpiresAt = time.Time{}
	s.connections[m365Key(c.OperatorID, u.CustomerID)] = withValidation(connection{c: conn}, c.Validation, c.At.Add(upgrade.KeepAliveInterval))
	return nil
}

// CancelUpgrade implements upgrade.FinishStore.
func (s *Store) CancelUpgrade(_ context.Context, operatorID, upgradeID string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.upgrades[upgradeID]
	if !ok || u.OperatorID != operatorID {
		return upgrade.ErrNotFound
	}
	if !upgrade.UpgradeMoves.Allows(u.Status, upgrade.UpgradeCancelled) {
		return upgrade.ErrStateChanged
	}
	u.Status, u.Service.Status = upgrade.UpgradeCancelled, upgrade.ServiceCancelled
	s.upgrades[u.ID] = u
	if inv, ok := s.invitations[u.Invitation.ID]; ok && upgrade.InvitationMoves.Allows(inv.Status, upgrade.InvitationRevoked) {
		inv.Status = upgrade.InvitationRevoked
		s.invitations[inv.ID] = inv
	}
	delete(s.shortNames, operatorID+"/"+strings.ToLower(u.Service.ShortName))
	if cust, ok := s.customers[u.CustomerID]; ok {
		cust.ReservedUsers -= u.Service.LicensedUsers
		s.customers[cust.ID] = cust
	}
	return nil
}

// MarkReadyToResume implements upgrade.M365Store.
func (s *Store) MarkReadyToResume(_ context.Context, operatorID, upgradeID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.upgrades[upgradeID]
	if ok && u.OperatorID == operatorID && upgrade.UpgradeMoves.Allows(u.Status, upgrade.UpgradeReadyToResume) {
		u.Status = upgrade.UpgradeReadyToResume
		s.upgrades[u.ID] = u
	}
	return nil
}
