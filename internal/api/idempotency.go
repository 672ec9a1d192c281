package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/idempotency"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// Idempotency runs a request at most once per key (internal/idempotency's
// Guard).
type Idempotency interface {
	Do(ctx context.Context, scope, key string, payload []byte, work func(context.Context) ([]byte, error)) ([]byte, bool, error)
}

// WithIdempotency makes the state-changing routes honour an optional
// Idempotency-Key header: the same key with the same request answers the
// first response again with Idempotent-Replayed: true.
func WithIdempotency(i Idempotency) Option { return func(h *Handler) { h.idem = i } }

// replayable are the routes that create or change state through the
// idempotency layer. Creating an upgrade is not among them: it keeps its
// key in its own transaction (upgrade.Store.CreateUpgrade).
var replayable = map[string]bool{
	"POST /v1/customers":                       true,
	"POST /v1/upgrades/{id}/resume":            true,
	"POST /v1/upgrades/{id}/cancel":            true,
	"POST /v1/invitations/{id}/resend":         true,
	"POST /v1/invitations/{id}/regenerate":     true,
	"POST /v1/invitations/{id}/revoke":         true,
	"POST /v1/invitations/{id}/confirm-tenant": true,
	"POST /v1/invitations/{id}/refuse-tenant":  true,
	"PATCH /v1/customers/{id}":                 true,
	"POST /v1/settings/email/test":             true,
}

// CodeRequestInProgress is the problem code of a request whose
// Idempotency-Key is held by a request still being served.
const CodeRequestInProgress = "request_in_progress"

// storedResponse is a response as kept for replays.
type storedResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body"`
}

// refused carries a response that is not a success out of the guarded
// work: the key is then released, because a refused or failed request
// changed nothing and the client may retry it, fixed or not, with the
// same key.
type refused struct {
	resp events.APIGatewayV2HTTPResponse
}

func (r *refused) Error() string { return fmt.Sprintf("request answered %d", r.resp.StatusCode) }

// once serves req at most once per operator and Idempotency-Key. Keys are
// per operator: the scope holds the operator id, so two operators using
// the same key never see each other's answers. The payload is the route,
// the path and the body, so the same key on another request is refused.
func (h *Handler) once(ctx context.Context, req events.APIGatewayV2HTTPRequest, op, key string, rt route) events.APIGatewayV2HTTPResponse {
	if err := fault.InvalidFields(upgrade.ValidateIdempotencyKey(key)...); err != nil {
		return h.errorResponse(ctx, req, err)
	}
	payload := []byte(req.RouteKey + "\n" + req.RawPath + "\n" + req.Body)
	raw, replayed, err := h.idem.Do(ctx, "portal#"+op, key, payload, func(ctx context.Context) ([]byte, error) {
		resp := h.serve(ctx, req, op, rt)
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return nil, &refused{resp: resp}
		}
		return json.Marshal(storedResponse{Status: resp.StatusCode, Headers: resp.Headers, Body: resp.Body})
	})
	var r *refused
	switch {
	case errors.As(err, &r):
		return r.resp
	case errors.Is(err, idempotency.ErrPayloadMismatch):
		return h.errorResponse(ctx, req, fault.Field(fault.Unprocessable, upgrade.FieldIdempotencyKey, upgrade.CodeIdempotencyKeyReused,
			"This Idempotency-Key was used with a different request; use a new key for a different request."))
	case errors.Is(err, idempotency.ErrInProgress):
		return h.errorResponse(ctx, req, fault.Field(fault.Conflict, upgrade.FieldIdempotencyKey, CodeRequestInProgress,
			"A request with this Idempotency-Key is still being processed; try again shortly."))
	case err != nil:
		return h.errorResponse(ctx, req, fault.Transient(err, "The request could not be recorded; try again shortly."))
	}
	var s storedResponse
	if err := json.Unmarshal(raw, &s); err != nil {
		return h.errorResponse(ctx, req, fmt.Errorf("api: stored response of %s: %w", req.RouteKey, err))
	}
	if replayed {
		if s.Headers == nil {
			s.Headers = map[string]string{}
		}
		s.Headers["Idempotent-Replayed"] = "true"
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: s.Status, Headers: s.Headers, Body: s.Body}
}
