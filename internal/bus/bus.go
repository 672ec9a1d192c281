// Package bus publishes the service's domain events to its EventBridge bus,
// where the rules of template.yaml route them to the other functions.
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// Source is the source of every event this package publishes.
const Source = "ocpro.upgrades"

// DetailTypeInvitationCreated asks the invitation email function for the
// Welcome mail.
const DetailTypeInvitationCreated = "Invitation Created"

// PutEventsAPI is the one EventBridge call the publisher makes.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Publisher puts domain events on one bus.
type Publisher struct {
	client PutEventsAPI
	bus    string
}

var _ upgrade.Publisher = (*Publisher)(nil)

// NewPublisher returns a Publisher on the named bus.
func NewPublisher(client PutEventsAPI, busName string) (*Publisher, error) {
	if client == nil {
		return nil, errors.New("bus: nil EventBridge client")
	}
	if busName == "" {
		return nil, errors.New("bus: empty event bus name")
	}
	return &Publisher{client: client, bus: busName}, nil
}

// InvitationCreatedDetail is the detail of an Invitation Created event: ids
// only, never the link or the administrator's address.
type InvitationCreatedDetail struct {
	InvitationID string `json:"invitationId"`
	OperatorID   string `json:"operatorId"`
	CustomerID   string `json:"customerId"`
	UpgradeID    string `json:"upgradeId"`
	ServiceID    string `json:"serviceId"`
}

// InvitationCreated implements upgrade.Publisher.
func (p *Publisher) InvitationCreated(ctx context.Context, e upgrade.InvitationCreated) error {
	return p.put(ctx, DetailTypeInvitationCreated, InvitationCreatedDetail{
		InvitationID: e.InvitationID, OperatorID: e.OperatorID, CustomerID: e.CustomerID,
		UpgradeID: e.UpgradeID, ServiceID: e.ServiceID,
	})
}

func (p *Publisher) put(ctx context.Context, detailType string, detail any) error {
	return put(ctx, p.client, p.bus, Source, detailType, detail)
}

// put puts one event and reports a rejected entry as an error.
func put(ctx context.Context, client PutEventsAPI, bus, source, detailType string, detail any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("bus: encode %s: %w", detailType, err)
	}
	out, err := client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
		EventBusName: aws.String(bus), Source: aws.String(source),
		DetailType: aws.String(detailType), Detail: aws.String(string(b)),
	}}})
	if err != nil {
		return fmt.Errorf("bus: put %s: %w", detailType, err)
	}
	// PutEvents answers 200 even when an entry failed; only the count tells.
	if out.FailedEntryCount > 0 {
		code, msg := "", ""
		if len(out.Entries) > 0 {
			code, msg = aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage)
		}
		return fmt.Errorf("bus: %s rejected: %s %s", detailType, code, msg)
	}
	return nil
}
