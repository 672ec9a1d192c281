package entra

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// startDevice asks for a device code with plain HTTP.
func startDevice(t *testing.T, e *Emulator, base, authority string) (userCode, deviceCode string) {
	t.Helper()
	var body map[string]any
	form := url.Values{"client_id": {wizardClientID}, "scope": {"User.Read openid profile offline_access"}}
	if status := postForm(t, e.Client(), base+"/"+authority+"/oauth2/v2.0/devicecode", form, nil, &body); status != http.StatusOK {
		t.Fatalf("devicecode: %d %v", status, body)
	}
	if body["expires_in"] != float64(900) || body["interval"] != float64(5) {
		t.Errorf("expires_in/interval = %v/%v, want 900/5", body["expires_in"], body["interval"])
	}
	return body["user_code"].(string), body["device_code"].(string)
}

func poll(t *testing.T, e *Emulator, base, authority, grant, deviceCode string) map[string]any {
	t.Helper()
	var body map[string]any
	postForm(t, e.Client(), base+"/"+authority+"/oauth2/v2.0/token",
		url.Values{"grant_type": {grant}, "client_id": {wizardClientID}, "device_code": {deviceCode}}, nil, &body)
	return body
}

func TestDeviceCodePolling(t *testing.T) {
	t.Parallel()
	const urn = "urn:ietf:params:oauth:grant-type:device_code"
	tests := []struct {
		name      string
		prepare   func(e *Emulator, clock *testClock, userCode string)
		code      func(deviceCode string) string
		wantError string
		wantCode  int
	}{
		{"pending", nil, nil, "authorization_pending", 70016},
		{"polled faster than the interval", func(e *Emulator, _ *testClock, _ string) { e.SlowDownDeviceCode("organizations", true) }, nil, "slow_down", 70016},
		{"unknown device code", nil, func(string) string { return "nope" }, "bad_verification_code", 70018},
		{"expired", func(_ *Emulator, c *testClock, _ string) { c.Advance(16 * time.Minute) }, nil, "expired_token", 70019},
		{"declined", func(e *Emulator, _ *testClock, uc string) { _ = e.DeclineDeviceCode(uc) }, nil, "authorization_declined", 70000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, base, clock := newWizard(t)
			userCode, deviceCode := startDevice(t, e, base, "organizations")
			poll(t, e, base, "organizations", "device_code", deviceCode) // A first poll, for slow_down.
			if tc.prepare != nil {
				tc.prepare(e, clock, userCode)
			}
			if tc.code != nil {
				deviceCode = tc.code(deviceCode)
			}
			checkAADError(t, poll(t, e, base, "organizations", urn, deviceCode), tc.wantError, tc.wantCode)
		})
	}
}

func TestDeviceLoginPages(t *testing.T) {
	t.Parallel()
	e, base, _ := newWizard(t)
	if err := e.GrantAdminConsent(ContosoTenantID, wizardClientID); err != nil {
		t.Fatal(err)
	}
	userCode, deviceCode := startDevice(t, e, base, "organizations")
	c := browser(t, e)
	p := fetch(t, c, http.MethodGet, base+"/devicelogin", nil)
	if !strings.Contains(p.body, "Enter code") {
		t.Fatalf("device login page: %s", p.body)
	}
	if p = fetch(t, c, http.MethodPost, base+"/devicelogin", url.Values{"otc": {"WRONGCODE"}}); !strings.Contains(p.body, "That code didn&#39;t work") {
		t.Errorf("wrong code page: %s", p.body)
	}
	p = fetch(t, c, http.MethodPost, base+"/devicelogin", url.Values{"otc": {strings.ToLower(userCode)}})
	p = signIn(t, c, base, p, ContosoAdmin)
	if !strings.Contains(p.body, "Are you trying to sign in to Live Platform Operator Connect?") {
		t.Fatalf("confirm page: %s", p.body)
	}
	p = fetch(t, c, http.MethodPost, base+"/devicelogin/confirm", url.Values{"ctx": {p.ctx(t)}, "action": {"continue"}})
	if !strings.Contains(p.body, "You have signed in to the Live Platform Operator Connect application on your device. You may now close this window.") {
		t.Fatalf("done page: %s", p.body)
	}
	body := poll(t, e, base, "organizations", "device_code", deviceCode)
	for _, k := range []string{"access_token", "id_token", "client_info", "refresh_token"} {
		if body[k] == nil {
			t.Errorf("token response lacks %s: %v", k, body)
		}
	}
	id := decodeClaims(t, body["id_token"].(string))
	if id["tid"] != ContosoTenantID || id["preferred_username"] != ContosoAdmin || id["aud"] != wizardClientID {
		t.Errorf("id token = %v", id)
	}
	// The code is spent once tokens are issued.
	checkAADError(t, poll(t, e, base, "organizations", "device_code", deviceCode), "bad_verification_code", 70018)
}

func TestRefreshTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		change   func(e *Emulator, token string)
		wantCode int
	}{
		{"rotates", nil, 0},
		{"inactive for 90 days", func(e *Emulator, tok string) { e.ExpireRefreshToken(tok) }, 700082},
		{"user's tokens revoked", func(e *Emulator, _ string) { e.RevokeRefreshTokens(ContosoAdmin) }, 50173},
		{"consent revoked", func(e *Emulator, _ string) { _ = e.RevokeConsent(ContosoTenantID, wizardClientID) }, 65001},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, base, _ := newWizard(t)
			userCode, deviceCode := startDevice(t, e, base, "organizations")
			if err := e.ApproveDeviceCode(userCode, ContosoAdmin); err != nil {
				t.Fatal(err)
			}
			rt := poll(t, e, base, "organizations", "device_code", deviceCode)["refresh_token"].(string)
			if tc.change != nil {
				tc.change(e, rt)
			}
			var body map[string]any
			postForm(t, e.Client(), base+"/organizations/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"},
				"client_id": {wizardClientID}, "refresh_token": {rt}, "scope": {"User.Read offline_access"}}, nil, &body)
			if tc.wantCode != 0 {
				checkAADError(t, body, "invalid_grant", tc.wantCode)
				return
			}
			if next, _ := body["refresh_token"].(string); next == "" || next == rt || body["access_token"] == nil {
				t.Errorf("refresh answer = %v, want new tokens", body)
			}
		})
	}
}

func TestMSALSilentRefresh(t *testing.T) {
	t.Parallel()
	e, base, _ := newWizard(t)
	userCode, done, client := deviceLogin(t, e, base, "organizations")
	if err := e.ApproveDeviceCode(userCode, ContosoAdmin); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	accounts, err := client.Accounts(t.Context())
	if err != nil || len(accounts) != 1 {
		t.Fatalf("accounts = %v, %v", accounts, err)
	}
	// Claims make MSAL skip its cached access token and use the refresh token.
	claims := public.WithClaims(`{"access_token":{"xms_cc":{"values":["cp1"]}}}`)
	if _, err := client.AcquireTokenSilent(t.Context(), []string{GraphResource + "/User.Read"}, public.WithSilentAccount(accounts[0]), claims); err != nil {
		t.Fatalf("silent refresh: %v", err)
	}
	e.RevokeRefreshTokens("")
	if _, err := client.AcquireTokenSilent(t.Context(), []string{GraphResource + "/User.Read"}, public.WithSilentAccount(accounts[0]), claims); err == nil || !strings.Contains(err.Error(), "AADSTS50173") {
		t.Fatalf("after revocation: err = %v, want AADSTS50173", err)
	}
}

func TestClientCredentialsSecretAndFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		prepare    func(e *Emulator) error
		wantStatus int
		wantCode   int
		retryAfter string
	}{
		{"not consented", func(*Emulator) error { return nil }, 400, 700016, ""},
		{"expired secret", func(e *Emulator) error { return e.ExpireAppSecret(wizardClientID, true) }, 401, 7000222, ""},
		{"rotated secret", func(e *Emulator) error { return e.RotateAppSecret(wizardClientID, "the-new-secret") }, 401, 7000215, ""},
		{"injected wrong secret", func(e *Emulator) error {
			return e.InjectFault(Fault{Kind: FaultToken, Tenant: ContosoTenantID, AADSTS: 7000215})
		}, 401, 7000215, ""},
		{"injected 429", func(e *Emulator) error {
			return e.InjectFault(Fault{Kind: FaultToken, Status: 429, RetryAfter: 7})
		}, 429, 90055, "7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, base, _ := newWizard(t)
			if tc.wantCode != 700016 {
				if err := e.GrantAdminConsent(ContosoTenantID, wizardClientID); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.prepare(e); err != nil {
				t.Fatal(err)
			}
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {wizardClientID}, "client_secret": {wizardSecret}, "scope": {GraphResource + "/.default"}}
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/"+ContosoTenantID+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := e.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			decodeBody(t, resp, &body)
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("Retry-After") != tc.retryAfter {
				t.Errorf("status/Retry-After = %d/%q, want %d/%q", resp.StatusCode, resp.Header.Get("Retry-After"), tc.wantStatus, tc.retryAfter)
			}
			if codes, _ := body["error_codes"].([]any); len(codes) != 1 || codes[0] != float64(tc.wantCode) {
				t.Errorf("error_codes = %v, want [%d]", body["error_codes"], tc.wantCode)
			}
			// Faults are used up: the next request is answered normally.
			if tc.retryAfter != "" && appRolesInToken(t, e, base, ContosoTenantID) != "Application.Read.All Organization.Read.All" {
				t.Error("the fault outlived its count")
			}
		})
	}
}

func TestGraph(t *testing.T) {
	t.Parallel()
	e, base, _ := newWizard(t)
	if err := e.GrantAdminConsent(ContosoTenantID, wizardClientID); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {wizardClientID}, "client_secret": {wizardSecret}, "scope": {GraphResource + "/.default"}}
	var tok map[string]any
	postForm(t, e.Client(), base+"/"+ContosoTenantID+"/oauth2/v2.0/token", form, nil, &tok)
	appToken := tok["access_token"].(string)
	noRoles, _ := e.appToken(base, ContosoTenantID, wizardClientID, GraphResource, nil)
	portal, _ := e.OperatorToken("acme")
	userCode, deviceCode := startDevice(t, e, base, "organizations")
	if err := e.ApproveDeviceCode(userCode, ContosoAdmin); err != nil {
		t.Fatal(err)
	}
	userToken := poll(t, e, base, "organizations", "device_code", deviceCode)["access_token"].(string)
	sp := spID(ContosoTenantID, wizardClientID)
	tests := []struct {
		name       string
		path       string
		token      string
		wantStatus int
		wantCode   string
		wantBody   string
	}{
		{"organization with an app token", "/v1.0/organization", appToken, 200, "", `"verifiedDomains"`},
		{"organization as the user", "/v1.0/organization", userToken, 200, "", `"contoso.onmicrosoft.com"`},
		{"me as the user", "/v1.0/me", userToken, 200, "", ContosoAdmin},
		{"me with an app token", "/v1.0/me", appToken, 400, "BadRequest", "/me request is only valid with delegated authentication flow."},
		{"no token", "/v1.0/organization", "", 401, "InvalidAuthenticationToken", "Access token is empty."},
		{"wrong audience", "/v1.0/organization", portal, 401, "InvalidAuthenticationToken", "Invalid audience"},
		{"missing permission", "/v1.0/organization", noRoles.Value, 403, "Authorization_RequestDenied", "Insufficient privileges"},
		{"service principal", "/v1.0/servicePrincipals(appId='" + wizardClientID + "')", appToken, 200, "", sp},
		{"app role assignments", "/v1.0/servicePrincipals/" + sp + "/appRoleAssignments", appToken, 200, "", graphRoleIDs["Organization.Read.All"]},
		{"service principal in an unconsented tenant", "/v1.0/servicePrincipals(appId='" + serviceClientID + "')", appToken, 404, "Request_ResourceNotFound", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+tc.path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := e.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			decodeBody(t, resp, &body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %v", resp.StatusCode, tc.wantStatus, body)
			}
			raw := strings.ReplaceAll(func() string { b, _ := jsonString(body); return b }(), `\/`, "/")
			if !strings.Contains(raw, tc.wantBody) {
				t.Errorf("body %s lacks %q", raw, tc.wantBody)
			}
			if tc.wantCode != "" {
				errObj, _ := body["error"].(map[string]any)
				inner, _ := errObj["innerError"].(map[string]any)
				if errObj["code"] != tc.wantCode || inner["request-id"] == nil || inner["date"] == nil {
					t.Errorf("error = %v, want code %s with innerError", errObj, tc.wantCode)
				}
			}
		})
	}
	if err := e.InjectFault(Fault{Kind: FaultGraph, Status: 503, RetryAfter: 3}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/v1.0/organization", nil)
	req.Header.Set("Authorization", "Bearer "+appToken)
	resp, err := e.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("injected 503: status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// An app that allows public client flows runs device code as a public
// client: a secret on the poll, or on the refresh of a refresh token from
// that flow, is AADSTS700025. Without the secret both work, and a refresh
// token from a confidential flow still takes the secret.
func TestPublicClientFlowsRefuseASecret(t *testing.T) {
	t.Parallel()
	e, base, _ := newWizard(t)
	if err := e.GrantAdminConsent(ContosoTenantID, wizardClientID); err != nil {
		t.Fatal(err)
	}
	token := func(form url.Values) map[string]any {
		var body map[string]any
		postForm(t, e.Client(), base+"/organizations/oauth2/v2.0/token", form, nil, &body)
		return body
	}
	userCode, deviceCode := startDevice(t, e, base, "organizations")
	if err := e.ApproveDeviceCode(userCode, ContosoAdmin); err != nil {
		t.Fatal(err)
	}
	devicePoll := url.Values{"grant_type": {"device_code"}, "client_id": {wizardClientID}, "device_code": {deviceCode}}
	withSecret := func(v url.Values) url.Values {
		c := url.Values{"client_secret": {wizardSecret}}
		for k, vs := range v {
			c[k] = vs
		}
		return c
	}
	checkAADError(t, token(withSecret(devicePoll)), "invalid_client", 700025)
	body := token(devicePoll)
	rt, _ := body["refresh_token"].(string)
	if rt == "" {
		t.Fatalf("device code without the secret: %v", body)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "client_id": {wizardClientID}, "refresh_token": {rt}, "scope": {"User.Read offline_access"}}
	checkAADError(t, token(withSecret(refresh)), "invalid_client", 700025)
	if body := token(refresh); body["access_token"] == nil {
		t.Fatalf("public refresh without the secret: %v", body)
	}
}
