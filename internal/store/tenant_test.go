package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

const (
	contoso  = "5e1d0c2b-7a49-4f38-8b6d-0c9e3f2a1b74"
	fabrikam = "9a4c7e21-3f6b-4d8e-a1c5-7b2e0d9f6c38"
)

// awaiting moves the fixture's invitation to AWAITING_CONFIRMATION in
// tenant, as the wizard does.
func awaiting(t *testing.T, w *store.Wizard, tenant string) upgrade.Invitation {
	t.Helper()
	ctx := context.Background()
	if err := w.TransitionInvitation(ctx, acquired(tenant)); err != nil {
		t.Fatal(err)
	}
	if err := w.SaveCredential(ctx, "inv", wizard.Credential{TenantID: tenant, SealedRefresh: []byte("sealed"), At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	tr := transition(upgrade.InvitationAwaitingConfirmation)
	tr.TenantID, tr.TenantName, tr.TenantDomains, tr.Granted = tenant, "Fabrikam", []string{"fabrikam.example"}, []string{"Organization.Read.All"}
	if err := w.TransitionInvitation(ctx, tr); err != nil {
		t.Fatal(err)
	}
	inv, err := w.GetInvitation(ctx, "inv")
	if err != nil {
		t.Fatal(err)
	}
	if inv.TenantName != "Fabrikam" || len(inv.TenantDomains) != 1 || inv.Status != upgrade.InvitationAwaitingConfirmation {
		t.Fatalf("awaiting invitation %+v", inv)
	}
	return inv
}

func customerTenant(t *testing.T, w *store.Wizard) string {
	t.Helper()
	c, err := w.GetCustomer(context.Background(), "op", "cust")
	if err != nil {
		t.Fatal(err)
	}
	return c.TenantID
}

// A customer is bound to one tenant: binding it again to the same one is
// a no-op, to another is refused and changes nothing.
func TestBindTenantNeverMovesACustomer(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	w, _, _ := wizardStore(t)
	ctx := context.Background()
	if err := w.BindTenant(ctx, "op", "cust", contoso); err != nil {
		t.Fatal(err)
	}
	if err := w.BindTenant(ctx, "op", "cust", contoso); err != nil {
		t.Fatalf("same tenant again: %v", err)
	}
	if err := w.BindTenant(ctx, "op", "cust", fabrikam); !errors.Is(err, upgrade.ErrTenantBound) {
		t.Fatalf("another tenant: err = %v, want ErrTenantBound", err)
	}
	if err := w.BindTenant(ctx, "other-op", "cust", contoso); !errors.Is(err, upgrade.ErrNotFound) {
		t.Fatalf("another operator's customer: err = %v, want ErrNotFound", err)
	}
	if got := customerTenant(t, w); got != contoso {
		t.Fatalf("customer bound to %q", got)
	}
}

// Staff confirming completes the invitation and binds the customer in one
// transaction; a customer bound to another tenant refuses it whole.
func TestConfirmTenant(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	t.Run("unbound customer", func(t *testing.T) {
		t.Parallel()
		w, _, _ := wizardStore(t)
		inv := awaiting(t, w, fabrikam)
		if err := w.ConfirmTenant(context.Background(), inv, time.Now()); err != nil {
			t.Fatal(err)
		}
		got, err := w.GetInvitation(context.Background(), "inv")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != upgrade.InvitationAuthenticationComplete || got.AuthenticatedAt.IsZero() || customerTenant(t, w) != fabrikam {
			t.Fatalf("invitation %+v, customer tenant %q", got, customerTenant(t, w))
		}
		if err := w.ConfirmTenant(context.Background(), inv, time.Now()); !errors.Is(err, upgrade.ErrStateChanged) {
			t.Fatalf("second confirm: err = %v, want ErrStateChanged", err)
		}
	})
	t.Run("customer bound to another tenant", func(t *testing.T) {
		t.Parallel()
		w, _, _ := wizardStore(t)
		if err := w.BindTenant(context.Background(), "op", "cust", contoso); err != nil {
			t.Fatal(err)
		}
		inv := awaiting(t, w, fabrikam)
		if err := w.ConfirmTenant(context.Background(), inv, time.Now()); !errors.Is(err, upgrade.ErrTenantBound) {
			t.Fatalf("err = %v, want ErrTenantBound", err)
		}
		got, err := w.GetInvitation(context.Background(), "inv")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != upgrade.InvitationAwaitingConfirmation || customerTenant(t, w) != contoso {
			t.Fatalf("changed: invitation %s, customer tenant %q", got.Status, customerTenant(t, w))
		}
	})
}

// Staff refusing fails the invitation and drops the credential kept from
// the refused tenant's account.
func TestRefuseTenant(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	w, _, _ := wizardStore(t)
	ctx := context.Background()
	inv := awaiting(t, w, fabrikam)
	if err := w.RefuseTenant(ctx, inv); err != nil {
		t.Fatal(err)
	}
	got, err := w.GetInvitation(ctx, "inv")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != upgrade.InvitationFailed || customerTenant(t, w) != "" {
		t.Fatalf("invitation %s, customer tenant %q", got.Status, customerTenant(t, w))
	}
	if _, err := w.Credential(ctx, "inv"); !errors.Is(err, upgrade.ErrNotFound) {
		t.Fatalf("credential kept: %v", err)
	}
	if err := w.RefuseTenant(ctx, inv); !errors.Is(err, upgrade.ErrStateChanged) {
		t.Fatalf("second refuse: err = %v, want ErrStateChanged", err)
	}
}
