package entra

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

func (e *Emulator) authorizeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", e.logged(e.handleAuthorize))
	mux.HandleFunc("GET /{tenant}/v2.0/adminconsent", e.logged(e.handleAdminConsent))
	mux.HandleFunc("GET /{tenant}/adminconsent", e.logged(e.handleAdminConsent))
}

// appForBrowser checks client_id and redirect_uri of a browser request.
// Errors here are shown on a page, never redirected: Microsoft does not
// send anything to a redirect URI it cannot trust.
func (e *Emulator) appForBrowser(w http.ResponseWriter, r *http.Request, rt resolvedTenant) (App, string, bool) {
	q := r.URL.Query()
	clientID := q.Get("client_id")
	if clientID == "" {
		e.writeErrorPage(w, r, errMissingParameter("client_id"))
		return App{}, "", false
	}
	app, ok := e.dir.app(clientID)
	if !ok || (rt.tenant != nil && !app.MultiTenant && rt.tenant.ID != app.HomeTenantID) {
		e.writeErrorPage(w, r, errAppNotFound(clientID, rt.pathID()))
		return App{}, "", false
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" && len(app.RedirectURIs) == 1 {
		redirect = app.RedirectURIs[0]
	}
	if !slices.Contains(app.RedirectURIs, redirect) && !slices.Contains(app.SPARedirectURIs, redirect) {
		e.writeErrorPage(w, r, errRedirectMismatch(redirect, app.ClientID))
		return App{}, "", false
	}
	return app, redirect, true
}

// handleAuthorize starts the authorization code flow: it checks the
// request, signs the user in (reusing the session), asks for consent when
// needed, and redirects back with code and state.
func (e *Emulator) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	rt, ok := e.resolve(w, r)
	if !ok {
		return
	}
	app, redirect, ok := e.appForBrowser(w, r, rt)
	if !ok {
		return
	}
	q := r.URL.Query()
	ix := &interaction{kind: flowAuthorize, tenant: rt, client: app, redirectURI: redirect, state: q.Get("state"),
		nonce: q.Get("nonce"), loginHint: q.Get("login_hint"), challenge: q.Get("code_challenge"), method: q.Get("code_challenge_method"),
		responseMode: q.Get("response_mode")}
	if rtype := q.Get("response_type"); rtype != "code" {
		e.authorizeError(w, r, ix, errUnsupportedResponseType(rtype))
		return
	}
	if ix.challenge != "" && ix.method == "" {
		ix.method = "plain" // RFC 7636: plain is the default method.
	}
	if ix.challenge == "" && ix.method != "" || ix.method != "" && ix.method != "S256" && ix.method != "plain" ||
		ix.challenge != "" && (len(ix.challenge) < 43 || len(ix.challenge) > 128) {
		e.authorizeError(w, r, ix, errInvalidCodeChallengeMethod())
		return
	}
	req, err := parseDelegatedScope(e.graphScopes(q.Get("scope")), app)
	if err != nil {
		e.authorizeError(w, r, ix, errScopeInvalid(q.Get("scope")))
		return
	}
	if !e.resourceExposes(req) {
		e.authorizeError(w, r, ix, errScopeInvalid(q.Get("scope")))
		return
	}
	ix.scopes, ix.oidcScopes, ix.resource = req.scopes, req.oidc, req.resource
	if f, ok := e.takeFault(r.Context(), FaultAuthorize, rt.segment, rt.pathID()); ok {
		e.browserFault(w, r, ix, f)
		return
	}
	prompt := q.Get("prompt")
	ix.forceConsent = prompt == "consent"
	if prompt == "none" {
		_, user, ok := e.sessionUser(r)
		if !ok {
			e.authorizeError(w, r, ix, errLoginRequired())
			return
		}
		if _, err := e.userFor(ix, user.signInName()); err != nil {
			e.authorizeError(w, r, ix, errLoginRequired())
			return
		}
		if !e.dir.delegatedGranted(user.TenantID, app.ClientID, user.ObjectID, ix.scopes) {
			ae := errConsentRequired(app.ClientID, app.DisplayName)
			ae.code = "consent_required"
			e.authorizeError(w, r, ix, ae)
			return
		}
		e.finishAuthorize(w, r, ix, user)
		return
	}
	e.startInteraction(w, r, ix, prompt == "login")
}

// browserFault answers a browser endpoint with an injected fault: an
// HTTP status as a page, an AADSTS error as a redirect to the app.
func (e *Emulator) browserFault(w http.ResponseWriter, r *http.Request, ix *interaction, f Fault) {
	if f.Status != 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		e.writePage(w, r, f.Status, pageData{View: "error", Title: "Sign in", Message: "The service is temporarily unavailable. Try again later."})
		return
	}
	tid := ""
	if ix.tenant.tenant != nil {
		tid = ix.tenant.tenant.ID
	}
	ae, _ := injectableError(f.AADSTS, ix.client.ClientID, tid)
	if ix.kind == flowAdminConsent {
		e.adminConsentError(w, r, ix, ae)
		return
	}
	e.authorizeError(w, r, ix, ae)
}

// authorizeError redirects an error to the app with error,
// error_description and state, as the authorize endpoint does once the
// redirect URI is trusted.
func (e *Emulator) authorizeError(w http.ResponseWriter, r *http.Request, ix *interaction, ae aadError) {
	q := url.Values{"error": {ae.code}, "error_description": {e.describe(r, ae)}}
	if ix.state != "" {
		q.Set("state", ix.state)
	}
	e.log.InfoContext(r.Context(), "entra emulator authorize error", "error", ae.code, "aadsts", ae.number)
	answerAuthorize(w, r, ix, q)
}

// finishAuthorize issues a code for the signed-in user and redirects.
func (e *Emulator) finishAuthorize(w http.ResponseWriter, r *http.Request, ix *interaction, user User) {
	code := "1.AX" + opaque(64)
	e.flows.mu.Lock()
	e.flows.codes[code] = &authCode{
		clientID: ix.client.ClientID, redirectURI: ix.redirectURI, challenge: ix.challenge, method: ix.method,
		userOID: user.ObjectID, tenantID: user.TenantID, scopes: ix.scopes, oidcScopes: ix.oidcScopes,
		nonce: ix.nonce, issued: e.now(), resource: ix.resource,
		spa: slices.Contains(ix.client.SPARedirectURIs, ix.redirectURI),
	}
	delete(e.flows.interactions, ix.id)
	e.flows.mu.Unlock()
	q := url.Values{"code": {code}}
	if ix.state != "" {
		q.Set("state", ix.state)
	}
	answerAuthorize(w, r, ix, q)
}

// handleAdminConsent serves /{tenant}/v2.0/adminconsent and the older
// /{tenant}/adminconsent: an administrator signs in and grants the app's
// required permissions for the whole tenant.
func (e *Emulator) handleAdminConsent(w http.ResponseWriter, r *http.Request) {
	rt, ok := e.resolve(w, r)
	if !ok {
		return
	}
	app, redirect, ok := e.appForBrowser(w, r, rt)
	if !ok {
		return
	}
	q := r.URL.Query()
	ix := &interaction{kind: flowAdminConsent, tenant: rt, client: app, redirectURI: redirect, state: q.Get("state"),
		legacyConsent: !strings.Contains(r.URL.Path, "/v2.0/"), scopeParam: q.Get("scope")}
	if rt.kind == tenantCommon {
		// Personal accounts cannot consent for a tenant; Microsoft asks for
		// a tenant or organizations.
		e.writeErrorPage(w, r, errNoTenantInfo())
		return
	}
	if !ix.legacyConsent {
		if ix.scopeParam == "" {
			e.adminConsentError(w, r, ix, errMissingParameter("scope"))
			return
		}
		req, err := parseDelegatedScope(e.graphScopes(ix.scopeParam), app)
		if err == nil && req.resource != "" {
			err = errNotGraph
		}
		if err != nil {
			e.adminConsentError(w, r, ix, errScopeInvalid(ix.scopeParam))
			return
		}
		ix.scopes = req.scopes
	} else {
		ix.scopes = app.RequiredScopes
	}
	if f, ok := e.takeFault(r.Context(), FaultAdminConsent, rt.segment, rt.pathID()); ok {
		e.browserFault(w, r, ix, f)
		return
	}
	e.startInteraction(w, r, ix, false)
}

// adminConsentError redirects a failed admin consent with error,
// error_description, error_uri and state; the v2.0 endpoint adds
// admin_consent. Whatever the error, the answer names no tenant: the
// tenant parameter comes only with a grant.
func (e *Emulator) adminConsentError(w http.ResponseWriter, r *http.Request, ix *interaction, ae aadError) {
	q := url.Values{"error": {ae.code}, "error_description": {e.describe(r, ae)}, "state": {ix.state},
		"error_uri": {fmt.Sprintf("%s/error?code=%d", e.baseFor(r), ae.number)}}
	if !ix.legacyConsent {
		q.Set("admin_consent", "True")
	}
	redirectTo(w, r, ix.redirectURI, q)
}

// adminConsentDeclined is Cancel on the consent page: access_denied with
// AADSTS65004 from the v2.0 endpoint, as Entra sends it (the documented
// consent_required is not what arrives).
func (e *Emulator) adminConsentDeclined(w http.ResponseWriter, r *http.Request, ix *interaction) {
	if ix.legacyConsent {
		redirectTo(w, r, ix.redirectURI, url.Values{"error": {"permission_denied"},
			"error_description": {"The admin canceled the request"}, "state": {ix.state}})
		return
	}
	e.adminConsentError(w, r, ix, errUserDeclinedConsent())
}

// adminConsentWrongDirectory answers an admin consent signed in with an
// account of another directory: Entra redirects it to the app as
// access_denied with AADSTS50020, where sign-in flows show an error page.
func (e *Emulator) adminConsentWrongDirectory(w http.ResponseWriter, r *http.Request, ix *interaction, ae aadError) {
	ae.code = "access_denied"
	e.adminConsentError(w, r, ix, ae)
}

// grantAdminConsent records the tenant-wide grant and redirects with
// admin_consent=True, tenant and (v2.0) scope.
func (e *Emulator) grantAdminConsent(w http.ResponseWriter, r *http.Request, ix *interaction, user User) {
	if err := e.dir.grantAppRoles(user.TenantID, ix.client.ClientID, GraphAppID, ix.client.RequiredRoles...); err != nil {
		e.internalError(w, r, err)
		return
	}
	e.noteGrant(user.TenantID, ix.client.ClientID)
	e.dir.grantDelegated(user.TenantID, ix.client.ClientID, allPrincipals, ix.scopes)
	e.flows.mu.Lock()
	delete(e.flows.interactions, ix.id)
	e.flows.mu.Unlock()
	e.log.InfoContext(r.Context(), "entra emulator admin consent", "tenant", user.TenantID, "client", ix.client.ClientID)
	q := url.Values{"admin_consent": {"True"}, "tenant": {user.TenantID}, "state": {ix.state}}
	if !ix.legacyConsent {
		q.Set("scope", scopesOf(ix))
	}
	redirectTo(w, r, ix.redirectURI, q)
}
