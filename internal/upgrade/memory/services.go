package memory

import (
	"cmp"
	"context"
	"slices"

	"github.com/ocpro/upgrade/internal/upgrade"
)

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
