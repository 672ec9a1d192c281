package memory

import (
	"context"
	"strings"
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
)

var _ upgrade.FinishStore = (*Store)(nil)

func waitingUpgrade(s upgrade.UpgradeStatus) bool {
	return s == upgrade.UpgradePendingAuthentication || s == upgrade.UpgradeReadyToResume
}

// CompleteUpgrade implements upgrade.FinishStore under one lock, with the
// conditions of the DynamoDB transaction in the same order.
func (s *Store) CompleteUpgrade(_ context.Context, c upgrade.Completion) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.upgrades[c.UpgradeID]
	if !ok || u.OperatorID != c.OperatorID || !waitingUpgrade(u.Status) || u.Service.Status != upgrade.ServicePendingAuthentication {
		return upgrade.ErrStateChanged
	}
	if inv, ok := s.invitations[c.M365.InvitationID]; !ok || inv.Status != upgrade.InvitationAuthenticationComplete {
		return upgrade.ErrStateChanged
	}
	cust, ok := s.customers[u.CustomerID]
	if !ok || cust.OperatorID != c.OperatorID {
		return upgrade.ErrNotFound
	}
	delta := c.Service.LicensedUsers - c.PreviousUsers
	if cust.License.Rank() >= c.Service.License.Rank() {
		return &upgrade.LicenseError{Current: cust.License}
	}
	if cust.ReservedUsers+delta > upgrade.MaxUsersPerCustomer {
		return &upgrade.UserLimitError{Reserved: cust.ReservedUsers}
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
	if !waitingUpgrade(u.Status) {
		return upgrade.ErrStateChanged
	}
	u.Status, u.Service.Status = upgrade.UpgradeCancelled, upgrade.ServiceCancelled
	s.upgrades[u.ID] = u
	if inv, ok := s.invitations[u.Invitation.ID]; ok {
		switch inv.Status {
		case upgrade.InvitationPending, upgrade.InvitationInProgress, upgrade.InvitationTokenAcquired, upgrade.InvitationAuthenticationComplete:
			inv.Status = upgrade.InvitationRevoked
			s.invitations[inv.ID] = inv
		}
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
	if ok && u.OperatorID == operatorID && u.Status == upgrade.UpgradePendingAuthentication {
		u.Status = upgrade.UpgradeReadyToResume
		s.upgrades[u.ID] = u
	}
	return nil
}
