package upgrade

import (
	"context"
	"strings"
	"time"
)

// The Teams management permissions a licence grants (PRODUCT.md "What the
// licences grant").
const (
	PermissionUsers               = "Users"
	PermissionAssignPhoneNumbers  = "Assign Phone Numbers"
	PermissionOnlineVoiceRouting  = "Online Voice Routing"
	PermissionQueuedChanges       = "Queued Changes"
	PermissionEditUserPolicies    = "Edit User Policies"
	PermissionNumberRanges        = "Number Ranges"
	PermissionReservedNumbers     = "Reserved Numbers"
	PermissionLifeCycleManagement = "LifeCycle Management"
	PermissionAudit               = "Audit"
)

// Permissions returns the Teams management permissions the licence grants,
// in the order of the vendor's table; none for OC Essentials or an unknown
// licence.
func (l License) Permissions() []string {
	plus := []string{PermissionUsers, PermissionAssignPhoneNumbers, PermissionOnlineVoiceRouting, PermissionQueuedChanges}
	switch l {
	case EssentialsPlus:
		return plus
	case Pro:
		return append(plus, PermissionEditUserPolicies, PermissionNumberRanges, PermissionReservedNumbers,
			PermissionLifeCycleManagement, PermissionAudit)
	}
	return nil
}

// Permissions returns what the service grants: its licence's permissions
// once it is active, nothing before or after.
func (s Service) Permissions() []string {
	if s.Status != ServiceActive {
		return nil
	}
	return s.License.Permissions()
}

// The SIP connection every finished service gets (guide step 26).
const (
	SIPPort         = 5061
	SIPTransportTLS = "TLS"
	SIPStatusActive = "ACTIVE"
)

// SIPConnection is a row of a service's SIP Connections tab (guide step 26).
type SIPConnection struct {
	ID         string
	ServiceID  string
	CustomerID string
	Name       string
	// FQDN is <short name>.<operator SIP domain>, lower case.
	FQDN      string
	Port      int
	Transport string
	Status    string
	CreatedAt time.Time
}

// SIPFQDN builds the FQDN of a service's SIP connection under the
// operator's SIP domain. Short names are printable ASCII without dots or
// white space, so the result is one more DNS label under the domain.
func SIPFQDN(shortName, sipDomain string) string {
	return strings.ToLower(shortName + "." + strings.Trim(sipDomain, "."))
}

// ServiceDetails is a service with what the Service page shows beside it.
type ServiceDetails struct {
	Service
	OperatorID     string
	UpgradeID      string
	SIPConnections []SIPConnection
}

// GetService returns one of the operator's services with its permissions
// and SIP connections.
func (f *Finisher) GetService(ctx context.Context, operatorID, id string) (ServiceDetails, error) {
	s, err := f.store.GetService(ctx, operatorID, id)
	if err != nil {
		return ServiceDetails{}, storeError("get service", err, asked{})
	}
	return s, nil
}

// ListSIPConnections returns the SIP Connections tab of a service.
func (f *Finisher) ListSIPConnections(ctx context.Context, operatorID, serviceID string) ([]SIPConnection, error) {
	s, err := f.GetService(ctx, operatorID, serviceID)
	if err != nil {
		return nil, err
	}
	return s.SIPConnections, nil
}

// CustomerOverview is a row of the Tenants page with its services (guide
// step 25).
type CustomerOverview struct {
	Customer
	Services []Service
}

// GetCustomerOverview returns a customer with its licence and services.
func (f *Finisher) GetCustomerOverview(ctx context.Context, operatorID, id string) (CustomerOverview, error) {
	c, err := f.store.GetCustomer(ctx, operatorID, id)
	if err != nil {
		return CustomerOverview{}, storeError("get customer", err, asked{})
	}
	svcs, err := f.store.ListCustomerServices(ctx, operatorID, id)
	if err != nil {
		return CustomerOverview{}, storeError("list services", err, asked{})
	}
	return CustomerOverview{Customer: c, Services: svcs}, nil
}
