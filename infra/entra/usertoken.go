package entra

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// delegatedRequest is a parsed delegated scope parameter: Graph permission
// names and the OpenID Connect scopes.
type delegatedRequest struct {
	scopes []string
	oidc   []string
	// resource is the application ID URI of another API whose scopes were
	// asked for (for example the portal API); empty means Microsoft Graph.
	resource string
}

// errNotGraph refuses scopes of another API where only Microsoft Graph is
// modelled.
var errNotGraph = errors.New("scope names an API other than Microsoft Graph")

// parseDelegatedScope reads a scope parameter of a delegated flow. Graph
// permissions may be written as "User.Read" or
// "https://graph.microsoft.com/User.Read"; "/.default" means the app's
// required permissions. Scopes of one other API, written with its
// application ID URI ("api://ocpro-portal/Upgrades.Manage"), set resource;
// one request names one resource, as Microsoft requires.
func parseDelegatedScope(scope string, client App) (delegatedRequest, error) {
	var req delegatedRequest
	graph := false
	for _, f := range strings.Fields(scope) {
		if isOIDCScope(f) {
			req.oidc = append(req.oidc, f)
			continue
		}
		name := f
		other := false
		if i := strings.LastIndex(f, "/"); i >= 0 {
			res := f[:i]
			name = f[i+1:]
			if !strings.EqualFold(res, GraphResource) && !strings.EqualFold(res, GraphAppID) {
				if req.resource != "" && !strings.EqualFold(req.resource, res) || name == ".default" {
					return delegatedRequest{}, fmt.Errorf("scope %s names a second resource or its .default", f)
				}
				req.resource, other = res, true
			}
		}
		if graph = graph || !other; graph && req.resource != "" {
			return delegatedRequest{}, fmt.Errorf("scope %q names Microsoft Graph and %s", scope, req.resource)
		}
		if name == ".default" {
			req.scopes = append(req.scopes, client.RequiredScopes...)
			continue
		}
		req.scopes = append(req.scopes, name)
	}
	slices.Sort(req.scopes)
	req.scopes = slices.Compact(req.scopes)
	if len(req.scopes) == 0 && len(req.oidc) == 0 {
		return delegatedRequest{}, fmt.Errorf("scope %q names no permission", scope)
	}
	return req, nil
}

// grantedScope is the scope field of a delegated token response: the
// scopes under their resource's URI (Microsoft Graph's when resource is
// empty), then the OpenID Connect ones.
func grantedScope(resource string, scopes, oidc []string) string {
	if resource == "" {
		resource = GraphResource
	}
	out := make([]string, 0, len(scopes)+len(oidc))
	for _, s := range scopes {
		out = append(out, resource+"/"+s)
	}
	return strings.Join(append(out, oidc...), " ")
}

// clientInfo is MSAL's client_info: base64url JSON of the user's object id
// and home tenant, which MSAL keys accounts by.
func clientInfo(oid, tid string) string {
	b, _ := json.Marshal(map[string]string{"uid": oid, "utid": tid}) // Two strings always marshal.
	return base64.RawURLEncoding.EncodeToString(b)
}

// userGrant is what a delegated token response is issued for.
type userGrant struct {
	client       App
	user         User
	tenantID     string
	scopes       []string
	oidc         []string
	nonce        string
	confidential bool
	resource     string // Empty means Microsoft Graph.
	// spa marks a grant redeemed by a single-page app; spaExpires carries
	// the expiry of the refresh token it came from, if any.
	spa        bool
	spaExpires time.Time
}

// writeUserTokens issues the delegated access token, ID token, client info
// and a new refresh token, and writes the token response.
func (e *Emulator) writeUserTokens(w http.ResponseWriter, r *http.Request, g userGrant) {
	base := e.baseFor(r)
	iss := base + "/" + g.tenantID + "/v2.0"
	azpacr := "0"
	if g.confidential {
		azpacr = "1"
	}
	aud := GraphResource
	if g.resource != "" {
		aud = g.resource
	}
	access := jwt.MapClaims{
		"aud":                aud,
		"iss":                iss,
		"aio":                opaque(48),
		"azp":                g.client.ClientID,
		"azpacr":             azpacr,
		"idtyp":              "user",
		"name":               g.user.DisplayName,
		"oid":                g.user.ObjectID,
		"preferred_username": g.user.UserPrincipalName,
		"rh":                 "1." + opaque(40) + ".",
		"scp":                strings.Join(g.scopes, " "),
		"sub":                pairwiseSubject(g.user.ObjectID, aud),
		"tid":                g.tenantID,
		"uti":                opaque(16),
		"ver":                "2.0",
	}
	if len(g.scopes) == 0 {
		delete(access, "scp")
	}
	e.addStaffClaims(access, g)
	wids := directoryRoles(g.user)
	if g.client.directoryRoleClaims() {
		access["wids"] = wids
	}
	spec := tokenSpec{lifetime: DefaultTokenLifetime}
	if e.isGraphAudience(aud) {
		toGraphClaims(access, g.tenantID)
		spec.graph = true
	}
	at, err := e.issue(access, spec)
	if err != nil {
		e.internalError(w, r, err)
		return
	}
	id := jwt.MapClaims{
		"aud":                g.client.ClientID,
		"iss":                iss,
		"name":               g.user.DisplayName,
		"oid":                g.user.ObjectID,
		"preferred_username": g.user.UserPrincipalName,
		"sub":                pairwiseSubject(g.user.ObjectID, g.client.ClientID),
		"tid":                g.tenantID,
		"ver":                "2.0",
	}
	if g.client.directoryRoleClaims() {
		id["wids"] = wids
	}
	if g.nonce != "" {
		id["nonce"] = g.nonce
	}
	idSpec := tokenSpec{lifetime: DefaultTokenLifetime}
	e.spoilIDToken(base, g.user.ObjectID, id, &idSpec)
	it, err := e.issue(id, idSpec)
	if err != nil {
		e.internalError(w, r, err)
		return
	}
	resp := tokenResponse{
		TokenType: "Bearer", Scope: grantedScope(g.resource, g.scopes, g.oidc),
		ExpiresIn: at.ExpiresIn, ExtExpiresIn: at.ExpiresIn, AccessToken: at.Value,
		IDToken: it.Value,
		// The home tenant for client_info is the tenant of the account
		// that signed in, which for a guest is the tenant they are in.
		ClientInfo: clientInfo(g.user.ObjectID, g.tenantID),
	}
	if slices.Contains(g.oidc, "offline_access") {
		var expires time.Time
		resp.RefreshToken, expires = e.newRefreshToken(g)
		if g.spa {
			resp.RefreshTokenExpiresIn = int64(expires.Sub(e.now()) / time.Second)
		}
	}
	writeTokenResponse(w, resp)
}

// memberRole is the role template id every member user holds ("User" in
// Microsoft's list of built-in roles); Entra puts it in wids with the
// directory roles.
const memberRole = "b79fbf4d-3ef9-4689-8143-76b194e85509"

// directoryRoles is the wids claim: the user's directory role template
// ids, and the member role for members (guests do not hold it).
func directoryRoles(u User) []string {
	wids := slices.Clone(u.Roles)
	if !u.guest() {
		wids = append(wids, memberRole)
	}
	return wids
}

// newRefreshToken issues a refresh token for the grant and returns it with
// its fixed expiry (meaningful for single-page apps only).
func (e *Emulator) newRefreshToken(g userGrant) (string, time.Time) {
	value := "1.AX" + opaque(96)
	now := e.now()
	expires := g.spaExpires
	if g.spa && expires.IsZero() {
		expires = now.Add(spaRefreshLifetime)
	}
	e.flows.mu.Lock()
	defer e.flows.mu.Unlock()
	e.flows.refresh[value] = &refreshToken{
		clientID: g.client.ClientID, userOID: g.user.ObjectID, tenantID: g.tenantID,
		scopes: slices.Clone(g.scopes), oidcScopes: slices.Clone(g.oidc), issued: now, lastUsed: now,
		resource: g.resource, spa: g.spa, spaExpires: expires, public: !g.confidential,
	}
	return value, expires
}

func (e *Emulator) internalError(w http.ResponseWriter, r *http.Request, err error) {
	e.log.ErrorContext(r.Context(), "entra emulator internal error", "path", r.URL.Path, "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// authenticateDelegatedClient checks the client of a delegated grant: a
// secret when one is sent (or the app is confidential and does not allow
// public client flows), none for public clients.
func (e *Emulator) authenticateDelegatedClient(w http.ResponseWriter, r *http.Request, req tokenRequest) (App, bool, bool) {
	clientID := req.form.Get("client_id")
	_, _, basic := r.BasicAuth()
	if req.form.Get("client_secret") != "" || basic {
		// A confidential client authenticates in its home directory; the
		// tenant of the grant is checked against the grant itself.
		home := req
		app, ok := e.dir.app(clientID)
		if basic && clientID == "" {
			user, _, _ := r.BasicAuth()
			app, ok = e.dir.app(user)
		}
		if ok {
			t, _ := e.dir.tenant(app.HomeTenantID)
			home.tenant = resolvedTenant{segment: t.ID, kind: tenantByID, tenant: &t}
		}
		a, ok := e.authenticateClient(w, r, home)
		return a, true, ok
	}
	if clientID == "" {
		e.writeAADError(w, r, errMissingParameter("client_id"))
		return App{}, false, false
	}
	app, ok := e.dir.app(clientID)
	if !ok {
		e.writeAADError(w, r, errAppNotFound(clientID, req.tenant.pathID()))
		return App{}, false, false
	}
	if !app.PublicClient && !app.AllowPublicClientFlows {
		e.writeAADError(w, r, errPublicClientNotAllowed())
		return App{}, false, false
	}
	return app, false, true
}

// presentsSecret reports whether a token request authenticates the client
// with a secret or an assertion, in the form or with HTTP Basic.
func presentsSecret(r *http.Request, req tokenRequest) bool {
	_, _, basic := r.BasicAuth()
	return basic || req.form.Get("client_secret") != "" || req.form.Get("client_assertion") != ""
}

// publicFlowWithSecret answers AADSTS700025 for a public client flow that
// carries a client secret. An app that allows public client flows
// ("allowPublicClient") runs the device code flow as a public client,
// and the refresh tokens it issues there stay public: Entra refuses a
// secret on their polls and refreshes instead of ignoring it.
func (e *Emulator) publicFlowWithSecret(w http.ResponseWriter, r *http.Request, req tokenRequest) bool {
	if !presentsSecret(r, req) {
		return false
	}
	e.writeAADError(w, r, errPublicClientSecret())
	return true
}
