package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ocpro/upgrade/infra/entra"
	"github.com/ocpro/upgrade/infra/stack"
)

// Directory role template ids the tests give accounts.
const (
	teamsAdministrator            = "69091246-20e8-4a56-aa4d-066075b2a7a8"
	cloudApplicationAdministrator = entra.CloudApplicationAdministrator
)

// customerUpgrade creates a customer of the tenant (by domain, or by id
// when byID is set) and an upgrade whose administrator address is in the
// tenant's domain; it returns the customer id, the upgrade id, the
// invitation id and its link.
func customerUpgrade(t *testing.T, c *client, tn tenant, byID bool) (customerID, upgradeID, id, authURL string) {
	t.Helper()
	body := map[string]any{"name": "Customer " + unique("c"), "kind": "CUSTOMER", "domain": tn.domain}
	if byID {
		body = map[string]any{"name": "Customer " + unique("c"), "kind": "CUSTOMER", "tenantId": tn.id}
	}
	cust := must(t, c.do(http.MethodPost, "/v1/customers", body), http.StatusCreated)
	up := upgradeBody(unique("tn"))
	up["adminEmail"] = "it@" + tn.domain
	if byID {
		up["adminEmail"] = "it@customer.example"
	}
	u := must(t, c.do(http.MethodPost, fmt.Sprintf("/v1/customers/%s/upgrades", cust["id"]), up), http.StatusCreated)
	inv := u["invitation"].(map[string]any)
	return cust["id"].(string), u["id"].(string), inv["id"].(string), inv["authUrl"].(string)
}

func consented(t *testing.T, tn tenant) {
	t.Helper()
	if err := env.Entra.GrantAdminConsent(tn.id, stack.ServiceClientID); err != nil {
		t.Fatal(err)
	}
}

// waitsForStaff checks that the wizard's last page and the portal show the
// invitation waiting for staff in tenant other, and that nothing moved on.
func waitsForStaff(t *testing.T, c *client, p page, id, upgradeID, customerID string, other tenant) {
	t.Helper()
	wantText(t, p, http.StatusOK, "must confirm that this tenant belongs to the customer", other.name, other.id, other.domain)
	s := invitationStatus(t, c, id)
	domains := fmt.Sprint(s["tenantDomains"])
	if s["status"] != "AWAITING_CONFIRMATION" || s["tenantId"] != other.id || s["tenantName"] != other.name || !strings.Contains(domains, other.domain) {
		t.Fatalf("invitation = %v, want AWAITING_CONFIRMATION in %s", s, other.id)
	}
	// The upgrade does not become ready, and the customer is not bound,
	// once every event the wizard wrote has reached its function.
	settleBus(t)
	if u := must(t, c.do(http.MethodGet, "/v1/upgrades/"+upgradeID, nil), http.StatusOK); u["status"] != "PENDING_AUTHENTICATION" {
		t.Fatalf("upgrade = %v, want PENDING_AUTHENTICATION", u["status"])
	}
	if cust := must(t, c.do(http.MethodGet, "/v1/customers/"+customerID, nil), http.StatusOK); cust["tenantId"] == other.id {
		t.Fatalf("customer bound to the other tenant: %v", cust)
	}
	// Resume is refused while staff have not confirmed.
	must(t, c.do(http.MethodPost, "/v1/upgrades/"+upgradeID+"/resume", map[string]any{"licenseType": "OC_PRO", "licensedUsers": 25}), http.StatusConflict)
}

// A Fabrikam administrator on a Contoso customer's link: Fabrikam consented
// before (for another operator's customer, the same app registration), so
// the wizard proves consent at once, but Fabrikam is not the customer's
// tenant: the invitation waits for staff, who refuse it.
func TestWizardOtherTenantsAdminWaitsForStaff(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-wrongtn-"))
	contoso, fabrikam := newTenant(t), newTenant(t)
	consented(t, fabrikam)
	customerID, upgradeID, id, authURL := customerUpgrade(t, c, contoso, false)
	b := newBrowser(t)
	acquired := signIn(t, b, authURL, fabrikam.admin)
	wantText(t, acquired, http.StatusOK, "successfully acquired a token")
	p := b.action(acquired, authURL, "continue", nil)
	waitsForStaff(t, c, p, id, upgradeID, customerID, fabrikam)

	refused := must(t, c.do(http.MethodPost, "/v1/invitations/"+id+"/refuse-tenant", nil), http.StatusOK)
	if refused["status"] != "FAILED" {
		t.Fatalf("refused = %v", refused)
	}
	must(t, c.do(http.MethodPost, "/v1/invitations/"+id+"/confirm-tenant", nil), http.StatusConflict)
	// A new link for the customer's own administrator completes in Contoso.
	regen := must(t, c.do(http.MethodPost, "/v1/invitations/"+id+"/regenerate", nil), http.StatusOK)
	b2 := newBrowser(t)
	done := consent(t, b2, regen["authUrl"].(string), signIn(t, b2, regen["authUrl"].(string), contoso.admin), contoso.admin)
	wantText(t, done, http.StatusOK, "Tenant Activation", contoso.id)
	if cust := must(t, c.do(http.MethodGet, "/v1/customers/"+customerID, nil), http.StatusOK); cust["tenantId"] != contoso.id {
		t.Fatalf("customer = %v, want bound to %s", cust, contoso.id)
	}
}

// Domain mismatch with consent given in the flow: an administrator of
// another tenant grants consent there; staff confirm the tenant, which
// binds the customer to it and makes the upgrade ready to resume.
func TestWizardDomainMismatchStaffConfirm(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-confirm-"))
	customers, other := newTenant(t), newTenant(t)
	customerID, upgradeID, id, authURL := customerUpgrade(t, c, customers, false)
	b := newBrowser(t)
	acquired := signIn(t, b, authURL, other.admin)
	p := consent(t, b, authURL, acquired, other.admin)
	waitsForStaff(t, c, p, id, upgradeID, customerID, other)

	confirmed := must(t, c.do(http.MethodPost, "/v1/invitations/"+id+"/confirm-tenant", nil), http.StatusOK)
	if confirmed["status"] != "AUTHENTICATION_COMPLETE" || confirmed["tenantId"] != other.id {
		t.Fatalf("confirmed = %v", confirmed)
	}
	if cust := must(t, c.do(http.MethodGet, "/v1/customers/"+customerID, nil), http.StatusOK); cust["tenantId"] != other.id {
		t.Fatalf("customer = %v, want bound to %s", cust, other.id)
	}
	waitUntil(t, "upgrade READY_TO_RESUME", func() bool {
		return must(t, c.do(http.MethodGet, "/v1/upgrades/"+upgradeID, nil), http.StatusOK)["status"] == "READY_TO_RESUME"
	})
	// Bound now: the customer never moves to another tenant.
	must(t, c.do(http.MethodPatch, "/v1/customers/"+customerID, map[string]any{"tenantId": customers.id}), http.StatusConflict)
}

// A customer whose tenant id is known completes only there: an
// administrator of another tenant, even one that verified a matching
// domain, waits for staff.
func TestWizardKnownTenantIDDecides(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-tid-"))
	customers, other := newTenant(t), newTenant(t)
	consented(t, other)
	customerID, upgradeID, id, authURL := customerUpgrade(t, c, customers, true)
	b := newBrowser(t)
	p := b.action(signIn(t, b, authURL, other.admin), authURL, "continue", nil)
	waitsForStaff(t, c, p, id, upgradeID, customerID, other)
	// Staff cannot bind a customer to a second tenant.
	must(t, c.do(http.MethodPost, "/v1/invitations/"+id+"/confirm-tenant", nil), http.StatusConflict)
	if s := invitationStatus(t, c, id); s["status"] != "AWAITING_CONFIRMATION" {
		t.Fatalf("after a refused confirm: %v", s)
	}
}

// A partner technician who is a Global Administrator of their own tenant
// and a guest administrator in the customer's: signing in through the
// organizations authority gives tokens of the home tenant, which consented
// before. The invitation must not complete there.
func TestWizardGuestAdminWaitsForStaff(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-guest-"))
	customers, partner := newTenant(t), newTenant(t)
	consented(t, partner)
	tech := "tech@" + partner.domain
	if _, err := env.Entra.AddUser(entra.User{TenantID: partner.id, UserPrincipalName: tech, DisplayName: "Partner tech", Roles: []string{entra.GlobalAdministrator}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Entra.AddUser(entra.User{TenantID: customers.id, UserPrincipalName: strings.ReplaceAll(tech, "@", "_") + "#EXT#@" + customers.domain,
		Mail: tech, DisplayName: "Partner tech (guest)", HomeTenantID: partner.id, Roles: []string{entra.GlobalAdministrator}}); err != nil {
		t.Fatal(err)
	}
	customerID, upgradeID, id, authURL := customerUpgrade(t, c, customers, false)
	b := newBrowser(t)
	acquired := signIn(t, b, authURL, tech)
	if s := invitationStatus(t, c, id); s["tenantId"] != partner.id {
		t.Fatalf("after sign-in: %v, want the home tenant %s", s, partner.id)
	}
	waitsForStaff(t, c, b.action(acquired, authURL, "continue", nil), id, upgradeID, customerID, partner)
}

// A user without an administrator role in a tenant that consented before:
// the wizard keeps nothing of the account (its refresh token would become
// the tenant account credentials) and says which role is needed.
func TestWizardNonAdminOfConsentedTenant(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-nonadm-"))
	tn := newTenant(t)
	consented(t, tn)
	_, _, id, authURL := customerUpgrade(t, c, tn, false)
	b := newBrowser(t)
	p := signIn(t, b, authURL, tn.user)
	wantText(t, p, http.StatusBadRequest, "Global Administrator or a Teams Administrator")
	if s := invitationStatus(t, c, id); s["status"] != "IN_PROGRESS" || s["tenantId"] != nil {
		t.Fatalf("invitation = %v, want IN_PROGRESS with no tenant", s)
	}
}

// Who may consent: a Teams Administrator (who may be the tenant account)
// cannot grant consent to Graph's application permissions, and neither can
// one who is also a Cloud Application Administrator; the page names the
// roles that can.
func TestWizardConsentNeedsGlobalOrPrivilegedRoleAdmin(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-cloudadm-"))
	tn := newTenant(t)
	// Users may consent to User.Read for themselves, so that the sign-in
	// itself goes through.
	if err := env.Entra.SetUserConsent(tn.id, true); err != nil {
		t.Fatal(err)
	}
	for i, roles := range [][]string{{teamsAdministrator}, {teamsAdministrator, cloudApplicationAdministrator}} {
		user := fmt.Sprintf("teams%d@%s", i, tn.domain)
		if _, err := env.Entra.AddUser(entra.User{TenantID: tn.id, UserPrincipalName: user, DisplayName: "Teams admin", Roles: roles}); err != nil {
			t.Fatal(err)
		}
		_, _, id, authURL := customerUpgrade(t, c, tn, false)
		b := newBrowser(t)
		acquired := signIn(t, b, authURL, user)
		wantText(t, acquired, http.StatusOK, "successfully acquired a token")
		p := consent(t, b, authURL, acquired, user)
		wantText(t, p, http.StatusBadRequest, "Global Administrator or a Privileged Role Administrator", "AADSTS90094")
		if s := invitationStatus(t, c, id); s["status"] != "TOKEN_ACQUIRED" {
			t.Fatalf("roles %v: invitation = %v", roles, s)
		}
	}
}
