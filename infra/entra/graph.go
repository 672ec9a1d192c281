package entra

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Microsoft Graph's app role ids for the permissions the emulator knows,
// as Graph's service principal publishes them in every tenant.
var graphRoleIDs = map[string]string{
	"Organization.Read.All": "498476ce-e0fe-48b0-b801-37ba7e2685c6",
	"User.Read.All":         "df021288-bdef-4463-88db-98f22de89214",
	"Application.Read.All":  "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
	"Domain.Read.All":       "dbb9058a-0e50-45d7-ae91-66909b5d4664",
	"Directory.Read.All":    "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
}

func graphRoleID(role string) string {
	if id, ok := graphRoleIDs[role]; ok {
		return id
	}
	return nameGUID("graphRole", role)
}

func (e *Emulator) graphRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1.0/organization", e.logged(e.graph(e.handleOrganization)))
	mux.HandleFunc("GET /v1.0/me", e.logged(e.graph(e.handleMe)))
	// servicePrincipals(appId='…') is one path segment; the handler parses
	// the key, so that both addressing forms share a route.
	mux.HandleFunc("GET /v1.0/{sp}", e.logged(e.graph(e.handleServicePrincipal)))
	mux.HandleFunc("GET /v1.0/servicePrincipals/{id}/appRoleAssignments", e.logged(e.graph(e.handleAppRoleAssignments)))
}

// graphCaller is who a validated Graph token speaks for.
type graphCaller struct {
	tenantID string
	appID    string
	userOID  string // Empty for app-only tokens.
	roles    []string
	scopes   []string
}

func (c graphCaller) delegated() bool { return c.userOID != "" }

// graphError is Graph's error body.
type graphError struct {
	Error graphErrorDetail `json:"error"`
}

type graphErrorDetail struct {
	Code       string            `json:"code"`
	Message    string            `json:"message"`
	InnerError map[string]string `json:"innerError"`
}

func (e *Emulator) writeGraphError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	reqID := randomGUID()
	inner := map[string]string{
		"date":              e.now().UTC().Format("2006-01-02T15:04:05"),
		"request-id":        reqID,
		"client-request-id": reqID,
	}
	if c := r.Header.Get("client-request-id"); c != "" && guidPattern.MatchString(c) {
		inner["client-request-id"] = c
	}
	w.Header().Set("request-id", reqID)
	writeJSON(w, status, graphError{Error: graphErrorDetail{Code: code, Message: message, InnerError: inner}})
}

type graphHandler func(w http.ResponseWriter, r *http.Request, c graphCaller)

// graph validates the bearer token as Graph does (signature, audience,
// lifetime, tenant) and answers injected faults before the handler runs.
func (e *Emulator) graph(h graphHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := e.graphToken(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+e.baseFor(r)+`/common/oauth2/authorize", client_id="`+GraphAppID+`"`)
			e.writeGraphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", err.Error())
			return
		}
		if f, ok := e.takeFault(r.Context(), FaultGraph, c.tenantID); ok {
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
			if f.Status == http.StatusTooManyRequests {
				e.writeGraphError(w, r, f.Status, "TooManyRequests", "Too many requests. Please retry after the time in Retry-After.")
			} else {
				e.writeGraphError(w, r, http.StatusServiceUnavailable, "serviceNotAvailable", "The service is temporarily unavailable. Please retry after the time in Retry-After.")
			}
			return
		}
		h(w, r, c)
	}
}

// graphAuthError is one of Graph's own messages for a refused token,
// worded (capitals, full stop) as Graph words it.
type graphAuthError string

func (e graphAuthError) Error() string { return string(e) }

// graphToken validates the request's bearer token. Its error texts are
// Graph's messages, safe to show.
func (e *Emulator) graphToken(r *http.Request) (graphCaller, error) {
	auth := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || strings.TrimSpace(raw) == "" {
		return graphCaller{}, graphAuthError("Access token is empty.")
	}
	signed, err := graphSigned(raw)
	if err != nil {
		return graphCaller{}, graphAuthError("Access token validation failure. Invalid signature or malformed token.")
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(signed, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		for _, k := range []*signingKey{e.current, e.previous} {
			if k.kid == kid {
				return &k.priv.PublicKey, nil
			}
		}
		return nil, errors.New("unknown kid")
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(e.now), jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return graphCaller{}, graphAuthError("Lifetime validation failed, the token is expired.")
	case err != nil:
		return graphCaller{}, graphAuthError("Access token validation failure. Invalid signature or malformed token.")
	}
	aud, _ := claims["aud"].(string)
	if !e.isGraphAudience(aud) {
		return graphCaller{}, graphAuthError("Access token validation failure. Invalid audience.")
	}
	tid, _ := claims["tid"].(string)
	if _, ok := e.dir.tenant(tid); !ok {
		return graphCaller{}, graphAuthError("Access token validation failure. Invalid tenant.")
	}
	if iss, _ := claims["iss"].(string); iss != graphIssuer(tid) {
		return graphCaller{}, graphAuthError("Access token validation failure. Invalid issuer.")
	}
	c := graphCaller{tenantID: tid}
	c.appID, _ = claims["appid"].(string)
	if scp, _ := claims["scp"].(string); scp != "" {
		c.scopes = strings.Fields(scp)
		c.userOID, _ = claims["oid"].(string)
	}
	if roles, ok := claims["roles"].([]any); ok {
		for _, r := range roles {
			if s, ok := r.(string); ok {
				c.roles = append(c.roles, s)
			}
		}
	}
	return c, nil
}

// allowed reports whether the caller holds one of the permissions: as
// scopes for a delegated token, as roles for an app-only one.
func (c graphCaller) allowed(delegated, application []string) bool {
	held := c.roles
	want := application
	if c.delegated() {
		held, want = c.scopes, delegated
	}
	for _, p := range want {
		if slices.Contains(held, p) {
			return true
		}
	}
	return false
}

func (e *Emulator) denied(w http.ResponseWriter, r *http.Request) {
	e.writeGraphError(w, r, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
}

type verifiedDomain struct {
	Name      string `json:"name"`
	IsDefault bool   `json:"isDefault"`
	IsInitial bool   `json:"isInitial"`
	Type      string `json:"type"`
}

type organization struct {
	ID              string           `json:"id"`
	DisplayName     string           `json:"displayName"`
	TenantType      string           `json:"tenantType"`
	VerifiedDomains []verifiedDomain `json:"verifiedDomains"`
}

type graphList[T any] struct {
	Context string `json:"@odata.context"`
	Value   []T    `json:"value"`
}

func (e *Emulator) handleOrganization(w http.ResponseWriter, r *http.Request, c graphCaller) {
	if !c.allowed([]string{"User.Read", "Organization.Read.All", "Directory.Read.All"}, []string{"Organization.Read.All", "Directory.Read.All"}) {
		e.denied(w, r)
		return
	}
	t, _ := e.dir.tenant(c.tenantID)
	org := organization{ID: t.ID, DisplayName: t.DisplayName, TenantType: "AAD"}
	for i, d := range t.Domains {
		// The initial *.onmicrosoft.com domain comes first; the last custom
		// domain is the default, as admins usually set it.
		org.VerifiedDomains = append(org.VerifiedDomains, verifiedDomain{Name: d, IsInitial: i == 0, IsDefault: i == len(t.Domains)-1, Type: "Managed"})
	}
	writeJSON(w, http.StatusOK, graphList[organization]{Context: GraphResource + "/v1.0/$metadata#organization", Value: []organization{org}})
}

type graphUser struct {
	Context           string  `json:"@odata.context"`
	ID                string  `json:"id"`
	DisplayName       string  `json:"displayName"`
	UserPrincipalName string  `json:"userPrincipalName"`
	Mail              *string `json:"mail"`
}

func (e *Emulator) handleMe(w http.ResponseWriter, r *http.Request, c graphCaller) {
	if !c.delegated() {
		e.writeGraphError(w, r, http.StatusBadRequest, "BadRequest", "/me request is only valid with delegated authentication flow.")
		return
	}
	u, ok := e.dir.user(c.userOID)
	if !ok {
		e.writeGraphError(w, r, http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", c.userOID))
		return
	}
	var mail *string
	if u.Mail != "" {
		mail = &u.Mail
	}
	writeJSON(w, http.StatusOK, graphUser{Context: GraphResource + "/v1.0/$metadata#users/$entity", ID: u.ObjectID,
		DisplayName: u.DisplayName, UserPrincipalName: u.UserPrincipalName, Mail: mail})
}

type appRole struct {
	ID                 string   `json:"id"`
	Value              string   `json:"value"`
	DisplayName        string   `json:"displayName"`
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
	IsEnabled          bool     `json:"isEnabled"`
}

type servicePrincipal struct {
	Context     string    `json:"@odata.context"`
	ID          string    `json:"id"`
	AppID       string    `json:"appId"`
	DisplayName string    `json:"displayName"`
	AppRoles    []appRole `json:"appRoles"`
}

// spID is the object id of an app's service principal in a tenant.
func spID(tenantID, appID string) string {
	return nameGUID("servicePrincipal", strings.ToLower(tenantID), strings.ToLower(appID))
}

var readApplications = []string{"Application.Read.All", "Directory.Read.All"}

func (e *Emulator) handleServicePrincipal(w http.ResponseWriter, r *http.Request, c graphCaller) {
	key, ok := strings.CutPrefix(r.PathValue("sp"), "servicePrincipals(appId='")
	if !ok || !strings.HasSuffix(key, "')") {
		e.writeGraphError(w, r, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+r.PathValue("sp")+"'.")
		return
	}
	appID := strings.TrimSuffix(key, "')")
	if !c.allowed(readApplications, readApplications) {
		e.denied(w, r)
		return
	}
	app, ok := e.dir.app(appID)
	if !ok || !e.dir.hasPrincipal(c.tenantID, app.ClientID) {
		e.writeGraphError(w, r, http.StatusNotFound, "Request_ResourceNotFound",
			fmt.Sprintf("Resource 'servicePrincipal' with identifier '%s' was not found.", appID))
		return
	}
	sp := servicePrincipal{Context: GraphResource + "/v1.0/$metadata#servicePrincipals/$entity", ID: spID(c.tenantID, app.ClientID),
		AppID: app.ClientID, DisplayName: app.DisplayName, AppRoles: []appRole{}}
	for _, role := range app.AppRoles {
		id := nameGUID("appRole", app.ClientID, role)
		if app.ClientID == GraphAppID {
			id = graphRoleID(role)
		}
		sp.AppRoles = append(sp.AppRoles, appRole{ID: id, Value: role, DisplayName: role, AllowedMemberTypes: []string{"Application"}, IsEnabled: true})
	}
	writeJSON(w, http.StatusOK, sp)
}

type appRoleAssignment struct {
	ID                   string `json:"id"`
	AppRoleID            string `json:"appRoleId"`
	PrincipalDisplayName string `json:"principalDisplayName"`
	PrincipalID          string `json:"principalId"`
	PrincipalType        string `json:"principalType"`
	ResourceDisplayName  string `json:"resourceDisplayName"`
	ResourceID           string `json:"resourceId"`
}

func (e *Emulator) handleAppRoleAssignments(w http.ResponseWriter, r *http.Request, c graphCaller) {
	if !c.allowed(readApplications, readApplications) {
		e.denied(w, r)
		return
	}
	id := strings.ToLower(r.PathValue("id"))
	var app App
	found := false
	e.dir.mu.RLock()
	for cid := range e.dir.principals[c.tenantID] {
		if spID(c.tenantID, cid) == id {
			app, found = *e.dir.apps[cid], true
		}
	}
	e.dir.mu.RUnlock()
	if !found {
		e.writeGraphError(w, r, http.StatusNotFound, "Request_ResourceNotFound",
			fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
		return
	}
	out := graphList[appRoleAssignment]{Context: GraphResource + "/v1.0/$metadata#servicePrincipals('" + id + "')/appRoleAssignments", Value: []appRoleAssignment{}}
	for _, role := range e.dir.appRoles(c.tenantID, app.ClientID, GraphAppID) {
		out.Value = append(out.Value, appRoleAssignment{
			ID: nameGUID("assignment", c.tenantID, app.ClientID, role), AppRoleID: graphRoleID(role),
			PrincipalDisplayName: app.DisplayName, PrincipalID: id, PrincipalType: "ServicePrincipal",
			ResourceDisplayName: "Microsoft Graph", ResourceID: spID(c.tenantID, GraphAppID),
		})
	}
	writeJSON(w, http.StatusOK, out)
}
