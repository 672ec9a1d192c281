package memory

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
)

var (
	_ upgrade.FinishStore = (*Store)(nil)
	_ upgrade.M365Store   = (*Store)(nil)
)

// connection is a stored M365 connection with its keep-alive time and the
// last event that saved a validation.
type connection struct {
	c         upgrade.M365Connection
	next      time.Time
	lastEvent string
}

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

// GetService implements upgrade.FinishStore.
func (s *Store) GetService(_ context.Context, operatorID, id string) (upgrade.ServiceDetails, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.upgrades {
		if u.OperatorID == operatorID && u.Service.ID == id {
			d := upgrade.ServiceDetails{Service: u.Service, OperatorID: operatorID, SIPConnections: slices.Clone(s.sips[id])}
			if u.Status == upgrade.UpgradeCompleted {
				d.UpgradeID = u.ID
			}
			return d, nil
		}
	}
	return upgrade.ServiceDetails{}, upgrade.ErrNotFound
}

// ListCustomerServices implements upgrade.FinishStore.
func (s *Store) ListCustomerServices(_ context.Context, operatorID, customerID string) ([]upgrade.Service, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []upgrade.Service
	for _, u := range s.upgrades {
		if u.OperatorID == operatorID && u.CustomerID == customerID {
			out = append(out, u.Service)
		}
	}
	slices.SortFunc(out, func(a, b upgrade.Service) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	return out, nil
}

func m365Key(operatorID, customerID string) string { return operatorID + "/" + customerID }

// GetM365 implements upgrade.M365Store.
func (s *Store) GetM365(_ context.Context, operatorID, customerID string) (upgrade.M365Connection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.connections[m365Key(operatorID, customerID)]
	if !ok {
		return upgrade.M365Connection{}, upgrade.ErrNotFound
	}
	return c.c, nil
}

// PutM365 implements upgrade.M365Store: the consent facts change, the
// validation, access, account and keep-alive stay.
func (s *Store) PutM365(_ context.Context, c upgrade.M365Connection) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := m365Key(c.OperatorID, c.CustomerID)
	prev, ok := s.connections[k]
	next := connection{c: c}
	next.c.CredentialExpiresAt = time.Time{}
	if ok {
		next.c.TenantDomain, next.c.Account, next.c.Access, next.c.LastValidation = prev.c.TenantDomain, prev.c.Account, prev.c.Access, prev.c.LastValidation
		next.next, next.lastEvent = prev.next, prev.lastEvent
	}
	if next.c.Access == "" {
		next.c.Access = upgrade.AccessUnknown
	}
	s.connections[k] = next
	return nil
}

// SaveValidation implements upgrade.M365Store.
func (s *Store) SaveValidation(_ context.Context, operatorID, customerID string, v upgrade.Validation, next time.Time, eventID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := m365Key(operatorID, customerID)
	c, ok := s.connections[k]
	if !ok {
		return upgrade.ErrNotFound
	}
	if eventID != "" && c.lastEvent == eventID {
		return upgrade.ErrDuplicateEvent
	}
	c = withValidation(c, v, next)
	if eventID != "" {
		c.lastEvent = eventID
	}
	s.connections[k] = c
	return nil
}

// withValidation applies a validation as the DynamoDB store does: access
// follows it, the tenant domain and a working account are kept.
func withValidation(c connection, v upgrade.Validation, next time.Time) connection {
	c.c.LastValidation = &v
	c.c.Access = upgrade.AccessOf(v)
	if v.Application.TenantDomain != "" {
		c.c.TenantDomain = v.Application.TenantDomain
	}
	if v.Delegated != nil && v.Delegated.Passed {
		c.c.Account = v.Delegated.Account
	}
	c.next = next
	return c
}

// DueKeepAlive implements upgrade.M365Store, soonest due first.
func (s *Store) DueKeepAlive(_ context.Context, now time.Time, limit int) ([]upgrade.M365Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []connection
	for _, c := range s.connections {
		if !c.next.IsZero() && !c.next.After(now) {
			due = append(due, c)
		}
	}
	slices.SortFunc(due, func(a, b connection) int { return a.next.Compare(b.next) })
	keys := make([]upgrade.M365Key, 0, min(limit, len(due)))
	for _, c := range due[:min(limit, len(due))] {
		keys = append(keys, upgrade.M365Key{OperatorID: c.c.OperatorID, CustomerID: c.c.CustomerID})
	}
	return keys, nil
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
