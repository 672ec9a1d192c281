package validate

import (
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// Admin consent takes time to reach Microsoft's token service, and its
// replicas do not all see it at once: for minutes after the wizard proved
// a tenant's consent, another app token can still be refused (AADSTS700016)
// or come without roles. Inside that window those answers are transient,
// so a validation right after consent (Authentication Completed, an early
// resume) is retried rather than reported as missing consent.

// PropagationWindow is how long after consent a refused or role-less app
// token counts as Microsoft catching up.
const PropagationWindow = 10 * time.Minute

// propagationRetry is the Retry-After given inside the window.
const propagationRetry = 30 * time.Second

// propagating marks an application failure transient when consent is
// recent enough for Microsoft not to see it yet.
func (c *Checker) propagating(t upgrade.TenantRef, r upgrade.CheckResult) upgrade.CheckResult {
	f := r.Failure
	if r.Passed || f == nil || f.Transient || t.ConsentedAt.IsZero() || c.clock().Sub(t.ConsentedAt) > PropagationWindow {
		return r
	}
	if f.Code != upgrade.FailureAppNotInTenant && f.Code != upgrade.FailureMissingPermissions {
		return r
	}
	marked := *f
	marked.Transient, marked.RetryAfter = true, propagationRetry
	marked.Reason = "The tenant consented at " + t.ConsentedAt.UTC().Format(time.RFC3339) +
		"; Microsoft can take a few minutes to let the application use it. Try again shortly. (" + f.Reason + ")"
	return upgrade.CheckResult{Failure: &marked}
}

// forgetTokens drops the MSAL client and with it its token cache, so that
// a token that failed the tenant or roles check is never served again
// from the cache: MSAL Go cannot evict one token, and it would keep a
// role-less token for its whole lifetime.
func (c *Checker) forgetTokens() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.app = nil
}
