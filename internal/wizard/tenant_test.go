package wizard_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

// A consent proven in a tenant completes the invitation only when the
// tenant is the customer's: its tenant id, or, for a customer without one,
// a verified domain of the customer's or of the administrator's address.
// Any other tenant waits for staff, and a bound customer stays bound.
func TestConsentCompletesOnlyInTheCustomersTenant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		tenantID   string // the customer's, before
		domain     string
		adminEmail string
		org        wizard.Organization
		want       upgrade.InvitationStatus
		wantBound  string
	}{
		{"the customer's tenant id", tenantA, "", "", wizard.Organization{}, upgrade.InvitationAuthenticationComplete, tenantA},
		{"another tenant than the customer's id, whatever its domains", tenantB, customerDomain, "admin@" + customerDomain,
			wizard.Organization{}, upgrade.InvitationAwaitingConfirmation, tenantB},
		{"a verified domain of the customer", "", customerDomain, "", wizard.Organization{}, upgrade.InvitationAuthenticationComplete, tenantA},
		{"the administrator's domain verified", "", "", "it@Contoso.Example", wizard.Organization{ID: tenantA, DisplayName: "Contoso",
			VerifiedDomains: []string{"contoso.onmicrosoft.com", "contoso.example"}}, upgrade.InvitationAuthenticationComplete, tenantA},
		{"domain mismatch", "", "contoso.example", "admin@contoso.example", wizard.Organization{ID: tenantA, DisplayName: "Fabrikam",
			VerifiedDomains: []string{"fabrikam.onmicrosoft.com", "fabrikam.example"}}, upgrade.InvitationAwaitingConfirmation, ""},
		{"nothing known of the customer", "", "", "", wizard.Organization{}, upgrade.InvitationAwaitingConfirmation, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, 0)
			ctx := context.Background()
			w.store.setCustomer(t, func(c *upgrade.Customer) { c.TenantID, c.Domain = tt.tenantID, tt.domain })
			tok := w.invite(t, "inv1")
			w.store.change("inv1", func(inv *upgrade.Invitation) { inv.AdminEmail = tt.adminEmail })
			binding, form := w.signedIn(t, tok, tenantA)
			w.ms.grant(tenantA, wizard.Grant{TenantID: tenantA, Roles: []string{roleCall, roleOrg}, Organization: tt.org})
			res, err := w.svc.Continue(ctx, tok, binding, form)
			if err != nil {
				t.Fatal(err)
			}
			inv := w.store.invitation("inv1")
			if inv.Status != tt.want || inv.TenantID != tenantA {
				t.Fatalf("invitation %s in %s, want %s in %s", inv.Status, inv.TenantID, tt.want, tenantA)
			}
			c, err := w.store.Store.GetCustomer(ctx, "op", "cust")
			if err != nil || c.TenantID != tt.wantBound {
				t.Fatalf("customer bound to %q (%v), want %q", c.TenantID, err, tt.wantBound)
			}
			switch tt.want {
			case upgrade.InvitationAuthenticationComplete:
				if res.View.Step != wizard.StepActivated || len(w.pub.published()) != 1 {
					t.Fatalf("view %+v, events %d", res.View, len(w.pub.published()))
				}
			default:
				if res.View.Step != wizard.StepConfirming || res.View.TenantID != tenantA || res.View.TenantName == "" ||
					len(res.View.TenantDomains) == 0 || len(w.pub.published()) != 0 {
					t.Fatalf("view %+v, events %d; want the confirming page and no event", res.View, len(w.pub.published()))
				}
				if inv.TenantName != res.View.TenantName || len(inv.TenantDomains) != len(res.View.TenantDomains) || len(inv.GrantedPermissions) != 2 {
					t.Fatalf("invitation %+v lacks what staff need to judge", inv)
				}
				// The link is spent: the administrator cannot finish it.
				if _, err := w.svc.Open(ctx, tok, binding); !errors.Is(err, wizard.ErrNeutral) {
					t.Fatalf("open after: %v", err)
				}
			}
		})
	}
}

// An account without a role that can manage Teams for the licence is not
// kept: its refresh token would become the tenant account credentials.
func TestSignInNeedsADirectoryRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("sign-in with Microsoft", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, 0)
		tok := w.invite(t, "inv1")
		res, _, _ := w.signInAs(t, tok, wizard.Tokens{TenantID: tenantA, ObjectID: "oid-user", UPN: "user@a.example",
			RefreshToken: "refresh-secret-user", DirectoryRoles: []string{"b79fbf4d-3ef9-4689-8143-76b194e85509"}})
		if res.View.Step != wizard.StepProblem || res.View.Problem != wizard.ProblemNeedsRole || !res.View.Back {
			t.Fatalf("result %+v, want the needs-role problem", res)
		}
		if inv := w.store.invitation("inv1"); inv.Status == upgrade.InvitationTokenAcquired || inv.TenantID != "" {
			t.Fatalf("invitation %+v recorded the account", inv)
		}
		if _, err := w.store.Credential(ctx, "inv1"); !errors.Is(err, upgrade.ErrNotFound) {
			t.Fatalf("credential kept: %v", err)
		}
	})
}
