package entra

import (
	"net/http"
	"strings"
	"testing"
)

func TestControlOperatorToken(t *testing.T) {
	t.Parallel()
	e, base := newServed(t, Config{})
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantClaims map[string]any
		wantTTL    int64
	}{
		{
			name:       "defaults",
			body:       `{"operator":"acme"}`,
			wantStatus: http.StatusOK,
			wantClaims: map[string]any{"operator_id": "acme", "scp": "Upgrades.Manage", "aud": DefaultPortalAudience},
			wantTTL:    3600,
		},
		{
			name:       "scopes, audience and lifetime",
			body:       `{"operator":"globex","scopes":["Upgrades.Read","Upgrades.Manage"],"audience":"api://other","expiresIn":600}`,
			wantStatus: http.StatusOK,
			wantClaims: map[string]any{"operator_id": "globex", "scp": "Upgrades.Read Upgrades.Manage", "aud": "api://other"},
			wantTTL:    600,
		},
		{"missing operator", `{"scopes":["Upgrades.Manage"]}`, http.StatusBadRequest, nil, 0},
		{"operator with a newline", `{"operator":"a\nb"}`, http.StatusBadRequest, nil, 0},
		{"zero lifetime", `{"operator":"acme","expiresIn":0}`, http.StatusBadRequest, nil, 0},
		{"lifetime over a day", `{"operator":"acme","expiresIn":86401}`, http.StatusBadRequest, nil, 0},
		{"unknown field", `{"operator":"acme","tenant":"x"}`, http.StatusBadRequest, nil, 0},
		{"not JSON", `operator=acme`, http.StatusBadRequest, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, err := e.Client().Post(base+"/_control/operator-token", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]any
			decodeBody(t, resp, &out)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d (%v)", resp.StatusCode, tc.wantStatus, out)
			}
			if tc.wantStatus != http.StatusOK {
				if out["error"] != "invalid_request" || out["error_description"] == "" {
					t.Errorf("error body = %v, want invalid_request with a description", out)
				}
				return
			}
			if out["token_type"] != "Bearer" || out["expires_in"] != float64(tc.wantTTL) {
				t.Errorf("token_type/expires_in = %v/%v, want Bearer/%d", out["token_type"], out["expires_in"], tc.wantTTL)
			}
			claims := decodeClaims(t, out["access_token"].(string))
			for k, want := range tc.wantClaims {
				if claims[k] != want {
					t.Errorf("%s = %v, want %v", k, claims[k], want)
				}
			}
			if claims["iss"] != e.Issuer() {
				t.Errorf("iss = %v, want %s", claims["iss"], e.Issuer())
			}
		})
	}
}

func TestControlFlowEndpoints(t *testing.T) {
	t.Parallel()
	e, base, _ := newWizard(t)
	post := func(path, body string) int {
		resp, err := e.Client().Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name       string
		path, body string
		wantStatus int
	}{
		{"grant consent", "/_control/consent/grant", `{"tenant":"` + ContosoTenantID + `","clientId":"` + wizardClientID + `"}`, 204},
		{"block device code", "/_control/tenant-policy", `{"tenant":"` + FabrikamTenantID + `","blockDeviceCode":true}`, 204},
		{"policy without tenant", "/_control/tenant-policy", `{"slowDown":true}`, 400},
		{"inject a fault", "/_control/faults", `{"kind":"graph","status":429,"retryAfter":2}`, 204},
		{"fault of unknown kind", "/_control/faults", `{"kind":"mail","status":429}`, 400},
		{"fault that is not injectable", "/_control/faults", `{"kind":"token","aadsts":12345}`, 400},
		{"approve unknown code", "/_control/devicecode/approve", `{"userCode":"NOPE","user":"` + ContosoAdmin + `"}`, 400},
		{"expire a secret", "/_control/app-secret/expire", `{"clientId":"` + wizardClientID + `"}`, 204},
		{"rotate without a secret", "/_control/app-secret/rotate", `{"clientId":"` + wizardClientID + `"}`, 400},
		{"rotate an unknown app's secret", "/_control/app-secret/rotate", `{"clientId":"nope","secret":"x"}`, 400},
		{"revoke unknown refresh token", "/_control/refresh-tokens/revoke", `{"token":"nope"}`, 400},
		{"unknown field", "/_control/consent/revoke", `{"tenant":"x","client":"y"}`, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := post(tc.path, tc.body); got != tc.wantStatus {
				t.Errorf("status = %d, want %d", got, tc.wantStatus)
			}
		})
	}
	if e.flows.policy(FabrikamTenantID).blockDeviceCode != true || !e.dir.secretExpired(wizardClientID) {
		t.Error("policy or secret expiry not applied")
	}
	if got := post("/_control/reset", ``); got != 204 {
		t.Fatalf("reset: %d", got)
	}
	if e.flows.policy(FabrikamTenantID).blockDeviceCode || e.dir.secretExpired(wizardClientID) || e.dir.hasPrincipal(ContosoTenantID, wizardClientID) {
		t.Error("reset kept policy, secret expiry or consent")
	}
	if _, ok := e.dir.userBySignIn(ContosoTenantID, ContosoAdmin); !ok {
		t.Error("reset lost the seeded users")
	}
}
