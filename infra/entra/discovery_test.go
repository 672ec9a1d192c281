package entra

import (
	"net/http"
	"strings"
	"testing"
)

const contosoID = "5e1d0c2b-7a49-4f38-8b6d-0c9e3f2a1b74"

func TestOpenIDConfiguration(t *testing.T) {
	t.Parallel()
	e, base := newServed(t, Config{})
	// Contoso is seeded; adding it again must fail.
	if err := e.AddTenant(Tenant{ID: contosoID, Domains: []string{"contoso.onmicrosoft.com", "contoso.example"}, Region: "NA"}); err == nil {
		t.Fatal("a second tenant with Contoso's id was added")
	}
	op := DefaultOperatorTenantID
	tests := []struct {
		name         string
		segment      string
		wantIssuer   string
		wantEndpoint string // the tenant part of the endpoint URLs
		wantRegion   any
	}{
		{"operator tenant by id", op, base + "/" + op + "/v2.0", op, "EU"},
		{"operator tenant by upper-case id", strings.ToUpper(op), base + "/" + op + "/v2.0", op, "EU"},
		{"customer tenant by initial domain", "contoso.onmicrosoft.com", base + "/" + contosoID + "/v2.0", contosoID, "NA"},
		{"customer tenant by custom domain", "Contoso.Example", base + "/" + contosoID + "/v2.0", contosoID, "NA"},
		{"common", "common", base + "/{tenantid}/v2.0", "common", nil},
		{"organizations", "organizations", base + "/{tenantid}/v2.0", "organizations", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var doc map[string]any
			status := getJSON(t, e.Client(), base+"/"+tc.segment+"/v2.0/.well-known/openid-configuration", &doc)
			if status != http.StatusOK {
				t.Fatalf("status = %d, body %v", status, doc)
			}
			authority := base + "/" + tc.wantEndpoint
			wantStrings := map[string]string{
				"issuer":                        tc.wantIssuer,
				"authorization_endpoint":        authority + "/oauth2/v2.0/authorize",
				"token_endpoint":                authority + "/oauth2/v2.0/token",
				"device_authorization_endpoint": authority + "/oauth2/v2.0/devicecode",
				"jwks_uri":                      authority + "/discovery/v2.0/keys",
				"end_session_endpoint":          authority + "/oauth2/v2.0/logout",
			}
			for k, want := range wantStrings {
				if doc[k] != want {
					t.Errorf("%s = %v, want %s", k, doc[k], want)
				}
			}
			if doc["tenant_region_scope"] != tc.wantRegion {
				t.Errorf("tenant_region_scope = %v, want %v", doc["tenant_region_scope"], tc.wantRegion)
			}
			wantLists := map[string]string{
				"id_token_signing_alg_values_supported": "RS256",
				"response_types_supported":              "code",
				"subject_types_supported":               "pairwise",
				"scopes_supported":                      "openid",
				"claims_supported":                      "tid",
				"token_endpoint_auth_methods_supported": "client_secret_post",
			}
			for k, member := range wantLists {
				list, _ := doc[k].([]any)
				found := false
				for _, v := range list {
					found = found || v == member
				}
				if !found {
					t.Errorf("%s = %v, want it to contain %q", k, doc[k], member)
				}
			}
		})
	}
}

func TestUnknownTenant(t *testing.T) {
	t.Parallel()
	e, base := newServed(t, Config{})
	tests := []struct {
		name      string
		path      string
		wantError string
		wantCode  int
	}{
		{"unknown tenant id", "/0b8f5a52-1111-4c2d-9e3f-123456789abc/v2.0/.well-known/openid-configuration", "invalid_tenant", 90002},
		{"unknown domain", "/nobody.onmicrosoft.com/v2.0/.well-known/openid-configuration", "invalid_tenant", 90002},
		{"malformed tenant", "/not-a-tenant/v2.0/.well-known/openid-configuration", "invalid_request", 900023},
		{"keys of unknown tenant", "/nobody.onmicrosoft.com/discovery/v2.0/keys", "invalid_tenant", 90002},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var body map[string]any
			if status := getJSON(t, e.Client(), base+tc.path, &body); status != http.StatusBadRequest {
				t.Errorf("status = %d, want 400", status)
			}
			checkAADError(t, body, tc.wantError, tc.wantCode)
		})
	}
}

func TestErrorEchoesClientRequestID(t *testing.T) {
	t.Parallel()
	e, base := newServed(t, Config{})
	const corr = "11111111-2222-4333-8444-555555555555"
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/nobody.example/v2.0/.well-known/openid-configuration", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("client-request-id", corr)
	resp, err := e.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	decodeBody(t, resp, &body)
	if body["correlation_id"] != corr {
		t.Errorf("correlation_id = %v, want %s", body["correlation_id"], corr)
	}
	if desc, _ := body["error_description"].(string); !strings.Contains(desc, "Correlation ID: "+corr) {
		t.Errorf("error_description does not carry the correlation id: %q", desc)
	}
}
