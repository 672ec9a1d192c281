package bus

import (
	"context"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/upgrade"
)

var _ upgrade.FinishPublisher = (*Publisher)(nil)

// ServiceUpgraded implements upgrade.FinishPublisher.
func (p *Publisher) ServiceUpgraded(ctx context.Context, e upgrade.ServiceUpgraded) error {
	return put(ctx, p.client, p.bus, &event.ServiceUpgraded{OperatorID: e.OperatorID, CustomerID: e.CustomerID,
		UpgradeID: e.UpgradeID, ServiceID: e.ServiceID, TenantID: e.TenantID, LicenseType: string(e.License), LicensedUsers: e.LicensedUsers})
}
