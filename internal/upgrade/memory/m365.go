package memory

import (
	"context"
	"slices"
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
)

var _ upgrade.M365Store = (*Store)(nil)

// connection is a stored M365 connection with its keep-alive time and the
// last event that saved a validation.
type connection struct {
	c         upgrade.M365Connection
	next      time.Time
	lastEvent string
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
