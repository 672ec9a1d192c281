package entra

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Each defect spoils the next ID token of the user, in the named way and
// in no other, and only that one token.
func TestSpoilNextIDToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		defect IDTokenDefect
		check  func(t *testing.T, e *Emulator, base string, raw string, c jwt.MapClaims)
	}{
		{DefectSignature, func(t *testing.T, e *Emulator, _ string, raw string, _ jwt.MapClaims) {
			_, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return &e.current.priv.PublicKey, nil })
			if err == nil {
				t.Error("the forged token verifies with the published key")
			}
		}},
		{DefectExpired, func(t *testing.T, e *Emulator, _ string, _ string, c jwt.MapClaims) {
			if exp, _ := c.GetExpirationTime(); exp == nil || !exp.Before(e.now().Add(-30*time.Minute)) {
				t.Errorf("exp = %v, want an hour ago", exp)
			}
		}},
		{DefectAudience, func(t *testing.T, _ *Emulator, _ string, _ string, c jwt.MapClaims) {
			if c["aud"] != otherAudience {
				t.Errorf("aud = %v", c["aud"])
			}
		}},
		{DefectIssuer, func(t *testing.T, _ *Emulator, base string, _ string, c jwt.MapClaims) {
			if c["tid"] != ContosoTenantID || c["iss"] != base+"/"+FabrikamTenantID+"/v2.0" {
				t.Errorf("tid %v, iss %v: want Contoso's tid with Fabrikam's issuer", c["tid"], c["iss"])
			}
		}},
		{DefectTenant, func(t *testing.T, _ *Emulator, base string, _ string, c jwt.MapClaims) {
			if c["tid"] != "contoso" || c["iss"] != base+"/contoso/v2.0" {
				t.Errorf("tid %v, iss %v", c["tid"], c["iss"])
			}
		}},
	}
	for _, tc := range tests {
		t.Run(string(tc.defect), func(t *testing.T) {
			t.Parallel()
			e, base, _ := newWizard(t)
			if err := e.GrantAdminConsent(ContosoTenantID, wizardClientID); err != nil {
				t.Fatal(err)
			}
			if err := e.SpoilNextIDToken(ContosoAdmin, tc.defect); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				userCode, deviceCode := startDevice(t, e, base, "organizations")
				if err := e.ApproveDeviceCode(userCode, ContosoAdmin); err != nil {
					t.Fatal(err)
				}
				raw, _ := poll(t, e, base, "organizations", "device_code", deviceCode)["id_token"].(string)
				c := decodeClaims(t, raw)
				if i == 0 {
					tc.check(t, e, base, raw, c)
					continue
				}
				if c["aud"] != wizardClientID || c["tid"] != ContosoTenantID || c["iss"] != base+"/"+ContosoTenantID+"/v2.0" {
					t.Errorf("the second ID token is spoiled too: %v", c)
				}
				if _, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return &e.current.priv.PublicKey, nil }); err != nil {
					t.Errorf("the second ID token does not verify: %v", err)
				}
			}
		})
	}
}

func TestSpoilIDTokenControl(t *testing.T) {
	t.Parallel()
	e, base, _ := newWizard(t)
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"user":"admin@contoso.example","defect":"audience"}`, http.StatusNoContent},
		{`{"user":"admin@contoso.example","defect":"blue"}`, http.StatusBadRequest},
		{`{"user":"nobody@contoso.example","defect":"expired"}`, http.StatusBadRequest},
		{`{"user":"admin@contoso.example","defect":"expired","extra":1}`, http.StatusBadRequest},
	} {
		resp, err := e.Client().Post(base+"/_control/id-token/spoil", "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.body, resp.StatusCode, tc.want)
		}
	}
}
