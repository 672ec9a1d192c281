package entra

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	consoleRedirect = "http://127.0.0.1:3000/console/"
	consoleOrigin   = "http://127.0.0.1:3000"
	portalScopes    = DefaultPortalAudience + "/" + DefaultPortalScope + " openid profile offline_access"
)

// newConsole serves an emulator whose portal client is registered as a
// single-page app with the console's redirect URI, beside the wizard's app
// with a web redirect URI.
func newConsole(t *testing.T) (*Emulator, string, *testClock) {
	t.Helper()
	clock := &testClock{now: time.Now()}
	e, base := newServed(t, Config{Now: clock.Now, PortalRedirectURIs: []string{consoleRedirect}, Apps: []App{{
		ClientID: wizardClientID, DisplayName: "Live Platform Operator Connect", Secrets: []string{wizardSecret},
		MultiTenant: true, AllowPublicClientFlows: true, RedirectURIs: []string{wizardRedirect},
	}}})
	return e, base, clock
}

// consoleSignIn walks the staff sign-in as MSAL.js does it (fragment
// response mode, PKCE) and returns the code and verifier.
func consoleSignIn(t *testing.T, e *Emulator, base string, c *http.Client) (code, verifier string) {
	t.Helper()
	verifier, challenge := pkcePair()
	q := url.Values{"client_id": {DefaultPortalClientID}, "response_type": {"code"}, "redirect_uri": {consoleRedirect},
		"scope": {portalScopes}, "state": {"s1"}, "response_mode": {"fragment"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "nonce": {"n1"}}
	p := fetch(t, c, http.MethodGet, base+"/"+e.OperatorTenantID()+"/oauth2/v2.0/authorize?"+q.Encode(), nil)
	p = signIn(t, c, base, p, DefaultStaffUser(""))
	if p.status != http.StatusFound || p.location == nil {
		t.Fatalf("sign-in: status %d, body %s", p.status, p.body)
	}
	answer, err := url.ParseQuery(p.location.Fragment)
	if err != nil || p.location.RawQuery != "" || answer.Get("state") != "s1" || answer.Get("code") == "" {
		t.Fatalf("want code and state in the fragment only, got %v", p.location)
	}
	return answer.Get("code"), verifier
}

func redeem(t *testing.T, e *Emulator, base string, form url.Values, origin string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/"+e.OperatorTenantID()+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := e.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	decodeBody(t, resp, &body)
	return resp.StatusCode, resp.Header, body
}

func codeForm(code, verifier string) url.Values {
	return url.Values{"client_id": {DefaultPortalClientID}, "grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {consoleRedirect}, "code_verifier": {verifier}, "scope": {portalScopes}}
}

// A staff member signs in to the console: the portal client's SPA redirect
// URI gets the code in the fragment, the browser redeems it cross-origin
// and reads the answer (CORS), and the access token is one the portal
// API's authorizer takes: portal audience, Upgrades.Manage, the operator.
func TestConsoleSignInAsSinglePageApp(t *testing.T) {
	t.Parallel()
	e, base, _ := newConsole(t)
	code, verifier := consoleSignIn(t, e, base, browser(t, e))
	status, header, body := redeem(t, e, base, codeForm(code, verifier), consoleOrigin)
	if status != http.StatusOK || header.Get("Access-Control-Allow-Origin") == "" {
		t.Fatalf("cross-origin redemption: %d, CORS %q, %v", status, header.Get("Access-Control-Allow-Origin"), body)
	}
	claims := decodeClaims(t, body["access_token"].(string))
	if claims["aud"] != DefaultPortalAudience || claims["scp"] != DefaultPortalScope || claims[DefaultOperatorClaim] != DefaultStaffOperator ||
		claims["iss"] != e.Issuer() || claims["azp"] != DefaultPortalClientID || claims["preferred_username"] != DefaultStaffUser("") {
		t.Errorf("access token claims = %v", claims)
	}
	if body["scope"] != portalScopes {
		t.Errorf("scope = %v, want %s", body["scope"], portalScopes)
	}
	if left, _ := body["refresh_token_expires_in"].(float64); left < 86000 || left > 86400 {
		t.Errorf("refresh_token_expires_in = %v, want 24 hours", body["refresh_token_expires_in"])
	}

	// The same redemption without an Origin header, from a server, is
	// refused: SPA codes are for browsers.
	code, verifier = consoleSignIn(t, e, base, browser(t, e))
	status, _, body = redeem(t, e, base, codeForm(code, verifier), "")
	if status != http.StatusBadRequest {
		t.Fatalf("SPA code without Origin: %d %v", status, body)
	}
	checkAADError(t, body, "invalid_request", 9002327)
}

// A code issued to a web redirect URI may not be redeemed from a browser:
// AADSTS9002326, readable by the page so that MSAL.js can report it.
func TestCrossOriginRedemptionNeedsSPARedirect(t *testing.T) {
	t.Parallel()
	e, base, _ := newConsole(t)
	c := browser(t, e)
	verifier, challenge := pkcePair()
	p := fetch(t, c, http.MethodGet, authorizeURL(base, "organizations", challenge, "st"), nil)
	p = signIn(t, c, base, p, ContosoAdmin)
	p = fetch(t, c, http.MethodPost, base+"/consent", url.Values{"ctx": {p.ctx(t)}, "action": {"accept"}})
	form := url.Values{"client_id": {wizardClientID}, "grant_type": {"authorization_code"}, "code": {p.location.Query().Get("code")},
		"redirect_uri": {wizardRedirect}, "code_verifier": {verifier}}
	var body map[string]any
	status := postForm(t, e.Client(), base+"/organizations/oauth2/v2.0/token", form, http.Header{"Origin": {consoleOrigin}}, &body)
	if status != http.StatusBadRequest {
		t.Fatalf("web code redeemed cross-origin: %d %v", status, body)
	}
	checkAADError(t, body, "invalid_request", 9002326)
	if d, _ := body["error_description"].(string); !strings.Contains(d, "Request origin: '"+consoleOrigin+"'") {
		t.Errorf("description %q does not name the origin", d)
	}
}

// A single-page app's refresh tokens rotate within a fixed 24 hours: the
// successor keeps the first one's expiry, and once it is past the grant
// answers AADSTS700084, after which only a new sign-in helps.
func TestSPARefreshTokensExpireAfter24Hours(t *testing.T) {
	t.Parallel()
	e, base, clock := newConsole(t)
	code, verifier := consoleSignIn(t, e, base, browser(t, e))
	_, _, body := redeem(t, e, base, codeForm(code, verifier), consoleOrigin)
	refresh := func(rt, origin string) (int, map[string]any) {
		status, _, b := redeem(t, e, base, url.Values{"client_id": {DefaultPortalClientID}, "grant_type": {"refresh_token"},
			"refresh_token": {rt}, "scope": {portalScopes}}, origin)
		return status, b
	}
	clock.Advance(20 * time.Hour)
	status, next := refresh(body["refresh_token"].(string), consoleOrigin)
	if status != http.StatusOK {
		t.Fatalf("refresh after 20 h: %d %v", status, next)
	}
	if left, _ := next["refresh_token_expires_in"].(float64); left < 4*3600-60 || left > 4*3600 {
		t.Errorf("successor's refresh_token_expires_in = %v, want the 4 hours left", left)
	}
	if status, b := refresh(next["refresh_token"].(string), ""); status != http.StatusBadRequest {
		t.Errorf("SPA refresh without Origin: %d %v", status, b)
	} else {
		checkAADError(t, b, "invalid_request", 9002327)
	}
	clock.Advance(5 * time.Hour)
	status, b := refresh(next["refresh_token"].(string), consoleOrigin)
	if status != http.StatusBadRequest {
		t.Fatalf("refresh after 25 h: %d %v", status, b)
	}
	checkAADError(t, b, "invalid_grant", 700084)
}

// The control API ages refresh tokens as if time had passed, so that a
// browser test can expire the console's without waiting a day; the
// sign-out endpoint ends the session and returns to a registered URI.
func TestAgeRefreshTokensAndSignOut(t *testing.T) {
	t.Parallel()
	e, base, _ := newConsole(t)
	c := browser(t, e)
	code, verifier := consoleSignIn(t, e, base, c)
	_, _, body := redeem(t, e, base, codeForm(code, verifier), consoleOrigin)
	var aged map[string]int
	if s := postJSON(t, e.Client(), base+"/_control/refresh-tokens/age", `{"user":"`+DefaultStaffUser("")+`","hours":25}`, &aged); s != http.StatusOK || aged["aged"] != 1 {
		t.Fatalf("age: %d %v", s, aged)
	}
	if s := postJSON(t, e.Client(), base+"/_control/refresh-tokens/age", `{"hours":0}`, nil); s != http.StatusBadRequest {
		t.Errorf("age 0 hours: %d, want 400", s)
	}
	status, _, b := redeem(t, e, base, url.Values{"client_id": {DefaultPortalClientID}, "grant_type": {"refresh_token"},
		"refresh_token": {body["refresh_token"].(string)}, "scope": {portalScopes}}, consoleOrigin)
	if status != http.StatusBadRequest {
		t.Fatalf("aged refresh: %d %v", status, b)
	}
	checkAADError(t, b, "invalid_grant", 700084)

	p := fetch(t, c, http.MethodGet, base+"/"+e.OperatorTenantID()+"/oauth2/v2.0/logout?post_logout_redirect_uri="+url.QueryEscape(consoleRedirect), nil)
	if p.status != http.StatusFound || p.location.String() != consoleRedirect {
		t.Fatalf("logout: %d %v", p.status, p.location)
	}
	// The session is gone: authorize shows the sign-in page again.
	_, challenge := pkcePair()
	q := url.Values{"client_id": {DefaultPortalClientID}, "response_type": {"code"}, "redirect_uri": {consoleRedirect},
		"scope": {portalScopes}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	if p := fetch(t, c, http.MethodGet, base+"/"+e.OperatorTenantID()+"/oauth2/v2.0/authorize?"+q.Encode(), nil); p.status != http.StatusOK || !strings.Contains(p.body, "Sign in") {
		t.Fatalf("after logout: %d %s", p.status, p.body)
	}
	p = fetch(t, c, http.MethodGet, base+"/"+e.OperatorTenantID()+"/oauth2/v2.0/logout?post_logout_redirect_uri="+url.QueryEscape("https://evil.example/"), nil)
	if p.status != http.StatusOK || p.location != nil {
		t.Fatalf("logout to an unregistered URI must not redirect: %d %v", p.status, p.location)
	}
}

// Discovery and keys answer any origin, as MSAL.js reads them from the
// page; the token endpoint answers preflights.
func TestDiscoveryAndTokenCORS(t *testing.T) {
	t.Parallel()
	e, base, _ := newConsole(t)
	for _, u := range []string{base + "/" + e.OperatorTenantID() + "/v2.0/.well-known/openid-configuration", base + "/" + e.OperatorTenantID() + "/discovery/v2.0/keys"} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		req.Header.Set("Origin", consoleOrigin)
		resp, err := e.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: %d, CORS %q", u, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, base+"/"+e.OperatorTenantID()+"/oauth2/v2.0/token", nil)
	req.Header.Set("Origin", consoleOrigin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := e.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

// postJSON posts a JSON body and decodes the answer into out, if any.
func postJSON(t *testing.T, c *http.Client, u, body string, out any) int {
	t.Helper()
	resp, err := c.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	decodeBody(t, resp, out)
	return resp.StatusCode
}
