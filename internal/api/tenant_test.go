package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ocpro/upgrade/internal/api"
	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/upgrade/memory"
)

const (
	contosoTenant  = "5e1d0c2b-7a49-4f38-8b6d-0c9e3f2a1b74"
	fabrikamTenant = "9a4c7e21-3f6b-4d8e-a1c5-7b2e0d9f6c38"
)

// completions reads the Authentication Completed events staff caused
// from the outbox.
type completions struct{ store *memory.Store }

func (c *completions) count() int {
	return len(memory.Announced[event.AuthenticationCompleted](c.store))
}

type tenantFixture struct {
	h     *api.Handler
	store *memory.Store
	pub   *completions
}

func newTenantFixture(t *testing.T) tenantFixture {
	t.Helper()
	f := tenantFixture{store: memory.New()}
	f.pub = &completions{store: f.store}
	signer, err := link.NewSigner(link.StaticKey(strings.Repeat("k", 32)), "https://portal.example.net")
	if err != nil {
		t.Fatal(err)
	}
	portal, err := upgrade.NewPortal(upgrade.Deps{Store: f.store, Links: signer,
		Clock: fixedClock{now}, IDs: upgrade.RandomIDs{}})
	if err != nil {
		t.Fatal(err)
	}
	review, err := upgrade.NewReview(f.store, fixedClock{now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.h, err = api.NewHandler(portal, "", nil, api.WithTenantReview(review), api.WithCustomerUpdates(portal)); err != nil {
		t.Fatal(err)
	}
	return f
}

// awaiting creates an upgrade whose invitation waits for staff to confirm
// tenant, as the wizard leaves it.
func (f tenantFixture) awaiting(t *testing.T, customerID, tenant string) string {
	t.Helper()
	res, up := call(t, f.h, withID(golden(t, "create-upgrade.json"), customerID))
	if res.StatusCode != 201 {
		t.Fatalf("create upgrade = %d %s", res.StatusCode, res.Body)
	}
	id := up["invitation"].(map[string]any)["id"].(string)
	inv, err := f.store.GetInvitation(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	inv.Status, inv.TenantID, inv.TenantName, inv.TenantDomains = upgrade.InvitationAwaitingConfirmation, tenant, "Fabrikam",
		[]string{"fabrikam.onmicrosoft.com", "fabrikam.example"}
	f.store.SetInvitation(inv)
	return id
}

func (f tenantFixture) customerTenant(t *testing.T, id string) string {
	t.Helper()
	c, err := f.store.GetCustomer(context.Background(), "live-platform", id)
	if err != nil {
		t.Fatal(err)
	}
	return c.TenantID
}

func TestCustomerTenantID(t *testing.T) {
	t.Parallel()
	f := newTenantFixture(t)
	res, p := call(t, f.h, withBody(golden(t, "create-customer.json"), `{"name":"Contoso","kind":"CUSTOMER","tenantId":"contoso.example"}`))
	if res.StatusCode != 400 || !hasFieldError(p, "tenantId", "invalid_tenant_id") {
		t.Fatalf("a domain as tenant id = %d %s", res.StatusCode, res.Body)
	}
	res, c := call(t, f.h, withBody(golden(t, "create-customer.json"), `{"name":"Contoso","kind":"CUSTOMER","tenantId":"5E1D0C2B-7A49-4F38-8B6D-0C9E3F2A1B74"}`))
	if res.StatusCode != 201 || c["tenantId"] != contosoTenant {
		t.Fatalf("create = %d %s", res.StatusCode, res.Body)
	}
	id := createCustomer(t, f.h)
	update := func(body string) (int, map[string]any) {
		res, p := call(t, f.h, withBody(withID(golden(t, "update-customer.json"), id), body))
		return res.StatusCode, p
	}
	if status, p := update(`{"tenantId":"` + contosoTenant + `","domain":"Contoso.Example"}`); status != 200 || p["tenantId"] != contosoTenant || p["domain"] != "contoso.example" {
		t.Fatalf("set = %d %v", status, p)
	}
	if status, _ := update(`{"tenantId":"` + contosoTenant + `"}`); status != 200 {
		t.Fatalf("same tenant again = %d", status)
	}
	if status, p := update(`{"tenantId":"` + fabrikamTenant + `"}`); status != 409 || !hasFieldError(p, "tenantId", "taken") {
		t.Fatalf("another tenant = %d %v", status, p)
	}
	if status, _ := update(`{"tenantId":""}`); status != 400 {
		t.Fatalf("removing the tenant = %d", status)
	}
	if status, _ := update(`{"tenant":"x"}`); status != 400 {
		t.Fatalf("unknown member = %d", status)
	}
	if got := f.customerTenant(t, id); got != contosoTenant {
		t.Fatalf("customer moved to %q", got)
	}
}

func TestConfirmAndRefuseTenant(t *testing.T) {
	t.Parallel()
	t.Run("confirm binds the customer and completes", func(t *testing.T) {
		t.Parallel()
		f := newTenantFixture(t)
		cid := createCustomer(t, f.h)
		id := f.awaiting(t, cid, fabrikamTenant)
		res, inv := call(t, f.h, withID(golden(t, "confirm-tenant.json"), id))
		if res.StatusCode != 200 || inv["status"] != "AUTHENTICATION_COMPLETE" || inv["tenantName"] != "Fabrikam" {
			t.Fatalf("confirm = %d %s", res.StatusCode, res.Body)
		}
		if f.customerTenant(t, cid) != fabrikamTenant || f.pub.count() != 1 {
			t.Fatalf("customer tenant %q, events %d", f.customerTenant(t, cid), f.pub.count())
		}
		if res, _ := call(t, f.h, withID(golden(t, "confirm-tenant.json"), id)); res.StatusCode != 409 || f.pub.count() != 1 {
			t.Fatalf("confirm again = %d, events %d", res.StatusCode, f.pub.count())
		}
	})
	t.Run("a bound customer never moves", func(t *testing.T) {
		t.Parallel()
		f := newTenantFixture(t)
		cid := createCustomer(t, f.h)
		if err := f.store.BindTenant(context.Background(), "live-platform", cid, contosoTenant); err != nil {
			t.Fatal(err)
		}
		id := f.awaiting(t, cid, fabrikamTenant)
		if res, _ := call(t, f.h, withID(golden(t, "confirm-tenant.json"), id)); res.StatusCode != 409 {
			t.Fatalf("confirm = %d %s", res.StatusCode, res.Body)
		}
		inv, _ := f.store.GetInvitation(context.Background(), id)
		if inv.Status != upgrade.InvitationAwaitingConfirmation || f.customerTenant(t, cid) != contosoTenant || f.pub.count() != 0 {
			t.Fatalf("changed: %s, tenant %q, events %d", inv.Status, f.customerTenant(t, cid), f.pub.count())
		}
		res, out := call(t, f.h, withID(golden(t, "refuse-tenant.json"), id))
		if res.StatusCode != 200 || out["status"] != "FAILED" {
			t.Fatalf("refuse = %d %s", res.StatusCode, res.Body)
		}
	})
	t.Run("nothing to judge", func(t *testing.T) {
		t.Parallel()
		f := newTenantFixture(t)
		cid := createCustomer(t, f.h)
		res, up := call(t, f.h, withID(golden(t, "create-upgrade.json"), cid))
		if res.StatusCode != 201 {
			t.Fatal(res.Body)
		}
		id := up["invitation"].(map[string]any)["id"].(string)
		for _, ev := range []string{"confirm-tenant.json", "refuse-tenant.json"} {
			if res, _ := call(t, f.h, withID(golden(t, ev), id)); res.StatusCode != 409 {
				t.Errorf("%s of a pending invitation = %d", ev, res.StatusCode)
			}
			if res, _ := call(t, f.h, withID(golden(t, ev), "unknown0000000000000000000")); res.StatusCode != 404 {
				t.Errorf("%s of an unknown invitation = %d", ev, res.StatusCode)
			}
		}
	})
}

// hasFieldError reports whether a problem document names the field with
// the code.
func hasFieldError(p map[string]any, field, code string) bool {
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		if m, ok := e.(map[string]any); ok && m["field"] == field && m["code"] == code {
			return true
		}
	}
	return false
}
