// Package entra emulates the parts of the Microsoft identity platform
// (Microsoft Entra ID) that the upgrade service and its portal rely on, for
// the local stack and for tests: OpenID discovery, signing keys, the token
// endpoint, and the operator staff's portal tokens.
//
// It speaks the documented protocol over https with its own CA, because MSAL
// Go accepts only https authorities, and it answers with Microsoft's error
// shapes (AADSTS codes), because a stand-in kinder than the real service
// would prove nothing. Everything not part of Microsoft's surface lives
// under /_control/.
package entra

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults for Config. The GUIDs are fixed so that the local stack's
// configuration (issuer, audience, client ids) stays the same across runs.
const (
	DefaultOperatorTenantID = "7f3c2a91-5d4e-4b8a-9c61-2e0f8b7d4a13"
	DefaultOperatorDomain   = "ocpro-operator.onmicrosoft.com"
	DefaultPortalAudience   = "api://ocpro-portal"
	DefaultPortalScope      = "Upgrades.Manage"
	DefaultOperatorClaim    = "operator_id"
	// DefaultPortalAPIClientID is the client id of the portal API app, the
	// resource whose application ID URI is the portal audience.
	DefaultPortalAPIClientID = "3b9d6c2e-8f41-4a7d-b0e5-6c1a9f2d7e48"
	// DefaultPortalClientID is the client id of the portal's single-page
	// app, the client (azp) that staff tokens are issued to.
	DefaultPortalClientID = "c8a14e70-2b6f-4d93-a5e1-9f0b3d7c6a25"
)

// Config configures an Emulator. The zero value is usable.
type Config struct {
	// Dir keeps the CA and the token signing keys across restarts. Empty
	// keeps everything in memory.
	Dir string
	// OperatorTenantID is the operator's own tenant, where the portal app
	// is registered and staff sign in.
	OperatorTenantID string
	// OperatorDomain is the operator tenant's initial domain.
	OperatorDomain string
	// PortalAudience is the application ID URI of the portal API, the aud
	// of staff tokens.
	PortalAudience string
	// PortalScope is the delegated permission the portal API exposes.
	PortalScope string
	// OperatorClaim names the custom claim carrying the operator's name.
	OperatorClaim string
	// Apps are further application registrations, for example the upgrade
	// service's multi-tenant app with its client secret.
	Apps []App
	// PortalRedirectURIs are the portal client's redirect URIs, registered
	// under the single-page application platform (the operator console).
	PortalRedirectURIs []string
	// Staff are the operator's staff accounts that can sign in to the
	// portal; nil means one, DefaultStaffUser of DefaultStaffOperator.
	Staff []Staff
	// NoCustomerTenants leaves out the seeded Contoso and Fabrikam tenants.
	NoCustomerTenants bool
	// ConsentPropagation is how long a grant of application permissions
	// takes to reach client credentials tokens (SetConsentPropagation);
	// zero makes it immediate.
	ConsentPropagation time.Duration
	// Logger receives request logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Emulator is an in-memory Microsoft identity platform. It is safe for
// concurrent use.
type Emulator struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	dir      *directory
	ca       *authority
	current  *signingKey
	previous *signingKey
	mux      http.Handler

	foreignOnce sync.Once
	foreign     *signingKey
	foreignErr  error

	mu      sync.RWMutex
	baseURL string

	// flows holds what the protocols remember between requests: sessions,
	// sign-ins in progress, codes, refresh tokens, policies and faults.
	flows *flowState
}

// New builds an emulator with the operator tenant, the portal API and
// portal client registrations, Microsoft Graph, and cfg.Apps. It loads the
// CA and signing keys from cfg.Dir, or creates them.
func New(cfg Config) (*Emulator, error) {
	if cfg.OperatorTenantID == "" {
		cfg.OperatorTenantID = DefaultOperatorTenantID
	}
	if cfg.OperatorDomain == "" {
		cfg.OperatorDomain = DefaultOperatorDomain
	}
	if cfg.PortalAudience == "" {
		cfg.PortalAudience = DefaultPortalAudience
	}
	if cfg.PortalScope == "" {
		cfg.PortalScope = DefaultPortalScope
	}
	if cfg.OperatorClaim == "" {
		cfg.OperatorClaim = DefaultOperatorClaim
	}
	cfg.OperatorTenantID = strings.ToLower(cfg.OperatorTenantID)
	e := &Emulator{cfg: cfg, log: cfg.Logger, now: cfg.Now, dir: newDirectory(), flows: newFlowState()}
	e.flows.propagation = cfg.ConsentPropagation
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if err := e.seed(); err != nil {
		return nil, err
	}
	var err error
	if e.ca, err = loadOrCreateAuthority(cfg.Dir, e.now()); err != nil {
		return nil, fmt.Errorf("entra emulator CA: %w", err)
	}
	if e.current, e.previous, err = loadOrCreateSigningKeys(cfg.Dir, e.now()); err != nil {
		return nil, fmt.Errorf("entra emulator signing keys: %w", err)
	}
	e.mux = e.routes()
	return e, nil
}

// seed registers what every run has: the operator tenant, the portal API
// and portal client, Microsoft Graph, and the configured apps.
func (e *Emulator) seed() error {
	// Microsoft Graph is a first-party app; its home is Microsoft's own
	// tenant, which the emulator does not need to model beyond an id.
	const microsoftServicesTenant = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
	tenants := []Tenant{
		{ID: e.cfg.OperatorTenantID, Domains: []string{e.cfg.OperatorDomain}, DisplayName: "Operator", Region: "EU"},
		{ID: microsoftServicesTenant, Domains: []string{"microsoftservices.onmicrosoft.com"}, DisplayName: "Microsoft Services"},
	}
	for _, t := range tenants {
		if err := e.dir.addTenant(t); err != nil {
			return fmt.Errorf("entra emulator: %w", err)
		}
	}
	apps := []App{
		{
			ClientID: DefaultPortalAPIClientID, DisplayName: "OC Pro portal API", HomeTenantID: e.cfg.OperatorTenantID,
			IdentifierURIs: []string{e.cfg.PortalAudience}, Scopes: []string{e.cfg.PortalScope},
		},
		{
			ClientID: DefaultPortalClientID, DisplayName: "OC Pro portal", HomeTenantID: e.cfg.OperatorTenantID,
			PublicClient: true, SPARedirectURIs: e.cfg.PortalRedirectURIs,
		},
		{
			ClientID: GraphAppID, DisplayName: "Microsoft Graph", HomeTenantID: microsoftServicesTenant,
			IdentifierURIs: []string{GraphResource}, MultiTenant: true,
			Scopes:   []string{"User.Read", "openid", "profile", "offline_access"},
			AppRoles: []string{"Organization.Read.All", "Domain.Read.All", "User.Read.All", "Application.Read.All"},
		},
	}
	if !e.cfg.NoCustomerTenants {
		if err := e.seedCustomers(); err != nil {
			return fmt.Errorf("entra emulator: %w", err)
		}
	}
	for _, a := range append(apps, e.cfg.Apps...) {
		if a.HomeTenantID == "" {
			a.HomeTenantID = e.cfg.OperatorTenantID
		}
		if err := e.dir.addApp(a); err != nil {
			return fmt.Errorf("entra emulator: %w", err)
		}
	}
	if err := e.seedStaff(); err != nil {
		return fmt.Errorf("entra emulator: %w", err)
	}
	return nil
}

// AddTenant adds a tenant, for example a customer's.
func (e *Emulator) AddTenant(t Tenant) error {
	if err := e.dir.addTenant(t); err != nil {
		return fmt.Errorf("add tenant: %w", err)
	}
	return nil
}

// RegisterApp adds an application registration. An empty HomeTenantID means
// the operator tenant.
func (e *Emulator) RegisterApp(a App) error {
	if a.HomeTenantID == "" {
		a.HomeTenantID = e.cfg.OperatorTenantID
	}
	if err := e.dir.addApp(a); err != nil {
		return fmt.Errorf("register app: %w", err)
	}
	return nil
}

// GrantAppRoles records an administrator's consent in tenantID to the
// application permissions roles of resourceAppID for clientID. Client
// credentials tokens for that resource then carry them in roles.
func (e *Emulator) GrantAppRoles(tenantID, clientID, resourceAppID string, roles ...string) error {
	if err := e.dir.grantAppRoles(tenantID, clientID, resourceAppID, roles...); err != nil {
		return fmt.Errorf("grant app roles: %w", err)
	}
	e.noteGrant(tenantID, clientID)
	return nil
}

// OperatorTenantID returns the operator tenant's id.
func (e *Emulator) OperatorTenantID() string { return e.cfg.OperatorTenantID }

// SetBaseURL records the https base URL the emulator is served at (for
// example https://127.0.0.1:8443). Issuers and endpoints are built from it.
func (e *Emulator) SetBaseURL(u string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.baseURL = strings.TrimSuffix(u, "/")
}

// BaseURL returns the URL set by SetBaseURL or Serve.
func (e *Emulator) BaseURL() string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.baseURL
}

// Issuer returns the iss of tokens issued in the operator tenant, which is
// what the API's JWT authorizer must be configured with.
func (e *Emulator) Issuer() string {
	return e.BaseURL() + "/" + e.cfg.OperatorTenantID + "/v2.0"
}

// baseFor is the base URL for building URLs in a response: the configured
// one, or else the host the request came to.
func (e *Emulator) baseFor(r *http.Request) string {
	if b := e.BaseURL(); b != "" {
		return b
	}
	return "https://" + r.Host
}

// CACertPEM returns the emulator CA certificate in PEM.
func (e *Emulator) CACertPEM() []byte {
	return append([]byte(nil), e.ca.caPEM...)
}

// CertPool returns a pool that trusts only the emulator CA.
func (e *Emulator) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(e.ca.caCert)
	return pool
}

// Client returns an HTTP client that trusts the emulator CA.
func (e *Emulator) Client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: e.CertPool(), MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// TLSConfig returns a server TLS configuration with the emulator's
// certificate for 127.0.0.1, ::1 and localhost.
func (e *Emulator) TLSConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{e.ca.server}, MinVersion: tls.VersionTLS12}
}

// WriteCABundle writes the system roots (when the machine has a bundle)
// followed by the emulator CA to path, for SSL_CERT_FILE.
func (e *Emulator) WriteCABundle(path string) error {
	if err := writeCABundle(path, e.ca.caPEM, systemRootFiles); err != nil {
		return fmt.Errorf("write CA bundle: %w", err)
	}
	return nil
}

// Handler returns the HTTP handler serving Microsoft's endpoints and the
// control API.
func (e *Emulator) Handler() http.Handler { return e.mux }

// Serve listens on addr (for example 127.0.0.1:0) with TLS, sets the base
// URL from the bound address, and serves in the background until ctx is
// done. It returns the base URL.
func (e *Emulator) Serve(ctx context.Context, addr string) (string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("entra emulator listen %s: %w", addr, err)
	}
	base := "https://" + ln.Addr().String()
	e.SetBaseURL(base)
	srv := &http.Server{
		Handler:           e.Handler(),
		TLSConfig:         e.TLSConfig(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelWarn),
	}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			e.log.Warn("entra emulator shutdown", "err", err)
		}
	}()
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("entra emulator stopped", "err", err)
		}
	}()
	e.log.Info("entra emulator listening", "url", base)
	return base, nil
}
