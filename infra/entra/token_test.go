package entra

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

const (
	serviceClientID = "6d2f8a1c-4b3e-4f9a-8c7d-1e5b0a9f3c26"
	serviceSecret   = "local-secret-value"
)

// newWithServiceApp serves an emulator with a confidential service app that
// the operator tenant granted Organization.Read.All on Graph, and a
// customer tenant that has not consented to it.
func newWithServiceApp(t *testing.T) (*Emulator, string) {
	t.Helper()
	e, base := newServed(t, Config{Apps: []App{{
		ClientID: serviceClientID, DisplayName: "OC Pro upgrade", Secrets: []string{serviceSecret}, MultiTenant: true,
	}}})
	if err := e.GrantAppRoles(DefaultOperatorTenantID, serviceClientID, GraphAppID, "Organization.Read.All"); err != nil {
		t.Fatal(err)
	}
	return e, base
}

func TestMSALClientCredentials(t *testing.T) {
	t.Parallel()
	e, base := newWithServiceApp(t)
	tests := []struct {
		name      string
		authority string
		secret    string
		scope     string
		wantAud   string
		wantRoles []string
		wantErr   string
	}{
		{"Graph in the operator tenant", DefaultOperatorTenantID, serviceSecret, GraphResource + "/.default", GraphResource, []string{"Organization.Read.All"}, ""},
		{"authority by domain", DefaultOperatorDomain, serviceSecret, GraphResource + "/.default", GraphResource, []string{"Organization.Read.All"}, ""},
		{"portal API without granted roles", DefaultOperatorTenantID, serviceSecret, DefaultPortalAudience + "/.default", DefaultPortalAudience, nil, ""},
		{"wrong secret", DefaultOperatorTenantID, "not-the-secret", GraphResource + "/.default", "", nil, "AADSTS7000215"},
		{"tenant that never consented", contosoID, serviceSecret, GraphResource + "/.default", "", nil, "AADSTS700016"},
		{"unknown resource", DefaultOperatorTenantID, serviceSecret, "api://nothing/.default", "", nil, "AADSTS500011"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cred, err := confidential.NewCredFromSecret(tc.secret)
			if err != nil {
				t.Fatal(err)
			}
			client, err := confidential.New(base+"/"+tc.authority, serviceClientID, cred,
				confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(e.Client()))
			if err != nil {
				t.Fatalf("confidential.New: %v", err)
			}
			res, err := client.AcquireTokenByCredential(t.Context(), []string{tc.scope})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("AcquireTokenByCredential: %v", err)
			}
			claims := decodeClaims(t, res.AccessToken)
			// Graph's tokens name the client v1.0's way.
			party, acr := "azp", "azpacr"
			if tc.wantAud == GraphResource {
				party, acr = "appid", "appidacr"
			}
			if claims["aud"] != tc.wantAud || claims["tid"] != DefaultOperatorTenantID || claims[party] != serviceClientID {
				t.Errorf("aud/tid/%s = %v/%v/%v, want %s/%s/%s", party, claims["aud"], claims["tid"], claims[party], tc.wantAud, DefaultOperatorTenantID, serviceClientID)
			}
			if claims["idtyp"] != "app" || claims[acr] != "1" {
				t.Errorf("idtyp/%s = %v/%v, want app/1", acr, claims["idtyp"], claims[acr])
			}
			var roles []string
			if raw, ok := claims["roles"].([]any); ok {
				for _, r := range raw {
					roles = append(roles, r.(string))
				}
			} else if _, present := claims["roles"]; present {
				t.Errorf("roles = %#v, want a list", claims["roles"])
			}
			if !slices.Equal(roles, tc.wantRoles) {
				t.Errorf("roles = %v, want %v", roles, tc.wantRoles)
			}
			if res.ExpiresOn.IsZero() {
				t.Error("MSAL saw no expiry")
			}
		})
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	e, base := newWithServiceApp(t)
	good := func(mod func(url.Values)) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {serviceClientID},
			"client_secret": {serviceSecret}, "scope": {GraphResource + "/.default"}}
		mod(v)
		return v
	}
	tests := []struct {
		name       string
		tenant     string
		form       url.Values
		wantStatus int
		wantError  string
		wantCode   int
	}{
		{"missing grant_type", DefaultOperatorTenantID, good(func(v url.Values) { v.Del("grant_type") }), 400, "invalid_request", 900144},
		{"unsupported grant", DefaultOperatorTenantID, good(func(v url.Values) { v.Set("grant_type", "password") }), 400, "unsupported_grant_type", 70003},
		{"common has no tenant for an app", "common", good(func(url.Values) {}), 400, "invalid_request", 50059},
		{"missing client_id", DefaultOperatorTenantID, good(func(v url.Values) { v.Del("client_id") }), 400, "invalid_request", 900144},
		{"unknown client", DefaultOperatorTenantID, good(func(v url.Values) { v.Set("client_id", contosoID) }), 400, "unauthorized_client", 700016},
		{"missing secret", DefaultOperatorTenantID, good(func(v url.Values) { v.Del("client_secret") }), 401, "invalid_client", 7000218},
		{"wrong secret", DefaultOperatorTenantID, good(func(v url.Values) { v.Set("client_secret", "nope") }), 401, "invalid_client", 7000215},
		{"public client with a secret", DefaultOperatorTenantID, good(func(v url.Values) { v.Set("client_id", DefaultPortalClientID) }), 401, "invalid_client", 700025},
		{"scope without /.default", DefaultOperatorTenantID, good(func(v url.Values) { v.Set("scope", GraphResource+"/User.Read") }), 400, "invalid_scope", 1002012},
		{"two resource scopes", DefaultOperatorTenantID, good(func(v url.Values) { v.Set("scope", GraphResource+"/.default api://ocpro-portal/.default") }), 400, "invalid_scope", 70011},
		{"only OpenID scopes", DefaultOperatorTenantID, good(func(v url.Values) { v.Set("scope", "openid profile") }), 400, "invalid_scope", 1002012},
		{"missing scope", DefaultOperatorTenantID, good(func(v url.Values) { v.Del("scope") }), 400, "invalid_request", 900144},
		{"unknown tenant", "nobody.onmicrosoft.com", good(func(url.Values) {}), 400, "invalid_tenant", 90002},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var body map[string]any
			status := postForm(t, e.Client(), base+"/"+tc.tenant+"/oauth2/v2.0/token", tc.form, nil, &body)
			if status != tc.wantStatus {
				t.Errorf("status = %d, want %d", status, tc.wantStatus)
			}
			checkAADError(t, body, tc.wantError, tc.wantCode)
			if _, leaked := body["access_token"]; leaked {
				t.Error("an error response carries an access token")
			}
		})
	}
}

func TestTokenEndpointAcceptsClientSecretBasic(t *testing.T) {
	t.Parallel()
	e, base := newWithServiceApp(t)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {GraphResource + "/.default"}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/"+DefaultOperatorTenantID+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(serviceClientID), url.QueryEscape(serviceSecret))
	resp, err := e.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	decodeBody(t, resp, &body)
	if resp.StatusCode != http.StatusOK || body["token_type"] != "Bearer" || body["access_token"] == nil {
		t.Fatalf("status %d, body %v; want a Bearer token", resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control = %q, want no-store for tokens", cc)
	}
}

func TestConsentInCustomerTenantEnablesClientCredentials(t *testing.T) {
	t.Parallel()
	e, base := newWithServiceApp(t)
	if err := e.RegisterApp(App{ClientID: "0f4b6e2a-9c3d-4e1f-8a7b-5d2c1e0f9a38", Secrets: []string{"s"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.GrantAppRoles(contosoID, "0f4b6e2a-9c3d-4e1f-8a7b-5d2c1e0f9a38", GraphAppID, "Organization.Read.All"); err == nil {
		t.Error("a single-tenant app was granted roles in another tenant")
	}
	if err := e.GrantAppRoles(contosoID, serviceClientID, GraphAppID, "Not.A.Role"); err == nil {
		t.Error("a role Graph does not expose was granted")
	}
	if err := e.GrantAppRoles(contosoID, serviceClientID, GraphAppID, "Organization.Read.All", "Domain.Read.All"); err != nil {
		t.Fatalf("GrantAppRoles: %v", err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {serviceClientID},
		"client_secret": {serviceSecret}, "scope": {GraphResource + "/.default"}}
	var body map[string]any
	if status := postForm(t, e.Client(), base+"/contoso.onmicrosoft.com/oauth2/v2.0/token", form, nil, &body); status != http.StatusOK {
		t.Fatalf("status = %d, body %v", status, body)
	}
	claims := decodeClaims(t, body["access_token"].(string))
	if claims["tid"] != contosoID || claims["iss"] != "https://sts.windows.net/"+contosoID+"/" {
		t.Errorf("tid/iss = %v/%v, want the customer tenant", claims["tid"], claims["iss"])
	}
	if roles, _ := claims["roles"].([]any); len(roles) != 2 || roles[0] != "Domain.Read.All" || roles[1] != "Organization.Read.All" {
		t.Errorf("roles = %v, want Domain.Read.All and Organization.Read.All", claims["roles"])
	}
}
