package entra

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// maxFormBytes bounds token request bodies; real ones are a few KB.
const maxFormBytes = 64 << 10

func (e *Emulator) tokenRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", e.logged(withCORS(e.handleToken)))
	mux.HandleFunc("OPTIONS /{tenant}/oauth2/v2.0/token", e.logged(withCORS(nil)))
}

// tokenRequest is a parsed token request: the tenant it was sent to and
// its form.
type tokenRequest struct {
	tenant resolvedTenant
	form   url.Values
}

// grantHandler serves one grant_type. The next grants (authorization_code,
// device_code, refresh_token) are added to grants.
type grantHandler func(w http.ResponseWriter, r *http.Request, req tokenRequest)

func (e *Emulator) grants() map[string]grantHandler {
	return map[string]grantHandler{
		"client_credentials": e.clientCredentials,
		"authorization_code": e.authorizationCodeGrant,
		"refresh_token":      e.refreshTokenGrant,
		// MSAL Go sends the short name; RFC 8628 defines the URN.
		"device_code": e.deviceCodeGrant,
		"urn:ietf:params:oauth:grant-type:device_code": e.deviceCodeGrant,
	}
}

func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	rt, ok := e.resolve(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		e.writeAADError(w, r, errMissingParameter("grant_type"))
		return
	}
	grant := r.PostForm.Get("grant_type")
	if grant == "" {
		e.writeAADError(w, r, errMissingParameter("grant_type"))
		return
	}
	h, ok := e.grants()[grant]
	if !ok {
		e.writeAADError(w, r, errUnsupportedGrant(grant))
		return
	}
	if e.tokenFault(w, r, FaultToken, r.PostForm.Get("client_id"), rt) {
		return
	}
	h(w, r, tokenRequest{tenant: rt, form: r.PostForm})
}

// tokenResponse is the successful token endpoint answer.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// RefreshTokenExpiresIn is sent to single-page apps, whose refresh
	// tokens have a fixed lifetime; MSAL.js keeps it with the token.
	RefreshTokenExpiresIn int64  `json:"refresh_token_expires_in,omitempty"`
	IDToken               string `json:"id_token,omitempty"`
	ClientInfo            string `json:"client_info,omitempty"`
}

func writeTokenResponse(w http.ResponseWriter, resp tokenResponse) {
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// clientCredentials serves grant_type=client_credentials: an app-only
// token for the resource named by scope "<resource>/.default", carrying
// the application permissions the tenant granted the client.
func (e *Emulator) clientCredentials(w http.ResponseWriter, r *http.Request, req tokenRequest) {
	if req.tenant.tenant == nil {
		// App-only tokens belong to one tenant; an alias names none.
		e.writeAADError(w, r, errNoTenantInfo())
		return
	}
	tenantID := req.tenant.tenant.ID
	app, ok := e.authenticateClient(w, r, req)
	if !ok {
		return
	}
	scope := req.form.Get("scope")
	if scope == "" {
		e.writeAADError(w, r, errMissingParameter("scope"))
		return
	}
	// MSAL adds the OpenID Connect scopes to every request; Microsoft
	// ignores them here, so only the resource scopes count.
	fields := slices.DeleteFunc(strings.Fields(scope), isOIDCScope)
	for _, f := range fields {
		if !strings.HasSuffix(f, "/.default") {
			e.writeAADError(w, r, errClientCredentialsScope(scope))
			return
		}
	}
	switch len(fields) {
	case 0:
		e.writeAADError(w, r, errClientCredentialsScope(scope))
		return
	case 1:
	default:
		e.writeAADError(w, r, errScopeInvalid(scope))
		return
	}
	resourceID := strings.TrimSuffix(fields[0], "/.default")
	resource, ok := e.dir.resource(e.graphAlias(resourceID))
	if !ok || !e.dir.hasPrincipal(tenantID, resource.ClientID) {
		e.writeAADError(w, r, errResourceNotFound(resourceID, tenantID))
		return
	}
	roles := e.dir.appRoles(tenantID, app.ClientID, resource.ClientID)
	switch e.propagation(tenantID, app.ClientID) {
	case principalPending:
		e.writeAADError(w, r, errAppNotFound(app.ClientID, tenantID))
		return
	case rolesPending:
		roles = nil
	}
	tok, err := e.appToken(e.baseFor(r), tenantID, app.ClientID, resourceID, roles)
	if err != nil {
		e.log.ErrorContext(r.Context(), "entra emulator issue token", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeTokenResponse(w, tokenResponse{TokenType: "Bearer", ExpiresIn: tok.ExpiresIn, ExtExpiresIn: tok.ExpiresIn, AccessToken: tok.Value})
}

// isOIDCScope reports the scopes that ask for OpenID Connect artefacts
// rather than access to a resource.
func isOIDCScope(s string) bool {
	switch s {
	case "openid", "profile", "offline_access", "email":
		return true
	}
	return false
}

// authenticateClient finds the client of a confidential request and checks
// its secret (client_secret_post or client_secret_basic), answering with
// Microsoft's error when it fails.
func (e *Emulator) authenticateClient(w http.ResponseWriter, r *http.Request, req tokenRequest) (App, bool) {
	clientID, secret := req.form.Get("client_id"), req.form.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok && clientID == "" {
		// RFC 6749 section 2.3.1: both halves are form-urlencoded.
		clientID, _ = url.QueryUnescape(user)
		secret, _ = url.QueryUnescape(pass)
	}
	if clientID == "" {
		e.writeAADError(w, r, errMissingParameter("client_id"))
		return App{}, false
	}
	app, ok := e.dir.app(clientID)
	if req.tenant.tenant == nil {
		// The aliases name no directory; the app only has to exist.
		if !ok {
			e.writeAADError(w, r, errAppNotFound(clientID, req.tenant.pathID()))
			return App{}, false
		}
	} else if tenantID := req.tenant.tenant.ID; !ok || !e.dir.hasPrincipal(tenantID, app.ClientID) {
		e.writeAADError(w, r, errAppNotFound(clientID, tenantID))
		return App{}, false
	}
	if req.form.Get("client_assertion") != "" {
		// Certificate credentials are not modelled yet; refusing them beats
		// accepting an assertion nobody checked.
		e.writeAADError(w, r, errInvalidSecret(app.ClientID))
		return App{}, false
	}
	switch {
	case app.PublicClient && secret != "":
		e.writeAADError(w, r, errPublicClientSecret())
		return App{}, false
	case secret == "":
		e.writeAADError(w, r, errMissingClientCredential())
		return App{}, false
	}
	for _, s := range app.Secrets {
		if subtle.ConstantTimeCompare([]byte(s), []byte(secret)) == 1 {
			if e.dir.secretExpired(app.ClientID) {
				e.writeAADError(w, r, errSecretExpired(app.ClientID))
				return App{}, false
			}
			return app, true
		}
	}
	e.writeAADError(w, r, errInvalidSecret(app.ClientID))
	return App{}, false
}
