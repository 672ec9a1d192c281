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
}

// User is one user account in a tenant.
type User struct {
	ObjectID          string
	TenantID          string
	UserPrincipalName string
	DisplayName       string
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
}

func newDirectory() *directory {
	return &directory{
		tenants:    map[string]*Tenant{},
		domains:    map[string]string{},
		apps:       map[string]*App{},
		users:      map[string]*User{},
		principals: map[string]map[string]bool{},
		roles:      map[string]map[string]map[string][]string{},
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
