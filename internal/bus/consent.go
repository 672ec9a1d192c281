package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

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
	b, err := json.Marshal(AuthenticationCompletedDetail{InvitationID: e.InvitationID, OperatorID: e.OperatorID,
		CustomerID: e.CustomerID, UpgradeID: e.UpgradeID, ServiceID: e.ServiceID, TenantID: e.TenantID})
	if err != nil {
		return fmt.Errorf("bus: encode %s: %w", DetailTypeAuthenticationCompleted, err)
	}
	out, err := p.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
		EventBusName: aws.String(p.bus), Source: aws.String(ConsentSource),
		DetailType: aws.String(DetailTypeAuthenticationCompleted), Detail: aws.String(string(b)),
	}}})
	if err != nil {
		return fmt.Errorf("bus: put %s: %w", DetailTypeAuthenticationCompleted, err)
	}
	// PutEvents answers 200 even when the entry failed; only the count tells.
	if out.FailedEntryCount > 0 && len(out.Entries) > 0 {
		return fmt.Errorf("bus: %s rejected: %s", DetailTypeAuthenticationCompleted, aws.ToString(out.Entries[0].ErrorCode))
	}
	return nil
}
