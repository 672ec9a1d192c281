package entra

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// After a grant, client credentials answer 700016 for the first half of
// the propagation window, then tokens without roles, then tokens with the
// granted roles. Without a window the grant is seen at once.
func TestConsentPropagation(t *testing.T) {
	t.Parallel()
	e, base, clock := newWizard(t)
	if err := e.SetConsentPropagation(ContosoTenantID, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := e.GrantAdminConsent(ContosoTenantID, wizardClientID); err != nil {
		t.Fatal(err)
	}
	var elapsed time.Duration
	for _, step := range []struct {
		advance time.Duration
		want    string
	}{
		{0, "AADSTS700016"},
		{29 * time.Second, "AADSTS700016"},
		{2 * time.Second, ""},
		{28 * time.Second, ""},
		{2 * time.Second, "Application.Read.All Organization.Read.All"},
	} {
		clock.Advance(step.advance)
		elapsed += step.advance
		if got := appRolesInToken(t, e, base, ContosoTenantID); got != step.want {
			t.Fatalf("%s after the grant: %q, want %q", elapsed, got, step.want)
		}
	}
	// Another tenant is not held up.
	if err := e.GrantAdminConsent(FabrikamTenantID, wizardClientID); err != nil {
		t.Fatal(err)
	}
	if got := appRolesInToken(t, e, base, FabrikamTenantID); got != "Application.Read.All Organization.Read.All" {
		t.Fatalf("without a window: %q", got)
	}
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"seconds":90}`, http.StatusNoContent},
		{`{"tenant":"` + FabrikamTenantID + `","seconds":5}`, http.StatusNoContent},
		{`{"seconds":-1}`, http.StatusBadRequest},
		{`{"seconds":7200}`, http.StatusBadRequest},
		{`{"secs":1}`, http.StatusBadRequest},
	} {
		resp, err := e.Client().Post(base+"/_control/consent/propagation", "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.body, resp.StatusCode, tc.want)
		}
	}
}
