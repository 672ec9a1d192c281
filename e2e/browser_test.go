package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ocpro/upgrade/infra/entra"
)

// chromium finds the browser. Without one the browser tests skip, unless
// OCPRO_REQUIRE_BROWSER=1 (make test sets it), when they fail.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("OCPRO_REQUIRE_BROWSER") == "1" {
		t.Fatal("chromium is missing and OCPRO_REQUIRE_BROWSER=1: run make deps")
	}
	t.Skip("chromium is not installed: browser tests skipped (make test installs it)")
	return ""
}

// newChrome starts a headless Chromium with a fresh profile. The emulator
// serves https with its own CA; the browser is told to accept certificate
// errors rather than having the CA installed, because installing a CA would
// change the machine (only the emulator serves https here).
func newChrome(t *testing.T) context.Context {
	t.Helper()
	return chromeOfSize(t, 412, 915, 90*time.Second, shot) // A phone.
}

// chromeOfSize starts the browser with a window of the given size for at
// most limit; a failed test leaves a picture of where the browser stopped,
// taken with snap.
func chromeOfSize(t *testing.T, width, height int, limit time.Duration, snap func(string) chromedp.Action[chromedp.Void]) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)), chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.Flag("ignore-certificate-errors", true),
		chromedp.WindowSize(width, height),
	}
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, limit)
	t.Cleanup(cancel)
	t.Cleanup(func() {
		if t.Failed() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = chromedp.Do(sctx, snap("failed-"+t.Name())) // Best effort: the browser may be gone.
		}
	})
	return ctx
}

// shot saves a screenshot under test-artifacts/browser/.
func shot(name string) chromedp.Action[chromedp.Void] { return screenshot("browser", name) }

// screenshot saves a PNG (quality 100 makes PNG) under test-artifacts/dir/.
func screenshot(dir, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		buf, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return err
		}
		dir := filepath.Join("..", "test-artifacts", dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	})
}

// signInPages fills the emulator's sign-in and MFA pages.
func signInPages(user string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), user),
		chromedp.SendKeys(chromedp.ID("passwd"), entra.DefaultPassword),
		chromedp.Click(chromedp.ID("idSIButton9")),
		chromedp.WaitVisible(chromedp.ID("idApprove")),
		chromedp.Click(chromedp.ID("idApprove")),
	)
}

// acceptConsent accepts the emulator's consent page once it shows its
// list of permissions. The admin consent page comes with "Consent on
// behalf of your organization" already ticked, as Microsoft's does.
func acceptConsent() chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS("main ul")),
		chromedp.Click(chromedp.ID("idSIButton9")),
	)
}

// text reads an element's text, failing the test on error.
func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("read #%s: %v", id, err)
	}
	return s
}

// The administrator's whole path, "Sign in with Microsoft" way, from the
// link to the Tenant Activation page, on a phone-sized screen.
func TestBrowserSignInWithMicrosoft(t *testing.T) {
	t.Parallel()
	ctx := newChrome(t)
	c := portal(t, unique("op-br-"))
	tn := newTenant(t)
	id, authURL := invitationIn(t, c, tn)
	err := chromedp.Do(ctx,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.ID("signin")), shot("signin-1-welcome"),
		chromedp.Click(chromedp.ID("signin")),
		signInPages(tn.admin),
		acceptConsent(),
		chromedp.WaitVisible(chromedp.ID("acquired")), shot("signin-2-acquired"),
	)
	if err != nil {
		t.Fatal(err)
	}
	acquired := text(t, ctx, "acquired")
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("continue")),
		chromedp.WaitVisible(chromedp.CSS("input[name=consent_org]:checked")), shot("signin-3-consent"),
		acceptConsent(),
		chromedp.WaitVisible(chromedp.ID("activated")), shot("signin-4-activated"),
	)
	if err != nil {
		t.Fatal(err)
	}
	done := text(t, ctx, "activated")
	if !strings.Contains(acquired, "successfully acquired a token") || !strings.Contains(done, "successfully completed") {
		t.Fatalf("pages said %q then %q", acquired, done)
	}
	if s := invitationStatus(t, c, id); s["status"] != "AUTHENTICATION_COMPLETE" {
		t.Fatalf("invitation %v", s)
	}
}

// The device code way (guide steps 10-20), as the administrator does it:
// the wizard shows the code and Microsoft's link; in a second tab the
// administrator opens the link, types the code, signs in, approves the MFA
// request, confirms "Are you trying to sign in to …?" and consents for
// themselves; the wizard's own script notices, shows "successfully acquired
// a token", and admin consent leads to the Tenant Activation page.
func TestBrowserDeviceCode(t *testing.T) {
	t.Parallel()
	ctx := newChrome(t)
	c := portal(t, unique("op-brd-"))
	tn := newTenant(t)
	id, authURL := invitationIn(t, c, tn)
	err := chromedp.Do(ctx,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.ID("start")), shot("device-1-welcome"),
		chromedp.Click(chromedp.ID("start")),
		chromedp.WaitVisible(chromedp.ID("usercode")), shot("device-2-code"),
	)
	if err != nil {
		t.Fatal(err)
	}
	code, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("usercode")))
	if err != nil {
		t.Fatal(err)
	}
	verify, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("verify"), "href"))
	if err != nil || !strings.HasPrefix(verify.Value, env.EntraURL+"/devicelogin") {
		t.Fatalf("verification link %q: %v", verify.Value, err)
	}

	// A second tab of the same browser: Microsoft's pages, by hand.
	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	err = chromedp.Do(tab,
		chromedp.Navigate(verify.Value),
		chromedp.WaitVisible(chromedp.ID("otc")),
		chromedp.SendKeys(chromedp.ID("otc"), code), shot("device-3-enter-code"),
		chromedp.Click(chromedp.ID("idSIButton9")),
		signInPages(tn.admin),
		chromedp.WaitVisible(chromedp.CSS("button[value=continue]")), shot("device-4-are-you-trying"),
		chromedp.Click(chromedp.CSS("button[value=continue]")),
		// The app was never used in this tenant: the administrator
		// consents for themselves, as Microsoft asks on first use.
		acceptConsent(),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "You have signed in")]`)), shot("device-5-signed-in"),
	)
	if err != nil {
		t.Fatal(err)
	}

	// Back in the first tab, the page's script follows the sign-in.
	err = chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("acquired")), shot("device-6-acquired"))
	if err != nil {
		t.Fatal(err)
	}
	if acquired := text(t, ctx, "acquired"); !strings.Contains(acquired, "successfully acquired a token") || !strings.Contains(acquired, tn.admin) {
		t.Fatalf("the wizard said %q", acquired)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("continue")),
		chromedp.WaitVisible(chromedp.CSS("input[name=consent_org]:checked")), shot("device-7-consent"),
		acceptConsent(),
		chromedp.WaitVisible(chromedp.ID("activated")), shot("device-8-activated"),
	)
	if err != nil {
		t.Fatal(err)
	}
	done := text(t, ctx, "activated")
	if s := invitationStatus(t, c, id); s["status"] != "AUTHENTICATION_COMPLETE" || s["authenticatedBy"] != tn.admin ||
		!strings.Contains(done, "successfully completed") {
		t.Fatalf("invitation %v, page %q", s, done)
	}
}

// A Fabrikam administrator opens a Contoso customer's link in a browser,
// signs in and consents in Fabrikam: the wizard does not complete but says
// the operator must confirm the tenant, naming it, and the invitation
// waits for staff.
func TestBrowserWrongTenantWaitsForStaff(t *testing.T) {
	t.Parallel()
	ctx := newChrome(t)
	c := portal(t, unique("op-brw-"))
	contoso, fabrikam := newTenant(t), newTenant(t)
	id, authURL := invitationIn(t, c, contoso)
	err := chromedp.Do(ctx,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.ID("signin")),
		chromedp.Click(chromedp.ID("signin")),
		signInPages(fabrikam.admin),
		acceptConsent(),
		chromedp.WaitVisible(chromedp.ID("continue")),
		chromedp.Click(chromedp.ID("continue")),
		chromedp.WaitVisible(chromedp.CSS("input[name=consent_org]:checked")),
		acceptConsent(),
		chromedp.WaitVisible(chromedp.ID("confirming")), shot("wrong-tenant-confirming"),
	)
	if err != nil {
		t.Fatal(err)
	}
	page, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"must confirm that this tenant belongs to the customer", fabrikam.name, fabrikam.id, fabrikam.domain} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "successfully completed") {
		t.Errorf("page says completed:\n%s", page)
	}
	if s := invitationStatus(t, c, id); s["status"] != "AWAITING_CONFIRMATION" || s["tenantId"] != fabrikam.id {
		t.Fatalf("invitation %v, want AWAITING_CONFIRMATION in %s", s, fabrikam.id)
	}
}
