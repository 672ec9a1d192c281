package validate_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/entra"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/validate"
)

const (
	clientID = "0b6c2f7e-1d3a-4c5b-8e9f-a1b2c3d4e5f6"
	secret   = "local-test-secret"
)

// fixture is an emulator on a free port with the operator's app, and a
// transport that counts Graph calls.
type fixture struct {
	em         *entra.Emulator
	base       string
	graphCalls atomic.Int64
	client     *http.Client
}

type countingTransport struct {
	next http.RoundTripper
	f    *fixture
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, "/v1.0/") && strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ey") {
		c.f.graphCalls.Add(1)
	}
	return c.next.RoundTrip(r)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, entra.Config{})
}

// newFixtureWith is newFixture on an emulator with cfg (its clock, its
// consent propagation) and the operator's app.
func newFixtureWith(t *testing.T, cfg entra.Config) *fixture {
	t.Helper()
	cfg.Apps = []entra.App{{
		ClientID: clientID, DisplayName: "Operator Connect", HomeTenantID: entra.DefaultOperatorTenantID,
		Secrets: []string{secret}, MultiTenant: true, RequiredRoles: []string{"Organization.Read.All"},
		RequiredScopes: []string{"User.Read"}, RedirectURIs: []string{redirectURI},
		// As the operator registers it: device code needs public client
		// flows, and Entra then refuses the secret on its refreshes.
		AllowPublicClientFlows: true,
	}}
	em, err := entra.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	base, err := em.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{em: em, base: base}
	f.client = &http.Client{Timeout: 10 * time.Second, Transport: countingTransport{next: em.Client().Transport, f: f}}
	return f
}

type staticSecret string

func (s staticSecret) ClientSecret(context.Context) (string, error) { return string(s), nil }

// memCredentials keeps one sealed credential per invitation; public marks
// them all as device code refresh tokens.
type memCredentials struct {
	mu     sync.Mutex
	m      map[string][]byte
	public bool
}

func (m *memCredentials) Credential(_ context.Context, id string) (upgrade.KeptCredential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.m[id]
	if !ok {
		return upgrade.KeptCredential{}, upgrade.ErrNotFound
	}
	return upgrade.KeptCredential{Sealed: b, Public: m.public}, nil
}

func (m *memCredentials) ReplaceCredential(_ context.Context, id string, prev, next []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if string(m.m[id]) != string(prev) {
		return upgrade.ErrStateChanged
	}
	m.m[id] = next
	return nil
}

// plainSealer "seals" by prefixing the context, enough to prove the
// context is passed through.
type plainSealer struct{}

func (plainSealer) Seal(_ context.Context, p []byte, c map[string]string) ([]byte, error) {
	return append([]byte(c["tenantId"]+"/"+c["invitationId"]+"|"), p...), nil
}

func (plainSealer) Open(_ context.Context, b []byte, c map[string]string) ([]byte, error) {
	prefix := c["tenantId"] + "/" + c["invitationId"] + "|"
	if !strings.HasPrefix(string(b), prefix) {
		return nil, errors.New("wrong context")
	}
	return b[len(prefix):], nil
}

func (f *fixture) checker(t *testing.T, creds *memCredentials, s string) *validate.Checker {
	t.Helper()
	cfg := validate.Config{AuthorityHost: f.base, ClientID: clientID, Secret: staticSecret(s), GraphBaseURL: f.base, HTTPClient: f.client,
		RequiredRoles: []string{"Organization.Read.All"}}
	if creds != nil {
		cfg.Credentials, cfg.Sealer = creds, plainSealer{}
	}
	c, err := validate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// refreshToken signs the Contoso admin in with the device code flow, as a
// public client, and returns the refresh token.
func (f *fixture) refreshToken(t *testing.T) string {
	t.Helper()
	post := func(path string, form url.Values) map[string]any {
		resp, err := f.client.PostForm(f.base+"/"+entra.ContosoTenantID+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	dc := post("/oauth2/v2.0/devicecode", url.Values{"client_id": {clientID}, "scope": {"User.Read offline_access openid profile"}})
	if err := f.em.ApproveDeviceCode(dc["user_code"].(string), entra.ContosoAdmin); err != nil {
		t.Fatal(err)
	}
	tok := post("/oauth2/v2.0/token", url.Values{"grant_type": {"device_code"}, "client_id": {clientID},
		"device_code": {dc["device_code"].(string)}})
	rt, _ := tok["refresh_token"].(string)
	if rt == "" {
		t.Fatalf("no refresh token: %v", tok)
	}
	return rt
}

var contoso = upgrade.TenantRef{OperatorID: "op", CustomerID: "cust", TenantID: entra.ContosoTenantID, InvitationID: "inv1"}

func TestApplicationCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		arrange   func(t *testing.T, f *fixture)
		secret    string
		wantPass  bool
		wantCode  string
		wantAADST int
		transient bool
		graphUsed bool
	}{
		{name: "consented tenant passes after a real Graph call", graphUsed: true, wantPass: true,
			arrange: func(t *testing.T, f *fixture) { must(t, f.em.GrantAdminConsent(entra.ContosoTenantID, clientID)) }},
		{name: "tenant that never consented", wantCode: upgrade.FailureAppNotInTenant, wantAADST: 700016,
			arrange: func(t *testing.T, f *fixture) {}},
		{name: "consent revoked", wantCode: upgrade.FailureAppNotInTenant, wantAADST: 700016,
			arrange: func(t *testing.T, f *fixture) {
				must(t, f.em.GrantAdminConsent(entra.ContosoTenantID, clientID))
				must(t, f.em.RevokeConsent(entra.ContosoTenantID, clientID))
			}},
		{name: "permission missing", wantCode: upgrade.FailureMissingPermissions,
			arrange: func(t *testing.T, f *fixture) {
				must(t, f.em.GrantAppRoles(entra.ContosoTenantID, clientID, "00000003-0000-0000-c000-000000000000", "User.Read.All"))
			}},
		{name: "secret expired", wantCode: upgrade.FailureSecretExpired, wantAADST: 7000222,
			arrange: func(t *testing.T, f *fixture) {
				must(t, f.em.GrantAdminConsent(entra.ContosoTenantID, clientID))
				must(t, f.em.ExpireAppSecret(clientID, true))
			}},
		{name: "wrong secret", secret: "not-the-secret", wantCode: upgrade.FailureSecretInvalid, wantAADST: 7000215,
			arrange: func(t *testing.T, f *fixture) { must(t, f.em.GrantAdminConsent(entra.ContosoTenantID, clientID)) }},
		{name: "Graph down is transient", wantCode: upgrade.FailureMicrosoftUnavailable, transient: true, graphUsed: true,
			arrange: func(t *testing.T, f *fixture) {
				must(t, f.em.GrantAdminConsent(entra.ContosoTenantID, clientID))
				must(t, f.em.InjectFault(entra.Fault{Kind: entra.FaultGraph, Status: 503, RetryAfter: 30, Count: 5}))
			}},
		{name: "token endpoint throttled is transient", wantCode: upgrade.FailureThrottled, wantAADST: 90055, transient: true,
			arrange: func(t *testing.T, f *fixture) {
				must(t, f.em.GrantAdminConsent(entra.ContosoTenantID, clientID))
				must(t, f.em.InjectFault(entra.Fault{Kind: entra.FaultToken, Status: 429, RetryAfter: 30, Count: 5}))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			tt.arrange(t, f)
			s := secret
			if tt.secret != "" {
				s = tt.secret
			}
			v, err := f.checker(t, nil, s).Validate(context.Background(), contoso)
			if err != nil {
				t.Fatal(err)
			}
			app := v.Application
			if app.Passed != tt.wantPass || v.Passed() != tt.wantPass {
				t.Fatalf("passed = %v, want %v (%+v)", app.Passed, tt.wantPass, app.Failure)
			}
			if v.At.IsZero() || v.TenantID != entra.ContosoTenantID {
				t.Errorf("validation lacks time or tenant: %+v", v)
			}
			if got := f.graphCalls.Load() > 0; got != tt.graphUsed {
				t.Errorf("Graph called = %v, want %v", got, tt.graphUsed)
			}
			if tt.wantPass {
				if app.TenantDomain != "contoso.example" || len(app.Permissions) == 0 {
					t.Errorf("passing result = %+v", app)
				}
				return
			}
			if app.Failure.Code != tt.wantCode || app.Failure.AADSTS != tt.wantAADST || app.Failure.Transient != tt.transient {
				t.Errorf("failure = %+v, want code %s AADSTS %d transient %v", app.Failure, tt.wantCode, tt.wantAADST, tt.transient)
			}
			if app.Failure.Reason == "" {
				t.Error("no reason for the operator")
			}
			if tt.transient && app.Failure.RetryAfter != 30*time.Second {
				t.Errorf("Retry-After = %v, want 30s", app.Failure.RetryAfter)
			}
			if tt.wantCode == upgrade.FailureMissingPermissions && strings.Join(app.Failure.Missing, ",") != "Organization.Read.All" {
				t.Errorf("missing = %v", app.Failure.Missing)
			}
		})
	}
}

// A short Retry-After is waited out and the check tried again.
func TestApplicationCheckHonoursShortRetryAfter(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	must(t, f.em.GrantAdminConsent(entra.ContosoTenantID, clientID))
	must(t, f.em.InjectFault(entra.Fault{Kind: entra.FaultGraph, Status: 429, RetryAfter: 1, Count: 1}))
	v, err := f.checker(t, nil, secret).Validate(context.Background(), contoso)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Passed() || f.graphCalls.Load() != 2 {
		t.Fatalf("passed = %v after %d Graph calls, want a pass on the second", v.Passed(), f.graphCalls.Load())
	}
}

func TestDelegatedCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		spoil    func(f *fixture, rt string)
		wantPass bool
		wantCode string
		wantAAD  int
	}{
		{name: "kept credential redeems, rotates and names the account", wantPass: true},
		{name: "expired by 90 days of inactivity", wantCode: upgrade.FailureRefreshTokenExpired, wantAAD: 700082,
			spoil: func(f *fixture, rt string) { f.em.ExpireRefreshToken(rt) }},
		{name: "revoked", wantCode: upgrade.FailureRefreshTokenRevoked, wantAAD: 50173,
			spoil: func(f *fixture, rt string) { f.em.RevokeRefreshToken(rt) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			must(t, f.em.GrantAdminConsent(entra.ContosoTenantID, clientID))
			rt := f.refreshToken(t)
			if tt.spoil != nil {
				tt.spoil(f, rt)
			}
			sealed, err := plainSealer{}.Seal(context.Background(), []byte(rt), upgrade.CredentialContext(contoso.TenantID, contoso.InvitationID))
			must(t, err)
			creds := &memCredentials{m: map[string][]byte{contoso.InvitationID: sealed}, public: true}
			v, err := f.checker(t, creds, secret).Validate(context.Background(), contoso)
			if err != nil {
				t.Fatal(err)
			}
			d := v.Delegated
			if d == nil {
				t.Fatal("delegated check did not run")
			}
			if d.Passed != tt.wantPass {
				t.Fatalf("passed = %v, want %v (%+v)", d.Passed, tt.wantPass, d.Failure)
			}
			kept, err := creds.Credential(context.Background(), contoso.InvitationID)
			must(t, err)
			stored := kept.Sealed
			if tt.wantPass {
				if d.Account != entra.ContosoAdmin {
					t.Errorf("account = %q", d.Account)
				}
				if string(stored) == string(sealed) {
					t.Error("the rotated refresh token was not kept")
				}
				return
			}
			if d.Failure.Code != tt.wantCode || d.Failure.AADSTS != tt.wantAAD || d.Failure.Transient {
				t.Errorf("failure = %+v", d.Failure)
			}
			if v.Passed() {
				t.Error("validation passed with a failed delegated check")
			}
		})
	}
}

// Without a kept credential only the application check runs.
func TestNoCredentialSkipsDelegated(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	must(t, f.em.GrantAdminConsent(entra.ContosoTenantID, clientID))
	v, err := f.checker(t, &memCredentials{m: map[string][]byte{}}, secret).Validate(context.Background(), contoso)
	if err != nil || v.Delegated != nil || !v.Passed() {
		t.Fatalf("v = %+v, err = %v", v, err)
	}
}

// A server that hands out a token but whose Graph never answers 200 can
// never yield a pass: success needs a used token.
func TestNoPassWithoutGraph(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	must(t, f.em.GrantAdminConsent(entra.ContosoTenantID, clientID))
	// Graph is unreachable; the token endpoint is not.
	down := &http.Client{Timeout: 10 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasPrefix(r.URL.Path, "/v1.0/") {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
		}
		return f.client.Transport.RoundTrip(r)
	})}
	c, err := validate.New(validate.Config{AuthorityHost: f.base, ClientID: clientID, Secret: staticSecret(secret),
		GraphBaseURL: f.base, HTTPClient: down, RequiredRoles: []string{"Organization.Read.All"}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Validate(context.Background(), contoso)
	if err != nil {
		t.Fatal(err)
	}
	if v.Passed() || v.Application.Failure == nil || !v.Application.Failure.Transient {
		t.Fatalf("validation without Graph = %+v", v.Application)
	}
}

// Tokens are asked for the Graph that GraphBaseURL names, not for the
// global cloud's: in the US Government cloud Graph is
// https://graph.microsoft.us, here it is the emulator's address.
func TestTokensAreForTheConfiguredGraph(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	must(t, f.em.GrantAdminConsent(entra.ContosoTenantID, clientID))
	var mu sync.Mutex
	var scopes []string
	recording := &http.Client{Timeout: 10 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return nil, err
			}
			form, err := url.ParseQuery(string(body))
			if err != nil {
				return nil, err
			}
			mu.Lock()
			scopes = append(scopes, form.Get("scope"))
			mu.Unlock()
			r.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		return f.client.Transport.RoundTrip(r)
	})}
	c, err := validate.New(validate.Config{AuthorityHost: f.base, ClientID: clientID, Secret: staticSecret(secret),
		GraphBaseURL: f.base + "/", HTTPClient: recording, RequiredRoles: []string{"Organization.Read.All"}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Validate(context.Background(), contoso)
	if err != nil || !v.Passed() {
		t.Fatalf("validation = %+v, %v", v.Application, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(scopes) == 0 || !strings.HasPrefix(scopes[0], f.base+"/.default") {
		t.Fatalf("token requests asked for %q, want %s/.default", scopes, f.base)
	}
}

// The registration and the configuration drift apart: the app registered
// in Entra asks for fewer permissions than ENTRA_REQUIRED_ROLES requires.
// Consent grants what the registration asks for, so the tenant consented
// in full and still lacks one; the check names it, in words.
func TestRegistrationDriftIsNamed(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // The registration asks for Organization.Read.All.
	must(t, f.em.GrantAdminConsent(entra.ContosoTenantID, clientID))
	c, err := validate.New(validate.Config{AuthorityHost: f.base, ClientID: clientID, Secret: staticSecret(secret),
		GraphBaseURL: f.base, HTTPClient: f.client, RequiredRoles: []string{"Organization.Read.All", "Application.Read.All"}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Validate(context.Background(), contoso)
	if err != nil {
		t.Fatal(err)
	}
	fl := v.Application.Failure
	if v.Passed() || fl == nil || fl.Code != upgrade.FailureMissingPermissions || strings.Join(fl.Missing, ",") != "Application.Read.All" ||
		!strings.Contains(fl.Reason, "Application.Read.All") || fl.Transient {
		t.Fatalf("validation with a drifted registration = %+v", fl)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	ok := validate.Config{AuthorityHost: "https://login.example", ClientID: "c", Secret: staticSecret("s"), GraphBaseURL: "https://graph.example",
		RequiredRoles: []string{"Organization.Read.All"}}
	tests := []struct {
		name   string
		change func(*validate.Config)
	}{
		{"plain http authority", func(c *validate.Config) { c.AuthorityHost = "http://login.example" }},
		{"no client id", func(c *validate.Config) { c.ClientID = "" }},
		{"no secret", func(c *validate.Config) { c.Secret = nil }},
		{"no Graph", func(c *validate.Config) { c.GraphBaseURL = "" }},
		{"Graph with a path: its resource would be wrong", func(c *validate.Config) { c.GraphBaseURL = "https://graph.microsoft.com/v1.0" }},
		{"no required roles: any app token would pass", func(c *validate.Config) { c.RequiredRoles = nil }},
		{"credentials without sealer", func(c *validate.Config) { c.Credentials = &memCredentials{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tt.change(&cfg)
			if _, err := validate.New(cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
	if _, err := validate.New(ok); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
