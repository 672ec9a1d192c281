// Package trigger is the glue of TokenValidationFunction: one Lambda
// handler for its three triggers (the M365 Settings routes from API
// Gateway, the consent wizard's Authentication Completed event and the
// keep-alive schedule), each turned into one domain call.
package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// HTTP serves API Gateway requests.
type HTTP interface {
	Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
}

// Tenants is what the event and schedule triggers need from the domain.
type Tenants interface {
	AuthenticationCompleted(ctx context.Context, e upgrade.AuthenticationCompleted) error
	KeepAlive(ctx context.Context) (upgrade.KeepAliveReport, error)
}

// The triggers' EventBridge identities.
const (
	DetailTypeAuthenticationCompleted = "Authentication Completed"
	DetailTypeScheduled               = "Scheduled Event"
)

// Router dispatches one invocation by its shape.
type Router struct {
	http    HTTP
	tenants Tenants
}

// New returns a Router.
func New(h HTTP, t Tenants) (*Router, error) {
	if h == nil || t == nil {
		return nil, errors.New("trigger: nil HTTP handler or Tenants")
	}
	return &Router{http: h, tenants: t}, nil
}

// envelope has the fields that tell the triggers apart.
type envelope struct {
	RouteKey   string          `json:"routeKey"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
}

// completedDetail is the Authentication Completed detail (internal/bus).
type completedDetail struct {
	InvitationID string `json:"invitationId"`
	OperatorID   string `json:"operatorId"`
	CustomerID   string `json:"customerId"`
	UpgradeID    string `json:"upgradeId"`
	TenantID     string `json:"tenantId"`
}

// Handle serves one invocation. Event and schedule failures are returned
// as errors so that EventBridge retries and then dead-letters them.
func (r *Router) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("trigger: undecodable invocation: %w", err)
	}
	switch {
	case env.RouteKey != "":
		var req events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, fmt.Errorf("trigger: decode API Gateway request: %w", err)
		}
		return r.http.Handle(ctx, req)
	case env.DetailType == DetailTypeAuthenticationCompleted:
		var d completedDetail
		if err := json.Unmarshal(env.Detail, &d); err != nil || d.InvitationID == "" || d.OperatorID == "" {
			// Retrying a malformed event cannot help; say so and drop it.
			return nil, fmt.Errorf("trigger: malformed %s event %s", env.DetailType, env.ID)
		}
		return nil, r.tenants.AuthenticationCompleted(ctx, upgrade.AuthenticationCompleted{EventID: env.ID,
			OperatorID: d.OperatorID, CustomerID: d.CustomerID, UpgradeID: d.UpgradeID, InvitationID: d.InvitationID, TenantID: d.TenantID})
	case env.DetailType == DetailTypeScheduled:
		rep, err := r.tenants.KeepAlive(ctx)
		return rep, err
	}
	return nil, fmt.Errorf("trigger: unknown invocation (detail-type %q)", env.DetailType)
}
