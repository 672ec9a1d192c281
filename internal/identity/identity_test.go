package identity_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/entra"
	"github.com/ocpro/upgrade/internal/identity"
	"github.com/ocpro/upgrade/internal/wizard"
)

const (
	clientID = "0d6f2b8e-1a3c-4e5f-9b7d-2c4e6f8a0b1c"
	secret   = "test-secret-value"
	redirect = "http://127.0.0.1:3000/consent/callback"
)

var required = []string{"Organization.Read.All", "User.Read.All"}

type staticSecret string

func (s staticSecret) ClientSecret(context.Context) (string, error) { return string(s), nil }

// newEntra starts an emulator with the operator's multi-tenant app and
// returns it with an Entra adapter pointed at it.
func newEntra(t *testing.T) (*entra.Emulator, *identity.Entra) {
	t.Helper()
	return newEntraAt(t, nil)
}

// newEntraAt is newEntra with the emulator and the adapter on the clock
// now (nil: the real one), so that a test can move Microsoft's time along
// with the wizard's instead of sleeping.
func newEntraAt(t *testing.T, now func() time.Time) (*entra.Emulator, *identity.Entra) {
	t.Helper()
	em, base := newEmulatorAt(t, now)
	id, err := identity.New(identity.Config{AuthorityHost: base, ClientID: clientID, Secret: staticSecret(secret),
		RedirectURI: redirect, GraphBaseURL: base, HTTPClient: em.Client(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return em, id
}

// newEmulator starts an emulator with the operator's multi-tenant app and
// returns it with its base URL.
func newEmulator(t *testing.T) (*entra.Emulator, string) {
	t.Helper()
	return newEmulatorAt(t, nil)
}

func newEmulatorAt(t *testing.T, now func() time.Time) (*entra.Emulator, string) {
	t.Helper()
	em, err := entra.New(entra.Config{Now: now, Apps: []entra.App{{
		ClientID: clientID, DisplayName: "Live Platform Operator Connect", Secrets: []string{secret},
		MultiTenant: true, RedirectURIs: []string{redirect}, RequiredRoles: required, GroupMembershipClaims: "DirectoryRole",
		// As the operator registers it: the device code flow is a public
		// client flow, and Entra then refuses the secret on its polls.
		AllowPublicClientFlows: true,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	base, err := em.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return em, base
}

func TestDeviceCodeOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		arrange    func(em *entra.Emulator, userCode string) error
		wantReason wizard.Reason
		wantTenant string
	}{
		{name: "pending until approved", arrange: func(*entra.Emulator, string) error { return nil }, wantReason: wizard.ReasonPending},
		{name: "approved by the Global Admin", arrange: func(em *entra.Emulator, c string) error {
			return em.ApproveDeviceCode(c, entra.ContosoAdmin)
		}, wantTenant: entra.ContosoTenantID},
		{name: "declined", arrange: func(em *entra.Emulator, c string) error { return em.DeclineDeviceCode(c) }, wantReason: wizard.ReasonDeclined},
		{name: "conditional access blocks device code", arrange: func(em *entra.Emulator, c string) error {
			em.BlockDeviceCode(entra.ContosoTenantID, true)
			if err := em.ApproveDeviceCode(c, entra.ContosoAdmin); err == nil {
				return errors.New("a blocked device code was approved")
			}
			return nil
		}, wantReason: wizard.ReasonBlocked},
		{name: "non-admin cannot consent", arrange: func(em *entra.Emulator, c string) error {
			if err := em.ApproveDeviceCode(c, entra.ContosoUser); err == nil {
				return errors.New("a user who may not consent approved the device code")
			}
			return nil
		}, wantReason: wizard.ReasonNeedsAdmin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			em, id := newEntra(t)
			ctx := context.Background()
			dc, err := id.StartDeviceCode(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if dc.Interval <= 0 || dc.ExpiresIn <= 0 || !strings.HasPrefix(dc.VerificationURI, "https://") {
				t.Fatalf("device code response %+v", dc)
			}
			if err := tt.arrange(em, dc.UserCode); err != nil {
				t.Fatal(err)
			}
			tok, err := id.PollDeviceCode(ctx, dc.DeviceCode)
			if tt.wantReason != "" {
				var se *wizard.SignInError
				if !errors.As(err, &se) || se.Reason != tt.wantReason {
					t.Fatalf("poll err = %v, want reason %s", err, tt.wantReason)
				}
				if strings.Contains(err.Error(), dc.DeviceCode) {
					t.Fatal("error text holds the device code")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tok.TenantID != tt.wantTenant || tok.UPN != entra.ContosoAdmin || tok.ObjectID == "" || tok.RefreshToken == "" || !tok.Public {
				t.Fatalf("tokens = %+v", tok)
			}
			// The registration asks for directory roles: the ID token's
			// wids name the Global Administrator role.
			if !slices.Contains(tok.DirectoryRoles, wizard.GlobalAdministrator) {
				t.Fatalf("directory roles = %v, want the Global Administrator's", tok.DirectoryRoles)
			}
		})
	}
}

func TestAppGrantProvesConsent(t *testing.T) {
	t.Parallel()
	em, id := newEntra(t)
	ctx := context.Background()
	if _, err := id.AppGrant(ctx, entra.FabrikamTenantID); !errors.Is(err, wizard.ErrNotConsented) {
		t.Fatalf("before consent: err = %v, want ErrNotConsented", err)
	}
	if _, err := id.AppGrant(ctx, "not-a-tenant"); !errors.Is(err, wizard.ErrNotConsented) {
		t.Fatalf("malformed tenant: err = %v, want ErrNotConsented", err)
	}
	if err := em.GrantAdminConsent(entra.ContosoTenantID, clientID); err != nil {
		t.Fatal(err)
	}
	g, err := id.AppGrant(ctx, entra.ContosoTenantID)
	if err != nil {
		t.Fatal(err)
	}
	if g.TenantID != entra.ContosoTenantID {
		t.Errorf("tid = %s", g.TenantID)
	}
	for _, r := range required {
		if !slices.Contains(g.Roles, r) {
			t.Errorf("roles %v lack %s", g.Roles, r)
		}
	}
	// The token is Graph's v1.0 token, whose signature no client can
	// check; Graph's answer for the token names the tenant instead.
	o := g.Organization
	if o.ID != entra.ContosoTenantID || o.DisplayName != "Contoso" || !slices.Contains(o.VerifiedDomains, "contoso.example") {
		t.Errorf("organization = %+v, want Contoso with contoso.example", o)
	}
}

func TestURLs(t *testing.T) {
	t.Parallel()
	_, id := newEntra(t)
	u, err := id.AuthorizeURL(context.Background(), "STATE", "CHALLENGE")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/organizations/oauth2/v2.0/authorize?", "state=STATE", "code_challenge=CHALLENGE", "code_challenge_method=S256", "response_type=code"} {
		if !strings.Contains(u, want) {
			t.Errorf("authorize URL %s lacks %s", u, want)
		}
	}
	c := id.AdminConsentURL(entra.ContosoTenantID, "S2")
	for _, want := range []string{"/" + entra.ContosoTenantID + "/v2.0/adminconsent?", "state=S2", "scope=https%3A%2F%2F", "%2F.default"} {
		if !strings.Contains(c, want) {
			t.Errorf("admin consent URL %s lacks %s", c, want)
		}
	}
}

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	if _, err := identity.New(identity.Config{AuthorityHost: "http://insecure", ClientID: "x"}); err == nil {
		t.Error("http authority accepted")
	}
	valid := identity.Config{AuthorityHost: "https://login.example", ClientID: "x", Secret: staticSecret("s"),
		RedirectURI: "https://invite.example/consent/callback", HTTPClient: http.DefaultClient}
	for graph, ok := range map[string]bool{"https://graph.microsoft.com": true, "http://127.0.0.1:1": false,
		"http://graph.microsoft.com": false, "": true, "graph.microsoft.com": false} {
		c := valid
		c.GraphBaseURL = graph
		if _, err := identity.New(c); (err == nil) != ok {
			t.Errorf("Graph base URL %q: err = %v, want accepted %v", graph, err, ok)
		}
	}
}

// A proof asked for before the consent must not be reused after it: the
// second answer comes from Microsoft, not from a cache.
func TestAppGrantIsNeverCached(t *testing.T) {
	t.Parallel()
	em, id := newEntra(t)
	ctx := context.Background()
	if err := em.GrantAdminConsent(entra.FabrikamTenantID, clientID); err != nil {
		t.Fatal(err)
	}
	if _, err := id.AppGrant(ctx, entra.FabrikamTenantID); err != nil {
		t.Fatal(err)
	}
	if err := em.RevokeConsent(entra.FabrikamTenantID, clientID); err != nil {
		t.Fatal(err)
	}
	if _, err := id.AppGrant(ctx, entra.FabrikamTenantID); !errors.Is(err, wizard.ErrNotConsented) {
		t.Fatalf("after revocation: err = %v, want ErrNotConsented", err)
	}
}

// discoveryCounter counts the requests for OpenID configurations and fails
// the first few of them, as a network that is briefly down would.
type discoveryCounter struct {
	next http.RoundTripper

	mu          sync.Mutex
	requests    int
	failuresDue int
}

func (d *discoveryCounter) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.requests
}

func (d *discoveryCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
		d.mu.Lock()
		d.requests++
		fail := d.failuresDue > 0
		if fail {
			d.failuresDue--
		}
		d.mu.Unlock()
		if fail {
			return nil, errors.New("network briefly down")
		}
	}
	return d.next.RoundTrip(r)
}

// TestDiscoveryOncePerContainer: Microsoft's OpenID configuration is read on
// first need, not at construction, and then kept for the life of the
// adapter, which is the container's; a failed read is not kept, so
// the next request tries again.
func TestDiscoveryOncePerContainer(t *testing.T) {
	t.Parallel()
	em, base := newEmulator(t)
	counter := &discoveryCounter{next: em.Client().Transport, failuresDue: 1}
	id, err := identity.New(identity.Config{AuthorityHost: base, ClientID: clientID, Secret: staticSecret(secret),
		RedirectURI: redirect, GraphBaseURL: base, HTTPClient: &http.Client{Transport: counter}})
	if err != nil {
		t.Fatal(err)
	}
	if n := counter.count(); n != 0 {
		t.Fatalf("construction read the configuration %d times", n)
	}
	ctx := t.Context()
	if _, err := id.StartDeviceCode(ctx); err == nil {
		t.Fatal("StartDeviceCode succeeded while discovery failed")
	}
	for range 2 {
		if _, err := id.StartDeviceCode(ctx); err != nil {
			t.Fatalf("StartDeviceCode: %v", err)
		}
	}
	if _, err := id.AuthorizeURL(ctx, "state", "challenge"); err != nil {
		t.Fatalf("AuthorizeURL: %v", err)
	}
	if n := counter.count(); n != 2 {
		t.Errorf("the configuration was read %d times, want 2 (the failed read, then once for good)", n)
	}
}

// Scopes name the Graph the service reaches: the global one by default,
// the US Government's when Graph is graph.microsoft.us, and here the
// emulator, whose address names Graph as a national cloud's host does.
func TestScopesNameTheConfiguredGraph(t *testing.T) {
	t.Parallel()
	em, base := newEmulator(t)
	for _, tc := range []struct{ graph, want string }{
		{"", "https://graph.microsoft.com/.default"},
		{"https://graph.microsoft.us", "https://graph.microsoft.us/.default"},
		{"https://microsoftgraph.chinacloudapi.cn/", "https://microsoftgraph.chinacloudapi.cn/.default"},
		{base, base + "/.default"},
	} {
		id, err := identity.New(identity.Config{AuthorityHost: base, ClientID: clientID, Secret: staticSecret(secret),
			RedirectURI: redirect, HTTPClient: em.Client(), GraphBaseURL: tc.graph})
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(id.AdminConsentURL(entra.ContosoTenantID, "state"))
		if err != nil || u.Query().Get("scope") != tc.want {
			t.Errorf("Graph %q: admin consent scope %q, want %q", tc.graph, u.Query().Get("scope"), tc.want)
		}
		signIn, err := id.AuthorizeURL(context.Background(), "state", strings.Repeat("c", 43))
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSuffix(tc.want, ".default") + "User.Read"; !strings.Contains(signIn, url.QueryEscape(want)) {
			t.Errorf("Graph %q: sign-in %s lacks %s", tc.graph, signIn, want)
		}
	}
	if _, err := identity.New(identity.Config{AuthorityHost: base, ClientID: clientID, Secret: staticSecret(secret),
		RedirectURI: redirect, HTTPClient: em.Client(), GraphBaseURL: "https://graph.microsoft.com/v1.0"}); err == nil {
		t.Error("a Graph base URL with a path was accepted")
	}
	// Against the emulator, consent and the app token work with the
	// derived resource end to end.
	id, err := identity.New(identity.Config{AuthorityHost: base, ClientID: clientID, Secret: staticSecret(secret),
		RedirectURI: redirect, HTTPClient: em.Client(), GraphBaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.GrantAdminConsent(entra.ContosoTenantID, clientID); err != nil {
		t.Fatal(err)
	}
	g, err := id.AppGrant(context.Background(), entra.ContosoTenantID)
	if err != nil || g.TenantID != entra.ContosoTenantID || len(g.Roles) == 0 {
		t.Fatalf("app grant with the derived resource: %+v, %v", g, err)
	}
}
