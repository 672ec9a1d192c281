package wizard_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

// consentAsked signs an administrator of tenant A in and sends them to
// admin consent, which has not been given: it returns the world, the link
// token, the browser's binding and form token, and the consent state.
func consentAsked(t *testing.T) (w *world, tok, binding, form, state string) {
	t.Helper()
	w = newWorld(t, 0)
	tok = w.invite(t, "inv1")
	binding, form = w.signedIn(t, tok, tenantA)
	return w, tok, binding, form, w.consentState(t, tok, binding, form)
}

// Consent came back while Microsoft's token service does not see it yet:
// the callback shows "finishing", the status route proves it again with a
// growing wait and no counted attempt, and the invitation completes once
// an app token carries the roles.
func TestConsentIsProvenOnceMicrosoftSeesIt(t *testing.T) {
	t.Parallel()
	w, tok, binding, form, state := consentAsked(t)
	ctx := context.Background()
	redirects := func() int {
		t.Helper()
		a, err := w.store.GetAttempt(ctx, "inv1")
		if err != nil {
			t.Fatal(err)
		}
		return a.Redirects
	}
	before := redirects()

	res, err := w.svc.HandleCallback(ctx, consented(state, tenantA), binding)
	if err != nil || res.View.Step != wizard.StepFinishing || res.View.RetryIn <= 0 || res.View.Token != tok {
		t.Fatalf("callback: %+v, %v", res, err)
	}
	calls := w.ms.appCall.Load()
	// Asked again before the wait: nothing goes to Microsoft.
	if v, err := w.svc.Poll(ctx, tok, binding); err != nil || v.Step != wizard.StepFinishing || w.ms.appCall.Load() != calls {
		t.Fatalf("early poll: %+v, %v (%d app calls)", v, err, w.ms.appCall.Load()-calls)
	}
	// The waits grow while Microsoft lags.
	var waits []time.Duration
	for range 6 {
		w.clock.advance(res.View.RetryIn)
		v, err := w.svc.Poll(ctx, tok, binding)
		if err != nil || v.Step != wizard.StepFinishing {
			t.Fatalf("poll while Microsoft lags: %+v, %v", v, err)
		}
		res.View = v
		waits = append(waits, v.RetryIn)
	}
	if w.ms.appCall.Load() != calls+6 || waits[5] <= waits[0] {
		t.Fatalf("%d app calls, waits %v: want one call per due poll and growing waits", w.ms.appCall.Load()-calls, waits)
	}
	// "Continue" meanwhile waits too, rather than sending the administrator
	// to consent again.
	cont, err := w.svc.Continue(ctx, tok, binding, form)
	if err != nil || cont.Redirect != "" || cont.View.Step != wizard.StepFinishing {
		t.Fatalf("continue while finishing: %+v, %v", cont, err)
	}
	w.ms.grant(tenantA, wizard.Grant{TenantID: tenantA, Roles: []string{roleCall, roleOrg}})
	w.clock.advance(time.Minute)
	v, err := w.svc.Poll(ctx, tok, binding)
	if err != nil || v.Step != wizard.StepActivated || v.TenantID != tenantA {
		t.Fatalf("poll once Microsoft sees the consent: %+v, %v", v, err)
	}
	if inv := w.store.invitation("inv1"); inv.Status != upgrade.InvitationAuthenticationComplete || len(w.pub.published()) != 1 {
		t.Fatalf("invitation %s, %d events", inv.Status, len(w.pub.published()))
	}
	if redirects() != before {
		t.Fatalf("finishing counted %d attempts", redirects()-before)
	}
}

// Past the window, consent is reported missing, and "Continue" leads to
// consent again.
func TestConsentNeverSeenIsReportedMissing(t *testing.T) {
	t.Parallel()
	w, tok, binding, form, state := consentAsked(t)
	ctx := context.Background()
	if res, err := w.svc.HandleCallback(ctx, consented(state, tenantA), binding); err != nil || res.View.Step != wizard.StepFinishing {
		t.Fatalf("callback: %+v, %v", res, err)
	}
	w.clock.advance(wizard.DefaultPropagationWindow + time.Second)
	v, err := w.svc.Poll(ctx, tok, binding)
	if err != nil || v.Step != wizard.StepProblem || v.Problem != wizard.ProblemConsent || !v.Back {
		t.Fatalf("poll past the window: %+v, %v", v, err)
	}
	if res, err := w.svc.Continue(ctx, tok, binding, form); err != nil || !strings.Contains(res.Redirect, "/adminconsent?") {
		t.Fatalf("continue past the window: %+v, %v", res, err)
	}
}

// Many status requests at once ask Microsoft once.
func TestConcurrentFinishingPollsProveOnce(t *testing.T) {
	t.Parallel()
	w, tok, binding, _, state := consentAsked(t)
	ctx := context.Background()
	if _, err := w.svc.HandleCallback(ctx, consented(state, tenantA), binding); err != nil {
		t.Fatal(err)
	}
	w.clock.advance(5 * time.Second)
	calls := w.ms.appCall.Load()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if v, err := w.svc.Poll(ctx, tok, binding); err != nil || v.Step != wizard.StepFinishing {
				t.Errorf("poll: %+v, %v", v, err)
			}
		})
	}
	wg.Wait()
	if n := w.ms.appCall.Load() - calls; n != 1 {
		t.Fatalf("%d app token requests for 8 concurrent polls, want 1", n)
	}
}
