// Package api is the HTTP glue of the portal API: it turns API Gateway HTTP
// API (payload 2.0) events into calls of the upgrade domain and the results
// into JSON responses, and maps every error to an RFC 9457 problem document
// in one place.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// Portal is what the handler needs from the domain.
type Portal interface {
	CreateCustomer(ctx context.Context, operatorID string, in upgrade.CustomerInput) (upgrade.Customer, error)
	GetCustomer(ctx context.Context, operatorID, id string) (upgrade.Customer, error)
	ListCustomers(ctx context.Context, operatorID string, p upgrade.Page) (upgrade.List[upgrade.Customer], error)
	StartUpgrade(ctx context.Context, operatorID, customerID string, in upgrade.StartUpgradeInput) (upgrade.Upgrade, bool, error)
	GetUpgrade(ctx context.Context, operatorID, id string) (upgrade.Upgrade, error)
	ListUpgrades(ctx context.Context, operatorID string, p upgrade.Page) (upgrade.List[upgrade.Upgrade], error)
	GetInvitation(ctx context.Context, operatorID, id string) (upgrade.Invitation, error)
	ListInvitations(ctx context.Context, operatorID string, f upgrade.InvitationFilter, p upgrade.Page) (upgrade.List[upgrade.Invitation], error)
}

// DefaultOperatorClaim is the JWT claim naming the operator unless
// configured otherwise.
const DefaultOperatorClaim = "operator_id"

// maxOperatorIDLen bounds the operator claim; it becomes part of every key.
const maxOperatorIDLen = 128

// request is one decoded portal request.
type request struct {
	events.APIGatewayV2HTTPRequest
	operatorID string
}

// result is what a route produces on success.
type result struct {
	status   int
	body     any
	location string
	headers  map[string]string
}

type route func(ctx context.Context, r request) (result, error)

// Handler serves the portal API routes of UpgradeRequestsFunction.
type Handler struct {
	portal Portal
	claim  string
	log    *slog.Logger
	routes map[string]route
	// actions and settings are optional parts (invitations.go).
	actions  InvitationActions
	settings EmailSettings
	// review and customers serve the tenant routes (tenant.go).
	review    TenantReview
	customers CustomerUpdater
	// finisher serves resume, cancel and the service routes (services.go).
	finisher Finisher
	// idem replays the state-changing routes' answers (idempotency.go).
	idem Idempotency
	// limit counts each operator's requests.
	limit OperatorLimit
}

// OperatorLimit counts one request of an operator and refuses it, as a
// TooManyRequests fault with its Retry-After, beyond the operator's share
// (quota.Limiter).
type OperatorLimit interface {
	Take(ctx context.Context, operatorID string) error
}

// WithOperatorLimit gives every operator its own share of the portal API,
// so that one operator's burst cannot use up the stage's limits for the
// others.
func WithOperatorLimit(l OperatorLimit) Option { return func(h *Handler) { h.limit = l } }

// NewHandler returns a Handler. operatorClaim names the JWT claim holding
// the operator id (DefaultOperatorClaim when empty); log may be nil for
// slog.Default.
func NewHandler(portal Portal, operatorClaim string, log *slog.Logger, opts ...Option) (*Handler, error) {
	if portal == nil {
		return nil, errors.New("api: nil Portal")
	}
	if operatorClaim == "" {
		operatorClaim = DefaultOperatorClaim
	}
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{portal: portal, claim: operatorClaim, log: log}
	for _, o := range opts {
		o(h)
	}
	h.routes = map[string]route{
		"POST /v1/customers":                       h.createCustomer,
		"GET /v1/customers":                        h.listCustomers,
		"GET /v1/customers/{id}":                   h.getCustomerOverview,
		"PATCH /v1/customers/{id}":                 h.updateCustomer,
		"POST /v1/customers/{id}/upgrades":         h.createUpgrade,
		"GET /v1/upgrades":                         h.listUpgrades,
		"GET /v1/upgrades/{id}":                    h.getUpgrade,
		"GET /v1/invitations":                      h.listInvitations,
		"GET /v1/invitations/{id}":                 h.getInvitation,
		"POST /v1/upgrades/{id}/resume":            h.resume,
		"POST /v1/upgrades/{id}/cancel":            h.cancel,
		"POST /v1/invitations/{id}/resend":         h.resendInvitation,
		"POST /v1/invitations/{id}/regenerate":     h.regenerateInvitation,
		"POST /v1/invitations/{id}/revoke":         h.revokeInvitation,
		"POST /v1/invitations/{id}/confirm-tenant": h.confirmTenant,
		"POST /v1/invitations/{id}/refuse-tenant":  h.refuseTenant,
		"GET /v1/services/{id}":                    h.getService,
		"GET /v1/services/{id}/sip-connections":    h.listSIPConnections,
		"GET /v1/settings/email":                   h.getEmailSettings,
		"PUT /v1/settings/email":                   h.putEmailSettings,
		"POST /v1/settings/email/test":             h.testEmailSettings,
	}
	return h, nil
}

// Routes returns the route keys the handler answers, for tests that compare
// them with template.yaml.
func (h *Handler) Routes() []string {
	keys := make([]string, 0, len(h.routes))
	for k := range h.routes {
		keys = append(keys, k)
	}
	return keys
}

// Handle serves one API Gateway request. Expected failures are responses,
// not errors, so it always returns a nil error.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	rt, ok := h.routes[req.RouteKey]
	if !ok {
		return h.errorResponse(ctx, req, &httpError{status: http.StatusNotFound, typ: "not-found", title: "Not found.",
			detail: "No such route."}), nil
	}
	op, refused := h.operator(req)
	if refused != nil {
		return h.errorResponse(ctx, req, refused), nil
	}
	if h.limit != nil {
		if err := h.limit.Take(ctx, op); err != nil {
			return h.errorResponse(ctx, req, err), nil
		}
	}
	if key, ok := lookupHeader(req, "idempotency-key"); ok && h.idem != nil && replayable[req.RouteKey] {
		return h.once(ctx, req, op, key, rt), nil
	}
	return h.serve(ctx, req, op, rt), nil
}

// serve runs one route for operator op.
func (h *Handler) serve(ctx context.Context, req events.APIGatewayV2HTTPRequest, op string, rt route) events.APIGatewayV2HTTPResponse {
	res, err := rt(ctx, request{APIGatewayV2HTTPRequest: req, operatorID: op})
	if err != nil {
		return h.errorResponse(ctx, req, err)
	}
	headers := res.headers
	if res.location != "" {
		if headers == nil {
			headers = map[string]string{}
		}
		headers["Location"] = res.location
	}
	h.log.InfoContext(ctx, "request served", "route", req.RouteKey, "status", res.status, "apiRequestId", req.RequestContext.RequestID)
	return respond(res.status, "application/json", res.body, headers)
}

// operator reads the operator the caller works for from the token the
// authorizer accepted. No token is 401; a valid token that names no
// operator (an account of the operator's tenant that is not its staff) is
// 403, because signing in again cannot change it.
func (h *Handler) operator(req events.APIGatewayV2HTTPRequest) (string, *httpError) {
	a := req.RequestContext.Authorizer
	if a == nil || a.JWT == nil {
		return "", &httpError{status: http.StatusUnauthorized, typ: "unauthenticated", title: "Unauthenticated",
			detail: "The request carries no token."}
	}
	notStaff := &httpError{status: http.StatusForbidden, typ: "not-staff", title: "Forbidden",
		detail: "The token does not name an operator: the account is not staff of an operator."}
	op := a.JWT.Claims[h.claim]
	if op == "" || len(op) > maxOperatorIDLen {
		return "", notStaff
	}
	for i := 0; i < len(op); i++ {
		if op[i] <= 0x20 || op[i] >= 0x7f || op[i] == '#' {
			return "", notStaff
		}
	}
	return op, nil
}

// notWired answers a route whose part the Handler was built without (see
// Option). The functions wire every part; tests build handlers with fewer.
func notWired(context.Context, request) (result, error) {
	return result{}, &httpError{status: http.StatusNotImplemented, typ: "not-implemented", title: "Not implemented",
		detail: "This deployment does not serve this operation."}
}

// pathID returns the {id} path parameter; ids are short opaque tokens, so
// anything else cannot exist and is answered as not found.
func pathID(r request) (string, error) {
	id := r.PathParameters["id"]
	if !validID(id) {
		return "", fault.NotFoundf("Not found.")
	}
	return id, nil
}

// validID reports whether s looks like an id this service issues: 1 to 64
// letters, digits, '-' or '_'. Anything else (a '#' above all) could only
// confuse the store's keys.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// page reads limit and cursor from the query string.
func page(r request) (upgrade.Page, []fault.FieldError) {
	p := upgrade.Page{Cursor: r.QueryStringParameters["cursor"]}
	if s, ok := r.QueryStringParameters["limit"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			return p, []fault.FieldError{{Field: upgrade.FieldLimit, Code: codeWrongType, Message: "The limit must be a whole number."}}
		}
		if n == 0 {
			n = -1 // an explicit 0 is out of range, not "the default"
		}
		p.Limit = n
	}
	return p, nil
}

type newCustomerBody struct {
	name, kind, domain, tenantID string
}

func (h *Handler) createCustomer(ctx context.Context, r request) (result, error) {
	raw, err := body(r.APIGatewayV2HTTPRequest)
	if err != nil {
		return result{}, err
	}
	var b newCustomerBody
	if err := decodeObject(raw,
		field{name: "name", required: true, into: &b.name},
		field{name: "kind", required: true, into: &b.kind},
		field{name: "domain", into: &b.domain},
		field{name: "tenantId", into: &b.tenantID},
	); err != nil {
		return result{}, err
	}
	c, err := h.portal.CreateCustomer(ctx, r.operatorID, upgrade.CustomerInput{Name: b.name, Kind: b.kind, Domain: b.domain,
		TenantID: b.tenantID})
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusCreated, body: customerOut(c), location: "/v1/customers/" + c.ID}, nil
}

func (h *Handler) getCustomer(ctx context.Context, r request) (result, error) {
	id, err := pathID(r)
	if err != nil {
		return result{}, err
	}
	c, err := h.portal.GetCustomer(ctx, r.operatorID, id)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: customerOut(c)}, nil
}

func (h *Handler) listCustomers(ctx context.Context, r request) (result, error) {
	p, errs := page(r)
	if err := fault.InvalidFields(errs...); err != nil {
		return result{}, err
	}
	l, err := h.portal.ListCustomers(ctx, r.operatorID, p)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: listOut(l, customerOut)}, nil
}

// decodeStartUpgrade decodes the body of POST /v1/customers/{id}/upgrades.
// sendInvitation defaults to true, as the wizard's check box does (guide
// step 6).
func decodeStartUpgrade(raw []byte) (upgrade.StartUpgradeInput, error) {
	var in upgrade.StartUpgradeInput
	var sendSet bool
	err := decodeObject(raw,
		field{name: upgrade.FieldServiceFullName, required: true, into: &in.ServiceFullName},
		field{name: upgrade.FieldServiceShortName, required: true, into: &in.ServiceShortName},
		field{name: upgrade.FieldLicenseType, required: true, into: &in.LicenseType},
		field{name: upgrade.FieldLicensedUsers, required: true, into: &in.LicensedUsers},
		field{name: upgrade.FieldAdminEmail, into: &in.AdminEmail},
		field{name: "sendInvitation", into: &in.SendInvitation, set: &sendSet},
	)
	if !sendSet {
		in.SendInvitation = true
	}
	return in, err
}

func (h *Handler) createUpgrade(ctx context.Context, r request) (result, error) {
	customerID, err := pathID(r)
	if err != nil {
		return result{}, err
	}
	raw, err := body(r.APIGatewayV2HTTPRequest)
	if err != nil {
		return result{}, err
	}
	in, err := decodeStartUpgrade(raw)
	if err != nil {
		return result{}, err
	}
	if key, ok := lookupHeader(r.APIGatewayV2HTTPRequest, "idempotency-key"); ok {
		in.IdempotencyKey = key
		if err := fault.InvalidFields(upgrade.ValidateIdempotencyKey(in.IdempotencyKey)...); err != nil {
			return result{}, err
		}
	}
	u, replayed, err := h.portal.StartUpgrade(ctx, r.operatorID, customerID, in)
	if err != nil {
		return result{}, err
	}
	res := result{status: http.StatusCreated, body: upgradeOut(u), location: "/v1/upgrades/" + u.ID}
	if replayed {
		res.headers = map[string]string{"Idempotent-Replayed": "true"}
	}
	return res, nil
}

func (h *Handler) getUpgrade(ctx context.Context, r request) (result, error) {
	id, err := pathID(r)
	if err != nil {
		return result{}, err
	}
	u, err := h.portal.GetUpgrade(ctx, r.operatorID, id)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: upgradeOut(u)}, nil
}

func (h *Handler) listUpgrades(ctx context.Context, r request) (result, error) {
	p, errs := page(r)
	if err := fault.InvalidFields(errs...); err != nil {
		return result{}, err
	}
	l, err := h.portal.ListUpgrades(ctx, r.operatorID, p)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: listOut(l, upgradeOut)}, nil
}

func (h *Handler) getInvitation(ctx context.Context, r request) (result, error) {
	id, err := pathID(r)
	if err != nil {
		return result{}, err
	}
	inv, err := h.portal.GetInvitation(ctx, r.operatorID, id)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: invitationOut(inv)}, nil
}

func (h *Handler) listInvitations(ctx context.Context, r request) (result, error) {
	p, errs := page(r)
	q := r.QueryStringParameters
	status, e := upgrade.ValidateInvitationStatus(q["status"])
	errs = append(errs, e...)
	if err := fault.InvalidFields(errs...); err != nil {
		return result{}, err
	}
	for _, name := range []string{"customerId", "tokenId"} {
		if v, ok := q[name]; ok && !validID(v) {
			errs = append(errs, fault.FieldError{Field: name, Code: upgrade.CodeUnknownValue, Message: "This is not an id this service issues."})
		}
	}
	if err := fault.InvalidFields(errs...); err != nil {
		return result{}, err
	}
	f := upgrade.InvitationFilter{Status: status, CustomerID: q["customerId"], TokenID: q["tokenId"]}
	l, err := h.portal.ListInvitations(ctx, r.operatorID, f, p)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: listOut(l, invitationOut)}, nil
}
