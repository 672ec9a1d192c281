package bus

import (
	"context"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// DetailTypeServiceUpgraded announces a finished upgrade.
const DetailTypeServiceUpgraded = "Service Upgraded"

var _ upgrade.FinishPublisher = (*Publisher)(nil)

// ServiceUpgradedDetail is the detail of a Service Upgraded event: ids,
// the tenant and the licence, nothing secret.
type ServiceUpgradedDetail struct {
	OperatorID    string `json:"operatorId"`
	CustomerID    string `json:"customerId"`
	UpgradeID     string `json:"upgradeId"`
	ServiceID     string `json:"serviceId"`
	TenantID      string `json:"tenantId"`
	LicenseType   string `json:"licenseType"`
	LicensedUsers int    `json:"licensedUsers"`
}

// ServiceUpgraded implements upgrade.FinishPublisher.
func (p *Publisher) ServiceUpgraded(ctx context.Context, e upgrade.ServiceUpgraded) error {
	return p.put(ctx, DetailTypeServiceUpgraded, ServiceUpgradedDetail{OperatorID: e.OperatorID, CustomerID: e.CustomerID,
		UpgradeID: e.UpgradeID, ServiceID: e.ServiceID, TenantID: e.TenantID, LicenseType: string(e.License), LicensedUsers: e.LicensedUsers})
}
