package bus

import (
	"context"
	"errors"

	"github.com/ocpro/upgrade/internal/wizard"
)

// ConsentSource is the source of the consent wizard's events; the token
// validation function's rule in template.yaml matches it.
const ConsentSource = "ocpro.consent"

// DetailTypeAuthenticationCompleted says a tenant proved its consent.
const DetailTypeAuthenticationCompleted = "Authentication Completed"

// ConsentPublisher puts the consent wizard's events on the bus.
type ConsentPublisher struct {
	client PutEventsAPI
	bus    string
}

var _ wizard.Publisher = (*ConsentPublisher)(nil)

// NewConsentPublisher returns a ConsentPublisher on the named bus.
func NewConsentPublisher(client PutEventsAPI, busName string) (*ConsentPublisher, error) {
	if client == nil {
		return nil, errors.New("bus: nil EventBridge client")
	}
	if busName == "" {
		return nil, errors.New("bus: empty event bus name")
	}
	return &ConsentPublisher{client: client, bus: busName}, nil
}

// AuthenticationCompletedDetail is the event's detail: ids and the tenant,
// never a token.
type AuthenticationCompletedDetail struct {
	InvitationID string `json:"invitationId"`
	OperatorID   string `json:"operatorId"`
	CustomerID   string `json:"customerId"`
	UpgradeID    string `json:"upgradeId"`
	ServiceID    string `json:"serviceId"`
	TenantID     string `json:"tenantId"`
}

// AuthenticationCompleted implements wizard.Publisher.
func (p *ConsentPublisher) AuthenticationCompleted(ctx context.Context, e wizard.AuthenticationCompleted) error {
	return put(ctx, p.client, p.bus, ConsentSource, DetailTypeAuthenticationCompleted, AuthenticationCompletedDetail{
		InvitationID: e.InvitationID, OperatorID: e.OperatorID, CustomerID: e.CustomerID,
		UpgradeID: e.UpgradeID, ServiceID: e.ServiceID, TenantID: e.TenantID,
	})
}
