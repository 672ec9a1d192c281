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

// storedResponse is a response as kept for replays. Its body holds no
// working link: Links says where the answer had one, and a replay derives
// it again.
type storedResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body"`
	Links   []storedLink      `json:"links,omitempty"`
}

// storedLink is where a stored answer had an invitation's authUrl: in the
// top-level object (At "") or in one of its members (At names it).
type storedLink struct {
	At         string `json:"at,omitempty"`
	Invitation string `json:"invitation"`
}

// linkMember is the member of an answer that carries a live link.
const linkMember = "authUrl"

// withoutLinks takes every authUrl out of a JSON answer: whoever reads the
// table must not find a link that opens the wizard. Answers are objects
// whose link is either at the top (an invitation) or in one member (an
// upgrade's invitation).
func withoutLinks(body string) (string, []storedLink, error) {
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(body), &obj) != nil {
		return body, nil, nil // not an object, so no link
	}
	var links []storedLink
	take := func(at string, o map[string]json.RawMessage) bool {
		if _, ok := o[linkMember]; !ok {
			return false
		}
		var id string
		_ = json.Unmarshal(o["id"], &id) // an answer with a link names its invitation
		delete(o, linkMember)
		links = append(links, storedLink{At: at, Invitation: id})
		return true
	}
	take("", obj)
	for name, v := range obj {
		var inner map[string]json.RawMessage
		if json.Unmarshal(v, &inner) != nil {
			continue
		}
		if take(name, inner) {
			raw, err := json.Marshal(inner)
			if err != nil {
				return "", nil, err
			}
			obj[name] = raw
		}
	}
	if len(links) == 0 {
		return body, nil, nil
	}
	raw, err := json.Marshal(obj)
	return string(raw), links, err
}

// withLinks puts the links withoutLinks took back into a replayed answer,
// derived again from the invitation as it is now: a live invitation's
// current link, none for one that is no longer live.
func (h *Handler) withLinks(ctx context.Context, op string, s storedResponse) (string, error) {
	if len(s.Links) == 0 {
		return s.Body, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s.Body), &obj); err != nil {
		return "", err
	}
	for _, l := range s.Links {
		inv, err := h.portal.GetInvitation(ctx, op, l.Invitation)
		if err != nil {
			return "", err
		}
		if inv.AuthURL == "" {
			continue
		}
		url, err := json.Marshal(inv.AuthURL)
		if err != nil {
			return "", err
		}
		if l.At == "" {
			obj[linkMember] = url
			continue
		}
		var inner map[string]json.RawMessage
		if err := json.Unmarshal(obj[l.At], &inner); err != nil {
			return "", err
		}
		inner[linkMember] = url
		if obj[l.At], err = json.Marshal(inner); err != nil {
			return "", err
		}
	}
	raw, err := json.Marshal(obj)
	return string(raw), err
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
	var first events.APIGatewayV2HTTPResponse
	raw, replayed, err := h.idem.Do(ctx, "portal#"+op, key, payload, func(ctx context.Context) ([]byte, error) {
		first = h.serve(ctx, req, op, rt)
		if first.StatusCode < 200 || first.StatusCode > 299 {
			return nil, &refused{resp: first}
		}
		body, links, err := withoutLinks(first.Body)
		if err != nil {
			return nil, err
		}
		return json.Marshal(storedResponse{Status: first.StatusCode, Headers: first.Headers, Body: body, Links: links})
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
	if !replayed {
		return first
	}
	var s storedResponse
	if err := json.Unmarshal(raw, &s); err != nil {
		return h.errorResponse(ctx, req, fmt.Errorf("api: stored response of %s: %w", req.RouteKey, err))
	}
	body, err := h.withLinks(ctx, op, s)
	if err != nil {
		return h.errorResponse(ctx, req, fmt.Errorf("api: links of the stored response of %s: %w", req.RouteKey, err))
	}
	if s.Headers == nil {
		s.Headers = map[string]string{}
	}
	s.Headers["Idempotent-Replayed"] = "true"
	return events.APIGatewayV2HTTPResponse{StatusCode: s.Status, Headers: s.Headers, Body: body}
}
