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
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// completed is the type of the consent wizard's event this function takes.
var completed = event.AuthenticationCompleted{}.Type()

// HTTP serves API Gateway requests.
type HTTP interface {
	Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
}

// Tenants is what the event and schedule triggers need from the domain.
type Tenants interface {
	AuthenticationCompleted(ctx context.Context, e upgrade.AuthenticationCompleted) error
	KeepAlive(ctx context.Context) (upgrade.KeepAliveReport, error)
}

// Once runs work at most once per key (internal/idempotency's Guard).
type Once interface {
	Run(ctx context.Context, scope, key string, payload []byte, work func(context.Context) error) error
}

// The scopes of the Router's idempotency records, one per handler.
const (
	ScopeAuthenticationCompleted = "AuthenticationCompleted"
	ScopeKeepAlive               = "KeepAlive"
)

// Router dispatches one invocation by its shape.
type Router struct {
	http    HTTP
	tenants Tenants
	once    Once
	log     *slog.Logger
}

// Option configures a Router.
type Option func(*Router)

// WithOnce makes the Router serve each event and schedule id once:
// EventBridge and the scheduler deliver at least once, so a redelivery of
// work already done is acknowledged without doing it again, and one that
// meets the same work in progress fails so that it is retried later.
func WithOnce(o Once) Option { return func(r *Router) { r.once = o } }

// WithLogger sets the logger the failed-validation metric is written to
// (slog.Default otherwise).
func WithLogger(l *slog.Logger) Option { return func(r *Router) { r.log = l } }

// New returns a Router.
func New(h HTTP, t Tenants, opts ...Option) (*Router, error) {
	if h == nil || t == nil {
		return nil, errors.New("trigger: nil HTTP handler or Tenants")
	}
	r := &Router{http: h, tenants: t, log: slog.Default()}
	for _, o := range opts {
		o(r)
	}
	if r.log == nil {
		return nil, errors.New("trigger: nil logger")
	}
	return r, nil
}

// runOnce runs work under the idempotency guard when there is one and the
// event has an id.
func (r *Router) runOnce(ctx context.Context, scope string, env envelope, work func(context.Context) error) error {
	key := env.key()
	if r.once == nil || key == "" {
		return work(ctx)
	}
	payload := append([]byte(env.DetailType+"\n"), env.Detail...)
	return r.once.Run(ctx, scope, key, payload, work)
}

// key is the event's idempotency key: the detail's eventId, which stays
// the same when the outbox delivers one event twice in two envelopes, or
// the envelope id of events without one (schedules).
func (env envelope) key() string {
	return event.IdempotencyKey(env.Source, env.ID, env.Detail)
}

// envelope has the fields that tell the triggers apart.
type envelope struct {
	RouteKey   string          `json:"routeKey"`
	ID         string          `json:"id"`
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
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
	case completed.Is(env.Source, env.DetailType):
		var d event.AuthenticationCompleted
		err := event.Decode(env.Detail, &d)
		switch {
		case errors.Is(err, event.ErrVersion):
			// A sender newer than this function: the retries and the
			// dead-letter queue keep the event until it is deployed.
			return nil, fmt.Errorf("trigger: event %s: %w", env.ID, err)
		case err != nil || d.InvitationID == "" || d.OperatorID == "":
			return nil, fmt.Errorf("trigger: malformed %s event %s", env.DetailType, env.ID)
		}
		e := upgrade.AuthenticationCompleted{EventID: env.key(),
			OperatorID: d.OperatorID, CustomerID: d.CustomerID, UpgradeID: d.UpgradeID, InvitationID: d.InvitationID, TenantID: d.TenantID}
		return nil, r.runOnce(ctx, ScopeAuthenticationCompleted, env, func(ctx context.Context) error {
			return r.tenants.AuthenticationCompleted(ctx, e)
		})
	case env.DetailType == event.DetailTypeScheduled:
		// A duplicate of a finished run answers an empty report.
		var rep upgrade.KeepAliveReport
		err := r.runOnce(ctx, ScopeKeepAlive, env, func(ctx context.Context) error {
			var err error
			rep, err = r.tenants.KeepAlive(ctx)
			return err
		})
		return rep, err
	}
	return nil, fmt.Errorf("trigger: unknown invocation (detail-type %q)", env.DetailType)
}
