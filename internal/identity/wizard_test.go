package identity_test

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/entra"
	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/upgrade/memory"
	"github.com/ocpro/upgrade/internal/wizard"
)

// The wizard over the real identity adapter and the emulator, on the
// in-memory store: what a sign-in proves reaches the invitation only
// through Microsoft's answers over HTTP.

type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// clearSealer stands in for KMS.
type clearSealer struct{}

func (clearSealer) Seal(_ context.Context, p []byte, _ map[string]string) ([]byte, error) {
	return append([]byte(nil), p...), nil
}
func (clearSealer) Open(_ context.Context, b []byte, _ map[string]string) ([]byte, error) {
	return append([]byte(nil), b...), nil
}

type wizardWorld struct {
	em    *entra.Emulator
	svc   *wizard.Service
	store *memory.Store
	clock *stepClock
	links *link.Signer
}

func newWizardWorld(t *testing.T) *wizardWorld {
	t.Helper()
	clock := &stepClock{now: time.Now().UTC()}
	em, id := newEntraAt(t, clock.Now)
	w := &wizardWorld{em: em, store: memory.New(), clock: clock}
	var err error
	if w.links, err = link.NewSigner(link.StaticKey(strings.Repeat("k", 32)), "http://127.0.0.1:3000"); err != nil {
		t.Fatal(err)
	}
	w.svc, err = wizard.New(wizard.Config{Store: w.store, Identity: id, Sealer: clearSealer{}, Links: w.links,
		FormKeys: link.StaticKey(strings.Repeat("f", 32)), Clock: w.clock, Logger: slog.New(slog.DiscardHandler), RequiredRoles: required})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// invite stores a live invitation and returns its link token.
func (w *wizardWorld) invite(t *testing.T, id string) string {
	t.Helper()
	now := w.clock.Now()
	w.store.SetCustomer(upgrade.Customer{ID: "cust", OperatorID: "op", Name: "Contoso", Kind: upgrade.KindCustomer, Domain: "contoso.example"})
	w.store.SetInvitation(upgrade.Invitation{ID: id, OperatorID: "op", CustomerID: "cust", UpgradeID: "up", ServiceID: "svc",
		Status: upgrade.InvitationPending, Generation: 1, CreatedAt: now, ExpiresAt: now.Add(7 * 24 * time.Hour),
		CustomerName: "Contoso", ServiceName: "Contoso Teams", License: upgrade.Pro, AdminEmail: "it-admin@contoso.example"})
	tok, err := w.links.Token(context.Background(), id, 1)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// deviceSignIn starts the device code way in a browser, has user approve
// the code at the emulator, and polls as the page does until the attempt
// settles. It returns the last view.
func (w *wizardWorld) deviceSignIn(t *testing.T, token, user string) wizard.View {
	t.Helper()
	return w.deviceSignInAs(t, token, wizard.NewBinding(), user)
}

// deviceSignInAs is deviceSignIn in the browser with this binding.
func (w *wizardWorld) deviceSignInAs(t *testing.T, token, binding, user string) wizard.View {
	t.Helper()
	ctx := context.Background()
	open, err := w.svc.Open(ctx, token, binding)
	if err != nil {
		t.Fatal(err)
	}
	v, err := w.svc.StartDevice(ctx, token, binding, open.FormToken)
	if err != nil || v.Device == nil {
		t.Fatalf("start device: %+v, %v", v, err)
	}
	if err := w.em.ApproveDeviceCode(v.Device.UserCode, user); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		w.clock.advance(v.Device.Interval)
		if v, err = w.svc.Poll(ctx, token, binding); err != nil {
			t.Fatalf("poll: %v", err)
		}
		if v.Step != wizard.StepDevice || v.Device.Outcome != wizard.OutcomeNone {
			return v
		}
	}
	t.Fatalf("the device attempt never settled: %+v", v)
	return v
}

// An ID token that fails any one check proves nothing: the invitation
// records no tenant, no account and no credential, and the page says the
// sign-in failed. Each case breaks exactly one check, so each fails if
// that check is removed from the identity adapter.
func TestWizardRefusesBadIDTokens(t *testing.T) {
	t.Parallel()
	for _, defect := range []entra.IDTokenDefect{
		entra.DefectSignature, entra.DefectExpired, entra.DefectAudience, entra.DefectIssuer, entra.DefectTenant,
	} {
		t.Run(string(defect), func(t *testing.T) {
			t.Parallel()
			w := newWizardWorld(t)
			token := w.invite(t, "inv-"+string(defect))
			if err := w.em.SpoilNextIDToken(entra.ContosoAdmin, defect); err != nil {
				t.Fatal(err)
			}
			v := w.deviceSignIn(t, token, entra.ContosoAdmin)
			if v.Step != wizard.StepDevice || v.Device.Outcome != wizard.OutcomeFailed || v.TenantID != "" || v.UPN != "" {
				t.Fatalf("view after a bad ID token: %+v", v)
			}
			inv, err := w.store.GetInvitation(context.Background(), "inv-"+string(defect))
			if err != nil {
				t.Fatal(err)
			}
			if inv.Status != upgrade.InvitationInProgress || inv.TenantID != "" || inv.AuthenticatedBy != "" {
				t.Fatalf("invitation after a bad ID token: %s tenant %q by %q", inv.Status, inv.TenantID, inv.AuthenticatedBy)
			}
			if _, err := w.store.Credential(context.Background(), inv.ID); err == nil {
				t.Fatal("a credential was kept from a refused sign-in")
			}

			// The same administrator's next, sound sign-in works.
			token2 := w.invite(t, "inv-ok-"+string(defect))
			if v := w.deviceSignIn(t, token2, entra.ContosoAdmin); v.Step != wizard.StepAcquired || v.TenantID != entra.ContosoTenantID {
				t.Fatalf("a sound sign-in after the bad one: %+v", v)
			}
		})
	}
}

// The identity adapter's own answer names the refusal, so the wizard can
// tell it from Microsoft being unavailable.
func TestBadIDTokenIsARefusal(t *testing.T) {
	t.Parallel()
	em, id := newEntra(t)
	ctx := context.Background()
	dc, err := id.StartDeviceCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := em.SpoilNextIDToken(entra.ContosoAdmin, entra.DefectSignature); err != nil {
		t.Fatal(err)
	}
	if err := em.ApproveDeviceCode(dc.UserCode, entra.ContosoAdmin); err != nil {
		t.Fatal(err)
	}
	_, err = id.PollDeviceCode(ctx, dc.DeviceCode)
	se, ok := err.(*wizard.SignInError)
	if !ok || se.Reason != wizard.ReasonTokenRefused {
		t.Fatalf("poll with a forged ID token: %v, want %s", err, wizard.ReasonTokenRefused)
	}
}

// Consent that Microsoft's token service does not see yet (the emulator's
// propagation window: 700016, then tokens without roles) is waited for:
// the callback shows "finishing", the status route proves it again as the
// page asks, and the invitation completes without a second consent.
func TestWizardWaitsForConsentToPropagate(t *testing.T) {
	t.Parallel()
	w := newWizardWorld(t)
	ctx := context.Background()
	token := w.invite(t, "inv-propagation")
	binding := wizard.NewBinding()
	if v := w.deviceSignInAs(t, token, binding, entra.ContosoAdmin); v.Step != wizard.StepAcquired {
		t.Fatalf("sign-in: %+v", v)
	}
	open, err := w.svc.Open(ctx, token, binding)
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.svc.Continue(ctx, token, binding, open.FormToken)
	if err != nil || !strings.Contains(res.Redirect, "/v2.0/adminconsent?") {
		t.Fatalf("continue: %+v, %v", res, err)
	}
	u, err := url.Parse(res.Redirect)
	if err != nil {
		t.Fatal(err)
	}
	// The administrator accepts; Microsoft takes a while to pass it on.
	if err := w.em.SetConsentPropagation(entra.ContosoTenantID, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := w.em.GrantAdminConsent(entra.ContosoTenantID, clientID); err != nil {
		t.Fatal(err)
	}
	res, err = w.svc.HandleCallback(ctx, wizard.Callback{State: u.Query().Get("state"), AdminConsent: "True", Tenant: entra.ContosoTenantID}, binding)
	if err != nil || res.View.Step != wizard.StepFinishing {
		t.Fatalf("callback while Microsoft catches up: %+v, %v", res, err)
	}
	v := res.View
	for range 100 {
		if v.Step != wizard.StepFinishing {
			break
		}
		// Microsoft's clock is the wizard's: the retry's wait passes for both.
		w.clock.advance(v.RetryIn)
		if v, err = w.svc.Poll(ctx, token, binding); err != nil {
			t.Fatal(err)
		}
	}
	if v.Step != wizard.StepActivated || v.TenantID != entra.ContosoTenantID {
		t.Fatalf("after Microsoft caught up: %+v", v)
	}
	inv, err := w.store.GetInvitation(ctx, "inv-propagation")
	if err != nil || inv.Status != upgrade.InvitationAuthenticationComplete || len(memory.Announced[event.AuthenticationCompleted](w.store)) != 1 {
		t.Fatalf("invitation %s (%v), %d events", inv.Status, err, len(memory.Announced[event.AuthenticationCompleted](w.store)))
	}
	if a, err := w.store.GetAttempt(ctx, "inv-propagation"); err != nil || a.Redirects != 1 {
		t.Fatalf("%d consent redirects (%v), want the one", a.Redirects, err)
	}
}
