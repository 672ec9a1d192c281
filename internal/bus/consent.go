package bus

import (
	"context"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

// ConsentPublisher puts the consent wizard's events (source ocpro.consent)
// on the bus.
type ConsentPublisher struct {
	client PutEventsAPI
	bus    string
}

var _ wizard.Publisher = (*ConsentPublisher)(nil)

// NewConsentPublisher returns a ConsentPublisher on the named bus.
func NewConsentPublisher(client PutEventsAPI, busName string) (*ConsentPublisher, error) {
	if err := check(client, busName); err != nil {
		return nil, err
	}
	return &ConsentPublisher{client: client, bus: busName}, nil
}

// AuthenticationCompleted implements wizard.Publisher.
func (p *ConsentPublisher) AuthenticationCompleted(ctx context.Context, e wizard.AuthenticationCompleted) error {
	return put(ctx, p.client, p.bus, &event.AuthenticationCompleted{
		InvitationID: e.InvitationID, OperatorID: e.OperatorID, CustomerID: e.CustomerID,
		UpgradeID: e.UpgradeID, ServiceID: e.ServiceID, TenantID: e.TenantID,
	})
}

var _ upgrade.CompletionPublisher = (*Publisher)(nil)

// AuthenticationCompleted implements upgrade.CompletionPublisher: staff
// confirming a tenant completes an authentication as the wizard does, and
// announces it with the same event (source ocpro.consent), which the
// token validation function receives either way.
func (p *Publisher) AuthenticationCompleted(ctx context.Context, e upgrade.AuthenticationCompleted) error {
	return put(ctx, p.client, p.bus, &event.AuthenticationCompleted{
		InvitationID: e.InvitationID, OperatorID: e.OperatorID, CustomerID: e.CustomerID,
		UpgradeID: e.UpgradeID, ServiceID: e.ServiceID, TenantID: e.TenantID,
	})
}
