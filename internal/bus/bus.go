// Package bus publishes the service's events (internal/event) to its
// EventBridge bus, where the rules of template.yaml route them to the other
// functions. It turns the domain's announcements into the events' details
// and nothing else.
package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// PutEventsAPI is the one EventBridge call the publishers make.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Publisher puts the portal's and the sweep's events (source
// ocpro.upgrades) on one bus.
type Publisher struct {
	client PutEventsAPI
	bus    string
}

var _ upgrade.Publisher = (*Publisher)(nil)

// NewPublisher returns a Publisher on the named bus.
func NewPublisher(client PutEventsAPI, busName string) (*Publisher, error) {
	if err := check(client, busName); err != nil {
		return nil, err
	}
	return &Publisher{client: client, bus: busName}, nil
}

func check(client PutEventsAPI, busName string) error {
	if client == nil {
		return errors.New("bus: nil EventBridge client")
	}
	if busName == "" {
		return errors.New("bus: empty event bus name")
	}
	return nil
}

// InvitationCreated implements upgrade.Publisher.
func (p *Publisher) InvitationCreated(ctx context.Context, e upgrade.InvitationCreated) error {
	return put(ctx, p.client, p.bus, &event.InvitationCreated{
		InvitationID: e.InvitationID, OperatorID: e.OperatorID, CustomerID: e.CustomerID,
		UpgradeID: e.UpgradeID, ServiceID: e.ServiceID,
	})
}

// put puts one event and reports a rejected entry as an error.
func put(ctx context.Context, client PutEventsAPI, bus string, d event.Detail) error {
	t := d.Type()
	b, err := event.Encode(d)
	if err != nil {
		return fmt.Errorf("bus: %w", err)
	}
	out, err := client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
		EventBusName: aws.String(bus), Source: aws.String(t.Source),
		DetailType: aws.String(t.DetailType), Detail: aws.String(string(b)),
	}}})
	if err != nil {
		return fmt.Errorf("bus: put %s: %w", t.DetailType, err)
	}
	// PutEvents answers 200 even when an entry failed; only the count tells.
	if out.FailedEntryCount > 0 {
		code, msg := "", ""
		if len(out.Entries) > 0 {
			code, msg = aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage)
		}
		return fmt.Errorf("bus: %s rejected: %s %s", t.DetailType, code, msg)
	}
	return nil
}
