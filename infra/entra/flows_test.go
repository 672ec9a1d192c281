package entra

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

const (
	wizardClientID = "5e2a7c1d-8b3f-4a6e-9d20-1c4b7f9e0a55"
	wizardSecret   = "wizard-secret"
	wizardRedirect = "https://127.0.0.1:9999/consent/callback"
)

// testClock is a settable clock for lifetimes.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newWizard serves an emulator with the operator's multi-tenant app as
// the stack registers it, plus what the wizard needs.
func newWizard(t *testing.T) (*Emulator, string, *testClock) {
	t.Helper()
	clock := &testClock{now: time.Now()}
	e, base := newServed(t, Config{Now: clock.Now, Apps: []App{{
		ClientID: wizardClientID, DisplayName: "Live Platform Operator Connect", Secrets: []string{wizardSecret},
		MultiTenant: true, AllowPublicClientFlows: true, RedirectURIs: []string{wizardRedirect},
		RequiredRoles: []string{"Organization.Read.All", "Application.Read.All"},
	}}})
	return e, base, clock
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so that tests can read them.
func browser(t *testing.T, e *Emulator) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := e.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

var ctxPattern = regexp.MustCompile(`name="ctx" value="([^"]+)"`)

// page is one answer of the sign-in pages.
type page struct {
	status   int
	body     string
	location *url.URL
}

func (p page) ctx(t *testing.T) string {
	t.Helper()
	m := ctxPattern.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no ctx on page (status %d): %s", p.status, p.body)
	}
	return m[1]
}

func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) page {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	p := page{status: resp.StatusCode, body: b.String()}
	if loc := resp.Header.Get("Location"); loc != "" {
		p.location, _ = url.Parse(loc)
	}
	return p
}

// signIn posts the sign-in form and, for MFA users, approves the request.
func signIn(t *testing.T, c *http.Client, base string, p page, user string) page {
	t.Helper()
	if !strings.Contains(p.body, "Sign in") {
		t.Fatalf("want the sign-in page, got %d: %s", p.status, p.body)
	}
	next := fetch(t, c, http.MethodPost, base+"/login", url.Values{"ctx": {p.ctx(t)}, "login": {user}, "passwd": {DefaultPassword}})
	if strings.Contains(next.body, "Approve sign in request") {
		next = fetch(t, c, http.MethodPost, base+"/login/mfa", url.Values{"ctx": {next.ctx(t)}})
	}
	return next
}

func pkcePair() (verifier, challenge string) {
	verifier = strings.Repeat("v", 20) + opaque(32)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func authorizeURL(base, tenant, challenge, state string) string {
	q := url.Values{"client_id": {wizardClientID}, "response_type": {"code"}, "redirect_uri": {wizardRedirect},
		"scope": {"https://graph.microsoft.com/User.Read openid profile offline_access"}, "state": {state},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	return base + "/" + tenant + "/oauth2/v2.0/authorize?" + q.Encode()
}

func TestAuthorizationCodeWithPKCE(t *testing.T) {
	t.Parallel()
	e, base, clock := newWizard(t)
	c := browser(t, e)
	verifier, challenge := pkcePair()
	p := fetch(t, c, http.MethodGet, authorizeURL(base, "organizations", challenge, "st-1"), nil)
	p = signIn(t, c, base, p, ContosoAdmin)
	if !strings.Contains(p.body, "Permissions requested") || !strings.Contains(p.body, "Consent on behalf of your organization") {
		t.Fatalf("want the consent page with the organization checkbox for an admin, got %s", p.body)
	}
	p = fetch(t, c, http.MethodPost, base+"/consent", url.Values{"ctx": {p.ctx(t)}, "action": {"accept"}})
	if p.status != http.StatusFound || p.location.Query().Get("state") != "st-1" || p.location.Query().Get("code") == "" {
		t.Fatalf("want a redirect with code and state, got %d %v", p.status, p.location)
	}
	code := p.location.Query().Get("code")

	cred, _ := confidential.NewCredFromSecret(wizardSecret)
	client, err := confidential.New(base+"/organizations", wizardClientID, cred,
		confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(e.Client()))
	if err != nil {
		t.Fatal(err)
	}
	scopes := []string{GraphResource + "/User.Read"}
	if _, err := client.AcquireTokenByAuthCode(t.Context(), code, wizardRedirect, scopes, confidential.WithChallenge("wrong"+verifier)); err == nil || !strings.Contains(err.Error(), "AADSTS501481") {
		t.Fatalf("wrong verifier: err = %v, want AADSTS501481", err)
	}
	// The failed attempt spent the code, as Microsoft's codes are single use.
	if _, err := client.AcquireTokenByAuthCode(t.Context(), code, wizardRedirect, scopes, confidential.WithChallenge(verifier)); err == nil || !strings.Contains(err.Error(), "AADSTS54005") {
		t.Fatalf("second redemption: err = %v, want AADSTS54005", err)
	}

	// A new sign-in reuses the session and the consent: straight back.
	p = fetch(t, c, http.MethodGet, authorizeURL(base, "organizations", challenge, "st-2"), nil)
	if p.status != http.StatusFound {
		t.Fatalf("session reuse: status %d, body %s", p.status, p.body)
	}
	res, err := client.AcquireTokenByAuthCode(t.Context(), p.location.Query().Get("code"), wizardRedirect, scopes, confidential.WithChallenge(verifier))
	if err != nil {
		t.Fatalf("AcquireTokenByAuthCode: %v", err)
	}
	claims := decodeClaims(t, res.AccessToken)
	if claims["tid"] != ContosoTenantID || claims["scp"] != "User.Read" || claims["upn"] != ContosoAdmin || claims["ver"] != "1.0" {
		t.Errorf("claims = %v, want Contoso admin with scp User.Read in a v1.0 Graph token", claims)
	}
	// The registration does not ask for directory roles (groupMembershipClaims).
	if _, ok := claims["wids"]; ok {
		t.Errorf("wids in the token of an app that did not ask for them: %v", claims["wids"])
	}
	// MSAL keys the account by client_info: <oid>.<home tenant>.
	if !strings.HasSuffix(res.Account.HomeAccountID, "."+ContosoTenantID) || res.IDToken.PreferredUsername != ContosoAdmin {
		t.Errorf("MSAL account = %+v, want the Contoso admin", res.Account)
	}

	// Codes live ten minutes.
	p = fetch(t, c, http.MethodGet, authorizeURL(base, "organizations", challenge, "st-3"), nil)
	clock.Advance(11 * time.Minute)
	if _, err := client.AcquireTokenByAuthCode(t.Context(), p.location.Query().Get("code"), wizardRedirect, scopes, confidential.WithChallenge(verifier)); err == nil || !strings.Contains(err.Error(), "AADSTS70008") {
		t.Fatalf("expired code: err = %v, want AADSTS70008", err)
	}
}

func TestAuthorizeErrors(t *testing.T) {
	t.Parallel()
	e, base, _ := newWizard(t)
	_, challenge := pkcePair()
	tests := []struct {
		name       string
		url        string
		user       string
		wantStatus int
		wantBody   string // on an error page
		wantError  string // in the redirect
	}{
		{"redirect URI not registered", strings.Replace(authorizeURL(base, "organizations", challenge, "s"), url.QueryEscape(wizardRedirect), url.QueryEscape("https://evil.example/cb"), 1), "", 400, "AADSTS50011", ""},
		{"unknown client", strings.Replace(authorizeURL(base, "organizations", challenge, "s"), wizardClientID, serviceClientID, 1), "", 400, "AADSTS700016", ""},
		{"token response type", strings.Replace(authorizeURL(base, "organizations", challenge, "s"), "response_type=code", "response_type=token", 1), "", 302, "", "unsupported_response_type"},
		{"prompt none without a session", authorizeURL(base, "organizations", challenge, "s") + "&prompt=none", "", 302, "", "login_required"},
		{"member of another tenant", authorizeURL(base, ContosoTenantID, challenge, "s"), FabrikamAdmin, 400, "AADSTS50020", ""},
		{"non-admin without user consent", authorizeURL(base, "organizations", challenge, "s"), ContosoUser, 200, "Need admin approval", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := browser(t, e)
			p := fetch(t, c, http.MethodGet, tc.url, nil)
			if tc.user != "" {
				p = signIn(t, c, base, p, tc.user)
			}
			if p.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", p.status, tc.wantStatus, p.body)
			}
			if tc.wantBody != "" && !strings.Contains(p.body, tc.wantBody) {
				t.Errorf("page lacks %q: %s", tc.wantBody, p.body)
			}
			if tc.wantError != "" {
				if p.location == nil || p.location.Query().Get("error") != tc.wantError || p.location.Query().Get("state") != "s" {
					t.Errorf("redirect = %v, want error %s with state", p.location, tc.wantError)
				}
			}
		})
	}
}

func TestAdminConsent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		path      string
		user      string
		action    string
		wantQuery map[string]string
		wantDesc  string
		consented bool
	}{
		{"v2.0 accepted", "/v2.0/adminconsent", ContosoAdmin, "accept",
			map[string]string{"admin_consent": "True", "tenant": ContosoTenantID, "state": "xyz"}, "", true},
		{"v2.0 cancelled", "/v2.0/adminconsent", ContosoAdmin, "cancel",
			map[string]string{"admin_consent": "True", "error": "access_denied", "state": "xyz", "tenant": ""}, "AADSTS65004: ", false},
		{"account of another directory", "/v2.0/adminconsent", FabrikamAdmin, "",
			map[string]string{"admin_consent": "True", "error": "access_denied", "state": "xyz", "tenant": ""}, "AADSTS50020: ", false},
		{"older endpoint accepted", "/adminconsent", ContosoAdmin, "accept",
			map[string]string{"admin_consent": "True", "tenant": ContosoTenantID, "state": "xyz"}, "", true},
		{"older endpoint cancelled", "/adminconsent", ContosoAdmin, "cancel",
			map[string]string{"error": "permission_denied", "state": "xyz"}, "The admin canceled the request", false},
		{"not an admin", "/v2.0/adminconsent", ContosoUser, "needadmin",
			map[string]string{"admin_consent": "True", "error": "access_denied", "state": "xyz"}, "AADSTS90094: ", false},
		// Graph's application permissions need a Global Administrator or a
		// Privileged Role Administrator.
		{"Cloud Application Administrator", "/v2.0/adminconsent", ContosoCloudAppAdmin, "needadmin",
			map[string]string{"admin_consent": "True", "error": "access_denied", "state": "xyz"}, "AADSTS90094: ", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, base, _ := newWizard(t)
			c := browser(t, e)
			q := url.Values{"client_id": {wizardClientID}, "redirect_uri": {wizardRedirect}, "state": {"xyz"}}
			if strings.HasPrefix(tc.path, "/v2.0") {
				q.Set("scope", GraphResource+"/.default")
			}
			p := fetch(t, c, http.MethodGet, base+"/"+ContosoTenantID+tc.path+"?"+q.Encode(), nil)
			p = signIn(t, c, base, p, tc.user)
			switch tc.action {
			case "":
				// Entra answers at once, without a consent page.
			case "needadmin":
				if !strings.Contains(p.body, "Need admin approval") {
					t.Fatalf("want Need admin approval, got %s", p.body)
				}
				p = fetch(t, c, http.MethodPost, base+"/needadmin", url.Values{"ctx": {p.ctx(t)}})
			default:
				for _, want := range []string{"Consent on behalf of your organization", "Organization.Read.All", "Application.Read.All", "Accept", "Cancel"} {
					if !strings.Contains(p.body, want) {
						t.Fatalf("consent page lacks %q", want)
					}
				}
				p = fetch(t, c, http.MethodPost, base+"/consent", url.Values{"ctx": {p.ctx(t)}, "action": {tc.action}, "consent_org": {"on"}})
			}
			if p.status != http.StatusFound || p.location == nil || !strings.HasPrefix(p.location.String(), wizardRedirect) {
				t.Fatalf("want a redirect to the app, got %d %v", p.status, p.location)
			}
			got := p.location.Query()
			for k, v := range tc.wantQuery {
				if got.Get(k) != v {
					t.Errorf("%s = %q, want %q (%v)", k, got.Get(k), v, got)
				}
			}
			if !strings.Contains(got.Get("error_description"), tc.wantDesc) {
				t.Errorf("error_description = %q, want %q", got.Get("error_description"), tc.wantDesc)
			}
			if tc.path == "/v2.0/adminconsent" && tc.consented && !strings.Contains(got.Get("scope"), GraphResource+"/Organization.Read.All") {
				t.Errorf("scope = %q, want the granted permissions", got.Get("scope"))
			}
			roles := appRolesInToken(t, e, base, ContosoTenantID)
			if tc.consented != (roles == "Application.Read.All Organization.Read.All") {
				t.Errorf("client credentials roles = %q, consented = %v", roles, tc.consented)
			}
		})
	}
}

// appRolesInToken gets a client credentials token for Graph in the tenant
// and returns its roles, or the AADSTS error.
func appRolesInToken(t *testing.T, e *Emulator, base, tenant string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {wizardClientID}, "client_secret": {wizardSecret}, "scope": {GraphResource + "/.default"}}
	var body map[string]any
	if status := postForm(t, e.Client(), base+"/"+tenant+"/oauth2/v2.0/token", form, nil, &body); status != http.StatusOK {
		desc, _ := body["error_description"].(string)
		return strings.SplitN(desc, ":", 2)[0]
	}
	claims := decodeClaims(t, body["access_token"].(string))
	raw, _ := claims["roles"].([]any)
	var roles []string
	for _, r := range raw {
		roles = append(roles, r.(string))
	}
	return strings.Join(roles, " ")
}

// deviceLogin starts MSAL's device code flow and returns its result
// channel and the user code.
func deviceLogin(t *testing.T, e *Emulator, base, authority string) (string, <-chan error, public.Client) {
	t.Helper()
	client, err := public.New(wizardClientID, public.WithAuthority(base+"/"+authority),
		public.WithInstanceDiscovery(false), public.WithHTTPClient(e.Client()))
	if err != nil {
		t.Fatal(err)
	}
	dc, err := client.AcquireTokenByDeviceCode(t.Context(), []string{GraphResource + "/User.Read"})
	if err != nil {
		t.Fatalf("AcquireTokenByDeviceCode: %v", err)
	}
	if dc.Result.VerificationURL != base+"/devicelogin" || dc.Result.Interval != 5 || !strings.Contains(dc.Result.Message, dc.Result.UserCode) {
		t.Errorf("device code result = %+v", dc.Result)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		res, err := dc.AuthenticationResult(ctx)
		if err == nil && res.AccessToken == "" {
			err = context.Canceled
		}
		done <- err
	}()
	return dc.Result.UserCode, done, client
}

func TestMSALDeviceCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		authority string
		user      string
		setup     func(e *Emulator)
		decline   bool
		wantErr   string
	}{
		{"admin in an unconsented tenant consents for themselves", "organizations", ContosoAdmin, nil, false, ""},
		{"guest's home tenant via organizations", "organizations", FabrikamGuest, func(e *Emulator) { _ = e.GrantAdminConsent(FabrikamTenantID, wizardClientID) }, false, ""},
		{"user without consent", "organizations", ContosoUser, nil, false, "AADSTS65001"},
		{"member of another tenant", ContosoTenantID, FabrikamAdmin, nil, false, "AADSTS50020"},
		{"Conditional Access blocks device code", "organizations", ContosoAdmin, func(e *Emulator) { e.BlockDeviceCode(ContosoTenantID, true) }, false, "AADSTS53003"},
		{"declined", "organizations", ContosoAdmin, nil, true, "authorization_declined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, base, _ := newWizard(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			userCode, done, _ := deviceLogin(t, e, base, tc.authority)
			if tc.decline {
				if err := e.DeclineDeviceCode(userCode); err != nil {
					t.Fatal(err)
				}
			} else if err := e.ApproveDeviceCode(userCode, tc.user); (err != nil) != (tc.wantErr != "") {
				t.Fatalf("ApproveDeviceCode: %v", err)
			}
			err := <-done
			if tc.wantErr == "" && err != nil {
				t.Fatalf("device code: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %s", err, tc.wantErr)
			}
		})
	}
}
