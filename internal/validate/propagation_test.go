package validate_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/entra"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/validate"
)

type movingClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *movingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *movingClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Right after consent, Microsoft answers 700016 and then role-less tokens
// for a while (the emulator's propagation window, one minute here). The
// validation reports both as transient while consent is recent, never
// keeps the role-less token in MSAL's cache, and passes once Microsoft
// sees the consent. Long after consent, the same answers are permanent.
func TestConsentPropagationIsTransient(t *testing.T) {
	t.Parallel()
	// The emulator's clock runs behind: the token checks use the real
	// time, and tokens from a clock ahead of it would not be valid yet.
	clock := &movingClock{now: time.Now().UTC().Add(-5 * time.Minute)}
	f := newFixtureWith(t, entra.Config{Now: clock.Now, ConsentPropagation: time.Minute})
	em, base := f.em, f.base
	newChecker := func() *validate.Checker {
		c, err := validate.New(validate.Config{AuthorityHost: base, ClientID: clientID, Secret: staticSecret(secret), GraphBaseURL: base,
			HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: em.Client().Transport}, Clock: clock.Now,
			RequiredRoles: []string{"Organization.Read.All"}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := newChecker()
	must(t, em.GrantAdminConsent(entra.ContosoTenantID, clientID))
	ref := contoso
	ref.InvitationID, ref.ConsentedAt = "", clock.Now()

	check := func(when string, wantPass bool, wantCode string, wantTransient bool) {
		t.Helper()
		v, err := c.Validate(context.Background(), ref)
		if err != nil {
			t.Fatal(err)
		}
		a := v.Application
		if a.Passed != wantPass {
			t.Fatalf("%s: passed = %v (%+v), want %v", when, a.Passed, a.Failure, wantPass)
		}
		if wantPass {
			return
		}
		if a.Failure.Code != wantCode || a.Failure.Transient != wantTransient || (wantTransient && a.Failure.RetryAfter <= 0) {
			t.Fatalf("%s: failure %+v, want %s transient %v", when, a.Failure, wantCode, wantTransient)
		}
	}
	check("10 s after consent (700016)", false, upgrade.FailureAppNotInTenant, true)
	clock.advance(30 * time.Second)
	check("40 s after consent (no roles yet)", false, upgrade.FailureMissingPermissions, true)
	clock.advance(30 * time.Second)
	check("70 s after consent (Microsoft sees it)", true, "", false)

	// Long after consent the same answers mean what they say (a new
	// container: a token cached before the revocation stays valid until
	// it expires, at Microsoft too).
	must(t, em.RevokeConsent(entra.ContosoTenantID, clientID))
	clock.advance(validate.PropagationWindow)
	c = newChecker()
	check("consent revoked long after it was given", false, upgrade.FailureAppNotInTenant, false)
}
