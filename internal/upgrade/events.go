package upgrade

import (
	"fmt"

	"github.com/ocpro/upgrade/internal/event"
)

// The events the use cases announce. Each is handed to the store in the
// same call that commits the state change causing it, so the store writes
// it to its outbox in the same transaction: a committed change always has
// its event, a change that lost its condition never does, and nothing is
// sent after the commit, where a crash would lose it.

// InvitationCreatedEvent asks for the Welcome mail of u's new invitation.
// It carries ids only: never the link or the administrator's address.
func InvitationCreatedEvent(u Upgrade) event.Detail {
	return &event.InvitationCreated{InvitationID: u.Invitation.ID, OperatorID: u.OperatorID, CustomerID: u.CustomerID,
		UpgradeID: u.ID, ServiceID: u.Service.ID}
}

// MailRequestedEvent asks the mail function for one mail of one link
// generation.
func MailRequestedEvent(r MailRequest) event.Detail {
	return &event.InvitationMailRequested{InvitationID: r.InvitationID, OperatorID: r.OperatorID,
		Generation: r.Generation, Mail: string(r.Mail)}
}

// InvitationExpiredEvent says inv's link expired.
func InvitationExpiredEvent(inv Invitation) event.Detail {
	return &event.InvitationExpired{InvitationID: inv.ID, OperatorID: inv.OperatorID, CustomerID: inv.CustomerID,
		UpgradeID: inv.UpgradeID}
}

// AuthenticationCompletedEvent says inv's tenant proved its consent,
// whether the wizard proved it or staff confirmed the tenant: the token
// validation function receives it either way.
func AuthenticationCompletedEvent(inv Invitation, tenantID string) event.Detail {
	return &event.AuthenticationCompleted{InvitationID: inv.ID, OperatorID: inv.OperatorID, CustomerID: inv.CustomerID,
		UpgradeID: inv.UpgradeID, ServiceID: inv.ServiceID, TenantID: tenantID}
}

// ServiceUpgradedEvent announces a finished upgrade of u's service svc in
// tenantID: ids, the tenant and the licence, nothing secret.
func ServiceUpgradedEvent(u Upgrade, svc Service, tenantID string) event.Detail {
	return &event.ServiceUpgraded{OperatorID: u.OperatorID, CustomerID: u.CustomerID, UpgradeID: u.ID,
		ServiceID: svc.ID, TenantID: tenantID, LicenseType: string(svc.License), LicensedUsers: svc.LicensedUsers}
}

// Announce encodes d with a new event id for the store's outbox. Encoding
// the service's own detail types cannot fail short of a bug, which is
// reported rather than hidden.
func Announce(d event.Detail) ([]event.Message, error) {
	m, err := event.NewMessage(d)
	if err != nil {
		return nil, fmt.Errorf("announce %s: %w", d.Type().DetailType, err)
	}
	return []event.Message{m}, nil
}
