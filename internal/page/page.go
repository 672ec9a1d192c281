// Package page serves the public pages of the consent callback function:
// the Token Invitation wizard, Microsoft's return to /consent/callback, the
// Tenant Activation page and their first-party assets. It turns API Gateway
// events into calls of the wizard and views into HTML; the pages are templ
// components compiled to Go (page.templ), with embedded assets and no
// third-party resources, under a strict Content-Security-Policy. They are
// not html/template: executing one keeps every exported method of the
// binary alive and doubles the function's size.
package page

import (
	"context"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

//go:embed assets/*
var assetFS embed.FS

// Wizard is what the pages need from the wizard.
type Wizard interface {
	Open(ctx context.Context, token, binding string) (wizard.View, error)
	Poll(ctx context.Context, token, binding string) (wizard.View, error)
	StartDevice(ctx context.Context, token, binding, form string) (wizard.View, error)
	StartSignIn(ctx context.Context, token, binding, form string) (wizard.Result, error)
	Continue(ctx context.Context, token, binding, form string) (wizard.Result, error)
	HandleCallback(ctx context.Context, cb wizard.Callback, binding string) (wizard.Result, error)
}

// Config configures a Handler.
type Config struct {
	Wizard Wizard
	// PublicBaseURL decides the cookie: https gets a __Host- cookie with
	// Secure; plain http (the local stack on 127.0.0.1 only) drops both,
	// because browsers refuse Secure cookies from http origins.
	PublicBaseURL string
	// AuthorityHost is allowed as a form target in the CSP: the sign-in
	// forms redirect there.
	AuthorityHost string
	OperatorName  string
	Logger        *slog.Logger
}

// Handler serves the public routes.
type Handler struct {
	c      Config
	cookie string
	secure bool
	csp    string
}

// NewHandler returns a Handler, checking its configuration.
func NewHandler(c Config) (*Handler, error) {
	if c.Wizard == nil {
		return nil, errors.New("page: nil Wizard")
	}
	if c.Logger == nil {
		return nil, errors.New("page: nil Logger")
	}
	if c.OperatorName == "" {
		return nil, errors.New("page: empty operator name")
	}
	base, err := url.Parse(c.PublicBaseURL)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("page: public base URL %q is not absolute", c.PublicBaseURL)
	}
	h := &Handler{c: c}
	switch {
	case base.Scheme == "https":
		h.cookie, h.secure = "__Host-ocpro-binding", true
	case base.Scheme == "http" && base.Hostname() == "127.0.0.1":
		h.cookie = "ocpro-binding"
	default:
		return nil, fmt.Errorf("page: public base URL %q must be https (plain http only on 127.0.0.1)", c.PublicBaseURL)
	}
	auth, err := url.Parse(c.AuthorityHost)
	if err != nil || auth.Scheme != "https" || auth.Host == "" {
		return nil, fmt.Errorf("page: authority host %q is not an https URL", c.AuthorityHost)
	}
	h.csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"form-action 'self' " + auth.Scheme + "://" + auth.Host + "; frame-ancestors 'none'; base-uri 'none'"
	return h, nil
}

// Handle serves one API Gateway request. Only the route key is logged:
// paths and queries carry link tokens, codes and states.
func (h *Handler) Handle(ctx context.Context, r events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	resp := h.route(ctx, r)
	h.c.Logger.InfoContext(ctx, "public page", "route", r.RouteKey, "status", resp.StatusCode)
	return resp, nil
}

func (h *Handler) route(ctx context.Context, r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	token := r.PathParameters["token"]
	binding := h.binding(r)
	switch r.RouteKey {
	case "GET /assets/{file}":
		return asset(r.PathParameters["file"])
	case "GET /invite/{token}":
		v, err := h.c.Wizard.Open(ctx, token, binding.value)
		return h.render(ctx, v, err, binding)
	case "GET /invite/{token}/status":
		v, err := h.c.Wizard.Poll(ctx, token, binding.value)
		if strings.Contains(header(r, "accept"), "application/json") {
			return h.status(ctx, v, err)
		}
		return h.render(ctx, v, err, binding)
	case "POST /invite/{token}/{action}":
		form := formValue(r, "form")
		switch r.PathParameters["action"] {
		case "device":
			v, err := h.c.Wizard.StartDevice(ctx, token, binding.value, form)
			return h.render(ctx, v, err, binding)
		case "signin":
			res, err := h.c.Wizard.StartSignIn(ctx, token, binding.value, form)
			return h.result(ctx, res, err, binding)
		case "continue":
			res, err := h.c.Wizard.Continue(ctx, token, binding.value, form)
			return h.result(ctx, res, err, binding)
		}
		return h.page(ctx, http.StatusNotFound, viewNeutral, "Token Invitation wizard", wizard.View{}, binding)
	case "GET /consent/callback":
		q := r.QueryStringParameters
		res, err := h.c.Wizard.HandleCallback(ctx, wizard.Callback{State: q["state"], Code: q["code"], Error: q["error"],
			ErrorDescription: q["error_description"], AdminConsent: q["admin_consent"], Tenant: q["tenant"]}, binding.value)
		return h.result(ctx, res, err, binding)
	}
	return h.page(ctx, http.StatusNotFound, viewNeutral, "Token Invitation wizard", wizard.View{}, binding)
}

// cookieState is the browser binding: the value, and whether it must be
// set on the response because the browser had none.
type cookieState struct {
	value string
	fresh bool
}

func (h *Handler) binding(r events.APIGatewayV2HTTPRequest) cookieState {
	for _, c := range r.Cookies {
		name, value, ok := strings.Cut(strings.TrimSpace(c), "=")
		if ok && name == h.cookie && len(value) == 43 {
			return cookieState{value: value}
		}
	}
	return cookieState{value: wizard.NewBinding(), fresh: true}
}

func (h *Handler) result(ctx context.Context, res wizard.Result, err error, b cookieState) events.APIGatewayV2HTTPResponse {
	if err == nil && res.Redirect != "" {
		resp := events.APIGatewayV2HTTPResponse{StatusCode: http.StatusSeeOther, Headers: h.headers("text/plain; charset=utf-8")}
		resp.Headers["Location"] = res.Redirect
		h.setCookie(&resp, b)
		return resp
	}
	return h.render(ctx, res.View, err, b)
}

// render writes a view, or the page of an error: the neutral page for
// every link that does not work (same status, same body), the expired
// form page, or a generic failure whose detail is only logged.
func (h *Handler) render(ctx context.Context, v wizard.View, err error, b cookieState) events.APIGatewayV2HTTPResponse {
	switch {
	case errors.Is(err, wizard.ErrNeutral):
		return h.page(ctx, http.StatusNotFound, viewNeutral, "Token Invitation wizard", wizard.View{}, b)
	case errors.Is(err, wizard.ErrForm):
		return h.page(ctx, http.StatusForbidden, viewForm, "Token Invitation wizard", wizard.View{}, b)
	case err != nil:
		h.c.Logger.ErrorContext(ctx, "wizard step failed", "error", err)
		return h.page(ctx, http.StatusInternalServerError, viewError, "Token Invitation wizard", wizard.View{}, b)
	}
	title := "Token Invitation wizard"
	status := http.StatusOK
	switch v.Step {
	case wizard.StepActivated:
		title = "Tenant Activation"
	case wizard.StepFinishing:
		title = "Finishing authentication"
	case wizard.StepConfirming:
		title = "Waiting for confirmation"
	case wizard.StepProblem:
		title = "Authentication not completed"
		status = http.StatusBadRequest
		if v.Problem == wizard.ProblemTooMany {
			status = http.StatusTooManyRequests
		}
	}
	return h.page(ctx, status, viewStep, title, v, b)
}

// view is which page a document shows: the wizard's step, or one of the
// fixed pages that show nothing of the wizard's view.
type view int

// The pages.
const (
	viewStep view = iota
	viewNeutral
	viewForm
	viewError
)

// pageData is what the page components see.
type pageData struct {
	View        view
	Title       string
	Operator    string
	V           wizard.View
	Poll        bool
	PollSeconds int
	// Refresh makes the page ask the status route again after
	// PollSeconds, without script (the finishing page).
	Refresh bool
}

// check refuses what the components cannot show: a device step without
// its attempt. The wizard never returns one; should it, the page is a
// failed render, as it was with html/template, rather than a panic.
func (d pageData) check() error {
	if d.View == viewStep && d.V.Step == wizard.StepDevice && d.V.Device == nil {
		return errors.New("page: device step without a device code attempt")
	}
	return nil
}

func (h *Handler) page(ctx context.Context, status int, view view, title string, v wizard.View, b cookieState) events.APIGatewayV2HTTPResponse {
	d := pageData{View: view, Title: title, Operator: h.c.OperatorName, V: v}
	if view == viewStep && v.Step == wizard.StepDevice && v.Device != nil && v.Device.Outcome == wizard.OutcomeNone {
		d.Poll, d.PollSeconds = true, max(int(v.Device.Interval.Seconds()), 1)
	}
	if view == viewStep && v.Step == wizard.StepFinishing {
		d.Refresh, d.PollSeconds = true, max(int(v.RetryIn.Round(time.Second).Seconds()), 1)
	}
	var sb strings.Builder
	err := d.check()
	if err == nil {
		err = document(d).Render(ctx, &sb)
	}
	if err != nil {
		// Never half a page: a failed render is a failure on our side.
		h.c.Logger.ErrorContext(ctx, "render page", "error", err)
		sb.Reset()
		sb.WriteString("<!doctype html><title>Error</title><p>Something went wrong on our side.</p>")
		status = http.StatusInternalServerError
	}
	resp := events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: h.headers("text/html; charset=utf-8"), Body: sb.String()}
	h.setCookie(&resp, b)
	return resp
}

// statusJSON is the answer of the status route to the page's script.
type statusJSON struct {
	Step       wizard.Step    `json:"step"`
	Outcome    wizard.Outcome `json:"outcome,omitempty"`
	IntervalMS int64          `json:"intervalMs,omitempty"`
}

func (h *Handler) status(ctx context.Context, v wizard.View, err error) events.APIGatewayV2HTTPResponse {
	code := http.StatusOK
	var s statusJSON
	switch {
	case errors.Is(err, wizard.ErrNeutral):
		code, s.Step = http.StatusNotFound, wizard.StepProblem
	case err != nil:
		h.c.Logger.ErrorContext(ctx, "wizard poll failed", "error", err)
		code, s.Step = http.StatusInternalServerError, wizard.StepProblem
	default:
		s.Step = v.Step
		if v.Device != nil {
			s.Outcome, s.IntervalMS = v.Device.Outcome, v.Device.Interval.Milliseconds()
		}
	}
	b, _ := json.Marshal(s) // Plain strings and numbers always marshal.
	return events.APIGatewayV2HTTPResponse{StatusCode: code, Headers: h.headers("application/json"), Body: string(b)}
}

func (h *Handler) headers(contentType string) map[string]string {
	return map[string]string{
		"Content-Type":            contentType,
		"Cache-Control":           "no-store",
		"Content-Security-Policy": h.csp,
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
	}
}

func (h *Handler) setCookie(resp *events.APIGatewayV2HTTPResponse, b cookieState) {
	if !b.fresh {
		return
	}
	c := http.Cookie{Name: h.cookie, Value: b.value, Path: "/", HttpOnly: true, Secure: h.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int((24 * time.Hour).Seconds())}
	resp.Cookies = append(resp.Cookies, c.String())
}

// asset serves an embedded file; anything else is a plain 404.
func asset(name string) events.APIGatewayV2HTTPResponse {
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
	b, err := assetFS.ReadFile("assets/" + path.Base(name))
	ct, known := types[path.Ext(name)]
	if err != nil || !known || name != path.Base(name) {
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusNotFound,
			Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"}, Body: "not found\n"}
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Body: string(b), Headers: map[string]string{
		"Content-Type": ct, "Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}}
}

func header(r events.APIGatewayV2HTTPRequest, name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// formValue reads one field of a urlencoded POST body.
func formValue(r events.APIGatewayV2HTTPRequest, name string) string {
	body := r.Body
	if r.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return ""
		}
		body = string(b)
	}
	if len(body) > 4096 {
		return ""
	}
	v, err := url.ParseQuery(body)
	if err != nil {
		return ""
	}
	return v.Get(name)
}

// invitePath is the path of an invitation's page, or of one of its actions.
// The wizard only returns link tokens whose MAC it verified, which are
// base64url and left as they are by the escaping; it is there so that no
// token could ever leave its path segment.
func invitePath(token, action string) string {
	p := "/invite/" + url.PathEscape(token)
	if action != "" {
		p += "/" + action
	}
	return p
}

// expiryText is when a device code expires, as the page shows it.
func expiryText(t time.Time) string { return t.UTC().Format("15:04 MST") }

func licenseText(l upgrade.License) string {
	switch l {
	case upgrade.Pro:
		return "OC Pro"
	case upgrade.EssentialsPlus:
		return "OC Essentials Plus"
	}
	return string(l)
}

func outcomeText(o wizard.Outcome) string {
	switch o {
	case wizard.OutcomeDeclined:
		return "The sign-in was declined. You can start again."
	case wizard.OutcomeExpired:
		return "The code has expired. Start authentication again to get a new code."
	case wizard.OutcomeBlocked:
		return "Your organization's Conditional Access policy blocks sign-in with a code. Use Sign in with Microsoft instead."
	case wizard.OutcomeNeedsAdmin:
		return "This account cannot grant access for your organization. Sign in with a Global Admin account."
	case wizard.OutcomeWrongAccount:
		return "This account does not belong to a Microsoft 365 organization that can be used. Sign in with your tenant's Global Admin account."
	case wizard.OutcomeAcquired:
		return "The Token Invitation wizard has successfully acquired a token."
	case wizard.OutcomeNeedsRole:
		return needsRoleText
	}
	return "The sign-in did not complete. You can start again."
}

// needsRoleText names the roles of wizard.AccountRoles.
const needsRoleText = "This account holds no administrator role that can manage Microsoft Teams for your organization. " +
	"Sign in with an account that is a Global Administrator or a Teams Administrator of your tenant: " +
	"it becomes the account the service uses to manage Teams for the upgraded service."

func problemText(p wizard.Problem) string {
	switch p {
	case wizard.ProblemDeclined:
		return "Consent was declined, so your tenant was not connected. Go back and accept on behalf of your organization to continue."
	case wizard.ProblemNeedsAdmin:
		return "Only a Global Administrator or a Privileged Role Administrator can grant this consent to Microsoft Graph application permissions " +
			"(a Cloud Application Administrator or Application Administrator cannot). Sign in with such an account of your tenant, or ask its holder to open the link."
	case wizard.ProblemWrongAccount:
		return "This account does not belong to the tenant being connected. Go back and sign in with your tenant's Global Admin account " +
			"(sign out of the other account first, or use a private window)."
	case wizard.ProblemBlocked:
		return "Your organization's Conditional Access policy blocks this sign-in method. Use Sign in with Microsoft instead."
	case wizard.ProblemExpired:
		return "The sign-in took too long and expired. Go back and start again."
	case wizard.ProblemConsent:
		return "Consent for your tenant is missing or incomplete. Go back and grant consent on behalf of your organization."
	case wizard.ProblemState:
		return "This sign-in response is not valid any more. Open the link from your Welcome mail and start again."
	case wizard.ProblemBrowser:
		return "This sign-in was started in another browser. Open the link from your Welcome mail in this browser and start again."
	case wizard.ProblemTooMany:
		return "There were too many attempts with this link. Ask your operator to send you a new invitation."
	case wizard.ProblemUnavailable:
		return "Microsoft is not answering right now. Please try again in a few minutes."
	case wizard.ProblemNeedsRole:
		return needsRoleText
	case wizard.ProblemWrongTenant:
		return "Consent was given for another tenant than the one you signed in to. Go back and start again with the same account."
	}
	return "Microsoft could not complete the sign-in. Go back and try again."
}
