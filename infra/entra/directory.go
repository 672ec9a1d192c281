package entra

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// GraphAppID is the application id Microsoft Graph has in every tenant.
const GraphAppID = "00000003-0000-0000-c000-000000000000"

// GraphResource is the application ID URI of Microsoft Graph.
const GraphResource = "https://graph.microsoft.com"

// Tenant is one Microsoft Entra tenant (directory) known to the emulator.
type Tenant struct {
	// ID is the tenant id, a GUID.
	ID string
	// Domains are the tenant's verified domain names; the first one is the
	// initial *.onmicrosoft.com domain.
	Domains []string
	// DisplayName is the organization's name.
	DisplayName string
	// Region is what discovery reports as tenant_region_scope (for example
	// "EU" or "NA"); empty means "NA".
	Region string
	// UserConsent lets users who are not administrators consent to
	// delegated permissions for themselves. Microsoft recommends turning
	// it off, and the seeded customer tenants have it off.
	UserConsent bool
}

// App is one application registration. Its home tenant owns it; other
// tenants can use it only once it has a service principal there (consent).
type App struct {
	// ClientID is the application (client) id, a GUID.
	ClientID string
	// DisplayName is the name consent pages and tokens show.
	DisplayName string
	// HomeTenantID is the tenant the application is registered in.
	HomeTenantID string
	// Secrets are the client secret values that authenticate the app.
	Secrets []string
	// IdentifierURIs are the application ID URIs (for example
	// "api://ocpro-portal") under which the app is a resource.
	IdentifierURIs []string
	// Scopes are the delegated permissions the app exposes as a resource.
	Scopes []string
	// AppRoles are the application permissions the app exposes as a resource.
	AppRoles []string
	// PublicClient marks apps that cannot hold a secret (SPAs, CLIs).
	PublicClient bool
	// MultiTenant marks apps that other tenants may consent to.
	MultiTenant bool
	// AllowPublicClientFlows lets a confidential app use the device code
	// flow (and redeem codes) without its secret, as the portal's "Allow
	// public client flows" switch does.
	AllowPublicClientFlows bool
	// RedirectURIs are the registered reply URLs. Authorize and admin
	// consent requests must name one of them exactly.
	RedirectURIs []string
	// SPARedirectURIs are reply URLs registered under the single-page
	// application platform (type spa): codes and refresh tokens issued
	// through them are redeemed cross-origin from the browser, and their
	// refresh tokens live 24 hours.
	SPARedirectURIs []string
	// RequiredRoles are the Microsoft Graph application permissions the app
	// asks for (its "required resource access"); admin consent grants them.
	RequiredRoles []string
	// RequiredScopes are the Microsoft Graph delegated permissions the app
	// asks for; empty means User.Read.
	RequiredScopes []string
	// GroupMembershipClaims is the manifest's groupMembershipClaims:
	// "DirectoryRole" or "All" puts the user's directory roles (wids) in
	// the app's ID and access tokens; empty puts none, as in Entra.
	GroupMembershipClaims string
}

// directoryRoleClaims reports whether the app's tokens carry wids.
func (a App) directoryRoleClaims() bool {
	return a.GroupMembershipClaims == "DirectoryRole" || a.GroupMembershipClaims == "All"
}

// GlobalAdministrator is the role template id of the Global Administrator
// directory role.
const GlobalAdministrator = "62e90394-69f5-4237-9190-012177145e10"

// Role template ids of the other directory roles that may grant tenant-wide
// admin consent to application permissions.
const (
	PrivilegedRoleAdministrator   = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	CloudApplicationAdministrator = "158c047a-c907-4556-b7ef-446551a6b5f7"
)

// User is one user account in a tenant.
type User struct {
	ObjectID          string
	TenantID          string
	UserPrincipalName string
	DisplayName       string
	// Mail is the sign-in name of a guest (its address in its home
	// tenant); members sign in with their user principal name.
	Mail string
	// Password is what the sign-in pages accept.
	Password string
	// Roles are directory role template ids, for example
	// GlobalAdministrator.
	Roles []string
	// MFA marks users enrolled in multifactor authentication: the sign-in
	// pages ask them to approve a sign-in request.
	MFA bool
	// HomeTenantID is set for guests: the tenant their account lives in.
	HomeTenantID string
}

// guest reports whether the user is a B2B guest in its tenant.
func (u User) guest() bool { return u.HomeTenantID != "" && u.HomeTenantID != u.TenantID }

// canConsentForOrganization reports whether one of the user's roles may
// grant tenant-wide admin consent.
func (u User) canConsentForOrganization() bool {
	for _, r := range u.Roles {
		switch r {
		case GlobalAdministrator, PrivilegedRoleAdministrator, CloudApplicationAdministrator:
			return true
		}
	}
	return false
}

// canGrantAppPermissions reports whether one of the user's roles may
// grant tenant-wide consent to Microsoft Graph application permissions:
// only a Global Administrator or a Privileged Role Administrator. A Cloud
// Application Administrator or Application Administrator may consent to
// any permission except Graph's app roles.
func (u User) canGrantAppPermissions() bool {
	return slices.ContainsFunc(u.Roles, func(r string) bool {
		return r == GlobalAdministrator || r == PrivilegedRoleAdministrator
	})
}

// errNotFound marks lookups of tenants, apps or users that do not exist.
var errNotFound = errors.New("not found")

// tenantKind says how the {tenant} path segment named the authority.
type tenantKind int

const (
	tenantByID tenantKind = iota
	tenantByDomain
	tenantCommon
	tenantOrganizations
)

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// directory is the in-memory model of tenants, their users, application
// registrations, service principals and granted application permissions.
// It is safe for concurrent use.
type directory struct {
	mu      sync.RWMutex
	tenants map[string]*Tenant // by lower-case id
	domains map[string]string  // lower-case domain -> tenant id
	apps    map[string]*App    // by lower-case client id
	users   map[string]*User   // by lower-case object id
	// principals[tenant][client] says the app has a service principal in
	// the tenant, which is what admin consent creates.
	principals map[string]map[string]bool
	// roles[tenant][client][resourceAppID] are the application permissions
	// granted to client on the resource in that tenant.
	roles map[string]map[string]map[string][]string
	// delegated[tenant][client][principal] are the delegated permissions
	// (Graph scope names) granted to client; principal is a user's object
	// id, or allPrincipals for a tenant-wide grant.
	delegated map[string]map[string]map[string][]string
	// expiredSecrets holds the client ids whose secrets have expired.
	expiredSecrets map[string]bool
}

// allPrincipals keys a delegated grant made for every user of a tenant
// (consentType AllPrincipals in Graph).
const allPrincipals = "*"

func newDirectory() *directory {
	return &directory{
		tenants:    map[string]*Tenant{},
		domains:    map[string]string{},
		apps:       map[string]*App{},
		users:      map[string]*User{},
		principals: map[string]map[string]bool{},
		roles:      map[string]map[string]map[string][]string{},
		delegated:  map[string]map[string]map[string][]string{},

		expiredSecrets: map[string]bool{},
	}
}

func (d *directory) addTenant(t Tenant) error {
	if !guidPattern.MatchString(t.ID) {
		return fmt.Errorf("tenant id %q is not a GUID", t.ID)
	}
	if len(t.Domains) == 0 {
		return fmt.Errorf("tenant %s has no domain", t.ID)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	id := strings.ToLower(t.ID)
	if _, ok := d.tenants[id]; ok {
		return fmt.Errorf("tenant %s already exists", t.ID)
	}
	for _, dom := range t.Domains {
		if owner, ok := d.domains[strings.ToLower(dom)]; ok {
			return fmt.Errorf("domain %s already belongs to tenant %s", dom, owner)
		}
	}
	t.ID = id
	t.Domains = slices.Clone(t.Domains)
	d.tenants[id] = &t
	for _, dom := range t.Domains {
		d.domains[strings.ToLower(dom)] = id
	}
	return nil
}

func (d *directory) addApp(a App) error {
	if !guidPattern.MatchString(a.ClientID) {
		return fmt.Errorf("client id %q is not a GUID", a.ClientID)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	id := strings.ToLower(a.ClientID)
	if _, ok := d.apps[id]; ok {
		return fmt.Errorf("app %s already registered", a.ClientID)
	}
	home := strings.ToLower(a.HomeTenantID)
	if _, ok := d.tenants[home]; !ok {
		return fmt.Errorf("home tenant %q of app %s: %w", a.HomeTenantID, a.ClientID, errNotFound)
	}
	a.ClientID = id
	a.HomeTenantID = home
	a.Secrets = slices.Clone(a.Secrets)
	a.IdentifierURIs = slices.Clone(a.IdentifierURIs)
	a.Scopes = slices.Clone(a.Scopes)
	a.AppRoles = slices.Clone(a.AppRoles)
	a.RedirectURIs = slices.Clone(a.RedirectURIs)
	a.SPARedirectURIs = slices.Clone(a.SPARedirectURIs)
	a.RequiredRoles = slices.Clone(a.RequiredRoles)
	a.RequiredScopes = slices.Clone(a.RequiredScopes)
	if len(a.RequiredScopes) == 0 {
		a.RequiredScopes = []string{"User.Read"}
	}
	d.apps[id] = &a
	d.addPrincipalLocked(home, id)
	return nil
}

func (d *directory) addPrincipalLocked(tenantID, clientID string) {
	if d.principals[tenantID] == nil {
		d.principals[tenantID] = map[string]bool{}
	}
	d.principals[tenantID][clientID] = true
}

// grantAppRoles records that an administrator of tenantID granted clientID
// the given application permissions on the resource app, creating the
// client's service principal in the tenant as consent does.
func (d *directory) grantAppRoles(tenantID, clientID, resourceAppID string, roles ...string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	tid, cid, rid := strings.ToLower(tenantID), strings.ToLower(clientID), strings.ToLower(resourceAppID)
	if _, ok := d.tenants[tid]; !ok {
		return fmt.Errorf("tenant %s: %w", tenantID, errNotFound)
	}
	client, ok := d.apps[cid]
	if !ok {
		return fmt.Errorf("app %s: %w", clientID, errNotFound)
	}
	if tid != client.HomeTenantID && !client.MultiTenant {
		// Only multi-tenant apps can be consented to outside their home.
		return fmt.Errorf("app %s is single-tenant and cannot be granted roles in tenant %s", clientID, tenantID)
	}
	res, ok := d.apps[rid]
	if !ok {
		return fmt.Errorf("resource app %s: %w", resourceAppID, errNotFound)
	}
	for _, r := range roles {
		if !slices.Contains(res.AppRoles, r) {
			return fmt.Errorf("resource %s exposes no app role %q", res.DisplayName, r)
		}
	}
	d.addPrincipalLocked(tid, cid)
	if d.roles[tid] == nil {
		d.roles[tid] = map[string]map[string][]string{}
	}
	if d.roles[tid][cid] == nil {
		d.roles[tid][cid] = map[string][]string{}
	}
	merged := append(d.roles[tid][cid][rid], roles...)
	slices.Sort(merged)
	d.roles[tid][cid][rid] = slices.Compact(merged)
	return nil
}

// resolveTenant interprets the {tenant} path segment the way the Microsoft
// identity platform does: a tenant id, a verified domain, or one of the
// multi-tenant aliases. Tenant is nil for the aliases.
func (d *directory) resolveTenant(segment string) (*Tenant, tenantKind, error) {
	switch strings.ToLower(segment) {
	case "common":
		return nil, tenantCommon, nil
	case "organizations":
		return nil, tenantOrganizations, nil
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	key := strings.ToLower(segment)
	if guidPattern.MatchString(segment) {
		if t, ok := d.tenants[key]; ok {
			c := *t
			return &c, tenantByID, nil
		}
		return nil, tenantByID, errNotFound
	}
	if id, ok := d.domains[key]; ok {
		c := *d.tenants[id]
		return &c, tenantByDomain, nil
	}
	return nil, tenantByDomain, errNotFound
}

func (d *directory) app(clientID string) (App, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	a, ok := d.apps[strings.ToLower(clientID)]
	if !ok {
		return App{}, false
	}
	return *a, true
}

// resource finds the app a resource identifier names: an application ID URI
// or a client id.
func (d *directory) resource(identifier string) (App, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if a, ok := d.apps[strings.ToLower(identifier)]; ok {
		return *a, true
	}
	for _, a := range d.apps {
		for _, u := range a.IdentifierURIs {
			if strings.EqualFold(strings.TrimSuffix(u, "/"), strings.TrimSuffix(identifier, "/")) {
				return *a, true
			}
		}
	}
	return App{}, false
}

func (d *directory) hasPrincipal(tenantID, clientID string) bool {
	// Microsoft Graph has a service principal in every tenant.
	if strings.EqualFold(clientID, GraphAppID) {
		return true
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.principals[strings.ToLower(tenantID)][strings.ToLower(clientID)]
}

func (d *directory) appRoles(tenantID, clientID, resourceAppID string) []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return slices.Clone(d.roles[strings.ToLower(tenantID)][strings.ToLower(clientID)][strings.ToLower(resourceAppID)])
}

// ensureUser returns the user with the given user principal name in the
// tenant, creating it on first use. Its object id is derived from the tenant
// and the name, so that the same person keeps the same oid across restarts
// of the local stack.
func (d *directory) ensureUser(tenantID, upn, displayName string) (User, error) {
	tid := strings.ToLower(tenantID)
	oid := nameGUID("user", tid, strings.ToLower(upn))
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.tenants[tid]; !ok {
		return User{}, fmt.Errorf("tenant %s: %w", tenantID, errNotFound)
	}
	if u, ok := d.users[oid]; ok {
		return *u, nil
	}
	u := &User{ObjectID: oid, TenantID: tid, UserPrincipalName: upn, DisplayName: displayName}
	d.users[oid] = u
	return *u, nil
}

// nameGUID derives a stable GUID from names (an RFC 9562 version 8 UUID
// built from SHA-256), for ids that must not change between runs.
func nameGUID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	b := h[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// addUser adds a user to its tenant. Users sign in by user principal name,
// guests by mail.
func (d *directory) addUser(u User) (User, error) {
	tid := strings.ToLower(u.TenantID)
	if u.UserPrincipalName == "" {
		return User{}, errors.New("user has no user principal name")
	}
	if u.ObjectID == "" {
		u.ObjectID = nameGUID("user", tid, strings.ToLower(u.UserPrincipalName))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.tenants[tid]; !ok {
		return User{}, fmt.Errorf("tenant %s: %w", u.TenantID, errNotFound)
	}
	if _, ok := d.userBySignInLocked(tid, u.UserPrincipalName); ok {
		return User{}, fmt.Errorf("user %s already exists in tenant %s", u.UserPrincipalName, tid)
	}
	u.TenantID = tid
	u.ObjectID = strings.ToLower(u.ObjectID)
	u.HomeTenantID = strings.ToLower(u.HomeTenantID)
	u.Roles = slices.Clone(u.Roles)
	d.users[u.ObjectID] = &u
	return u, nil
}

// userBySignIn finds the account a sign-in name means in a tenant: a member
// by user principal name, or a guest by mail.
func (d *directory) userBySignIn(tenantID, name string) (User, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	u, ok := d.userBySignInLocked(strings.ToLower(tenantID), name)
	if !ok {
		return User{}, false
	}
	return *u, true
}

func (d *directory) userBySignInLocked(tid, name string) (*User, bool) {
	for _, u := range d.users {
		if u.TenantID != tid {
			continue
		}
		if strings.EqualFold(u.UserPrincipalName, name) || (u.guest() && strings.EqualFold(u.Mail, name)) {
			return u, true
		}
	}
	return nil, false
}

// homeUser finds the member account (not a guest) with the sign-in name in
// any tenant, as the organizations and common authorities do.
func (d *directory) homeUser(name string) (User, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, u := range d.users {
		if !u.guest() && strings.EqualFold(u.UserPrincipalName, name) {
			return *u, true
		}
	}
	return User{}, false
}

func (d *directory) user(oid string) (User, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	u, ok := d.users[strings.ToLower(oid)]
	if !ok {
		return User{}, false
	}
	return *u, true
}

func (d *directory) tenant(id string) (Tenant, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	t, ok := d.tenants[strings.ToLower(id)]
	if !ok {
		return Tenant{}, false
	}
	return *t, true
}

func (d *directory) setUserConsent(tenantID string, allowed bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.tenants[strings.ToLower(tenantID)]
	if !ok {
		return fmt.Errorf("tenant %s: %w", tenantID, errNotFound)
	}
	t.UserConsent = allowed
	return nil
}

// grantDelegated records consent to delegated Graph permissions for one
// user (principal = object id) or for the whole tenant (allPrincipals),
// creating the client's service principal as consent does.
func (d *directory) grantDelegated(tenantID, clientID, principal string, scopes []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	tid, cid := strings.ToLower(tenantID), strings.ToLower(clientID)
	d.addPrincipalLocked(tid, cid)
	if d.delegated[tid] == nil {
		d.delegated[tid] = map[string]map[string][]string{}
	}
	if d.delegated[tid][cid] == nil {
		d.delegated[tid][cid] = map[string][]string{}
	}
	merged := append(d.delegated[tid][cid][principal], scopes...)
	slices.Sort(merged)
	d.delegated[tid][cid][principal] = slices.Compact(merged)
}

// delegatedGranted reports whether every scope is granted to clientID for
// the user, by a grant for the user or one for the whole tenant.
func (d *directory) delegatedGranted(tenantID, clientID, userOID string, scopes []string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	grants := d.delegated[strings.ToLower(tenantID)][strings.ToLower(clientID)]
	for _, s := range scopes {
		if !slices.Contains(grants[allPrincipals], s) && !slices.Contains(grants[strings.ToLower(userOID)], s) {
			return false
		}
	}
	return true
}

// revokeConsent removes every grant to clientID in the tenant and its
// service principal there, as deleting the enterprise application does.
// The home tenant keeps the principal: the registration owns it.
func (d *directory) revokeConsent(tenantID, clientID string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	tid, cid := strings.ToLower(tenantID), strings.ToLower(clientID)
	app, ok := d.apps[cid]
	if !ok {
		return fmt.Errorf("app %s: %w", clientID, errNotFound)
	}
	delete(d.roles[tid], cid)
	delete(d.delegated[tid], cid)
	if tid != app.HomeTenantID {
		delete(d.principals[tid], cid)
	}
	return nil
}

func (d *directory) setSecretExpired(clientID string, expired bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cid := strings.ToLower(clientID)
	if _, ok := d.apps[cid]; !ok {
		return fmt.Errorf("app %s: %w", clientID, errNotFound)
	}
	d.expiredSecrets[cid] = expired
	return nil
}

func (d *directory) setSecrets(clientID string, secrets ...string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cid := strings.ToLower(clientID)
	a, ok := d.apps[cid]
	if !ok {
		return fmt.Errorf("app %s: %w", clientID, errNotFound)
	}
	a.Secrets = slices.Clone(secrets)
	d.apps[cid] = a
	d.expiredSecrets[cid] = false
	return nil
}

func (d *directory) secretExpired(clientID string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.expiredSecrets[strings.ToLower(clientID)]
}
