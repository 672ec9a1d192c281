package graph

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ocpro/upgrade/internal/cloud"
)

const tenant = "5e1d0c2b-7a49-4f38-8b6d-0c9e3f2a1b74"

// token builds an unsigned token with the claims; ReadToken never checks
// signatures, so none is needed to show what it refuses.
func token(t *testing.T, change func(jwt.MapClaims)) string {
	t.Helper()
	c := jwt.MapClaims{"iss": "https://sts.windows.net/" + tenant + "/", "ver": "1.0", "aud": cloud.GlobalGraph,
		"tid": tenant, "appid": "app", "roles": []string{"Organization.Read.All"}, "exp": time.Now().Add(time.Hour).Unix()}
	if change != nil {
		change(c)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReadToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(jwt.MapClaims)
		ok     bool
	}{
		{"Graph's v1.0 app token", nil, true},
		{"v2.0 issuer on the authority", func(c jwt.MapClaims) { c["iss"] = "https://login.example/" + tenant + "/v2.0"; c["azp"] = "app" }, true},
		{"Graph's application id as audience", func(c jwt.MapClaims) { c["aud"] = AppID }, true},
		{"another tenant", func(c jwt.MapClaims) { c["tid"] = "9a4c7e21-3f6b-4d8e-a1c5-7b2e0d9f6c38" }, false},
		{"another tenant's issuer", func(c jwt.MapClaims) { c["iss"] = "https://sts.windows.net/9a4c7e21-3f6b-4d8e-a1c5-7b2e0d9f6c38/" }, false},
		{"another resource", func(c jwt.MapClaims) { c["aud"] = "api://other" }, false},
		{"expired", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }, false},
		{"no expiry", func(c jwt.MapClaims) { delete(c, "exp") }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := ReadToken(token(t, tc.change), tenant, "https://login.example/", cloud.GlobalGraph, time.Now())
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if tc.ok && (c.AppID != "app" || len(c.Roles) != 1) {
				t.Errorf("claims = %+v", c)
			}
		})
	}
	if _, err := ReadToken("not a token", tenant, "https://login.example", cloud.GlobalGraph, time.Now()); err == nil {
		t.Error("a malformed token was read")
	}
}

func TestParseOrganization(t *testing.T) {
	t.Parallel()
	body := []byte(`{"value":[{"id":"` + tenant + `","displayName":"Contoso","verifiedDomains":[{"name":"contoso.onmicrosoft.com","isInitial":true},{"name":"Contoso.example","isDefault":true}]}]}`)
	o, err := ParseOrganization(body, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if o.DefaultDomain() != "Contoso.example" || !o.HasDomain("contoso.EXAMPLE.") || o.HasDomain("fabrikam.example") || o.HasDomain("") {
		t.Errorf("organization = %+v", o)
	}
	if _, err := ParseOrganization(body, "9a4c7e21-3f6b-4d8e-a1c5-7b2e0d9f6c38"); err != ErrOtherOrganization {
		t.Errorf("another tenant: err = %v", err)
	}
	for _, bad := range []string{`{}`, `{"value":[]}`, `{"value":[{},{}]}`, `not json`} {
		if _, err := ParseOrganization([]byte(bad), tenant); err == nil {
			t.Errorf("%s was read as an organization", bad)
		}
	}
}

func FuzzReadToken(f *testing.F) {
	f.Add("eyJhbGciOiJub25lIn0.eyJ0aWQiOiJ4In0.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		if c, err := ReadToken(raw, tenant, "https://login.example", cloud.GlobalGraph, time.Now()); err == nil && !strings.EqualFold(c.TenantID, tenant) {
			t.Fatalf("read a token of tenant %q", c.TenantID)
		}
	})
}
