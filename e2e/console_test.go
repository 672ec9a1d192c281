package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ocpro/upgrade/infra/entra"
	"github.com/ocpro/upgrade/infra/stack"
)

// consoleShots numbers the walk's screenshots in the order they are taken.
var consoleShots atomic.Int32

// consoleShot saves a screenshot under test-artifacts/console/, numbered in
// the order the walk takes them.
func consoleShot(name string) chromedp.Action[chromedp.Void] {
	return screenshot("console", fmt.Sprintf("%02d-%s", consoleShots.Add(1), name))
}

// newConsoleChrome starts a headless Chromium at a desktop width and logs
// what the page reports as errors, which helps when the walk stops.
func newConsoleChrome(t *testing.T) context.Context {
	t.Helper()
	ctx := chromeOfSize(t, 1280, 900, 3*time.Minute, consoleShot)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				t.Logf("browser console %s: %s", m.Type, m.Text)
			}
		}
	}()
	return ctx
}

// axeSource is axe-core, pinned in console/package-lock.json.
var axeSource = func() func(t *testing.T) string {
	var src string
	return func(t *testing.T) string {
		t.Helper()
		if src == "" {
			b, err := os.ReadFile(filepath.Join("..", "console", "node_modules", "axe-core", "axe.min.js"))
			if err != nil {
				t.Fatalf("axe-core is not installed (make test runs npm ci in console/): %v", err)
			}
			src = string(b)
		}
		return src
	}
}()

// accessible runs axe-core in the page (WCAG 2.1 A and AA and axe's best
// practices) and fails the test on any violation.
func accessible(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axeSource(t)+";true")); err != nil {
		t.Fatalf("inject axe-core on %s: %v", page, err)
	}
	type violation struct {
		ID    string `json:"id"`
		Help  string `json:"help"`
		Nodes []struct {
			Target []any `json:"target"`
		} `json:"nodes"`
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}}).then(r => JSON.stringify(r.passes.length > 0 ? r.violations : [{id: "nothing-checked", help: "axe checked no rule", nodes: []}]))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe on %s: %v", page, err)
	}
	var vs []violation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		t.Fatalf("axe on %s: %v", page, err)
	}
	for _, v := range vs {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprint(n.Target...))
		}
		t.Errorf("axe on %s: %s (%s) at %s", page, v.ID, v.Help, strings.Join(where, ", "))
	}
}

// eventually waits until the script is true in the page, letting the local
// EventBridge deliver meanwhile.
func eventually(t *testing.T, ctx context.Context, what, script string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](script))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("gave up after %v waiting for %s (last error %v); the page says:\n%s", waitFor, what, err, body)
		}
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		_ = env.Bus.Drain(dctx)
		cancel()
		time.Sleep(200 * time.Millisecond)
	}
}

// textOf is the visible text of the first element the CSS selector finds.
func textOf(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("read %s: %v", css, err)
	}
	return s
}

func has(css, text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(%q)].some(e => e.innerText.includes(%q))`, css, text)
}

// typeInto empties a field as a person would (the page sees the input
// event) and types text.
func typeInto(id, text string) chromedp.Action[chromedp.Void] {
	clear := fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); return true })()`, id)
	return chromedp.Steps(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](clear)(ctx, t)
		return err
	}), chromedp.SendKeys(chromedp.ID(id), text))
}

func clickText(css, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.Search(fmt.Sprintf(`//%s[contains(normalize-space(.), %q)]`, css, text)))
}

// consoleSignIn signs in to the console with Microsoft as user and waits
// for the element with the id landing; checked also runs axe-core on the
// sign-in page.
func consoleSignIn(t *testing.T, ctx context.Context, user, landing string, checked bool) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(env.APIURL+"/"),
		chromedp.WaitVisible(chromedp.ID("signin")), consoleShot("sign-in"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if checked {
		accessible(t, ctx, "sign-in")
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), user),
		chromedp.SendKeys(chromedp.ID("passwd"), entra.DefaultPassword),
		chromedp.Click(chromedp.ID("idSIButton9")),
		chromedp.WaitVisible(chromedp.ID(landing)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if who := textOf(t, ctx, "body"); !strings.Contains(who, user) {
		t.Fatalf("header says %q", who)
	}
}

// The operator's staff walk the guide's portal steps in the console, and
// the customer's administrator the wizard pages between them: sign in with
// Microsoft (PKCE, single-page app), create a customer, Upgrade Customer in
// the Onboarding wizard (steps 1-7) meeting a bad short name, a taken one
// and the 500-user limit, find the invitation by its token with Email Sent
// (step 8) and a resend asked too soon, the administrator's sign-in and
// consent in a browser of their own (steps 9-21), Pending Invitations until
// Authentication Complete and resume (22-24), the service ACTIVE with its
// SIP connection (25-26), Validate Authentication passing and then failing
// (29), the email settings, a sign-in that expired after 24 hours, and
// sign-out. Every console page is checked with axe-core, at 1280 and 390
// pixels.
func TestConsoleWalksTheGuide(t *testing.T) {
	t.Parallel()
	ctx := newConsoleChrome(t)
	tn := newTenant(t)
	domain := tn.admin[strings.IndexByte(tn.admin, '@')+1:]
	api := portal(t, entra.DefaultStaffOperator) // The staff account's operator, for setup only.
	taken := unique("taken")
	setup := newCustomer(t, api)
	must(t, api.do(http.MethodPost, fmt.Sprintf("/v1/customers/%s/upgrades", setup["id"]), upgradeBody(taken)), http.StatusCreated)
	name := "Contoso " + unique("walk")
	short := unique("walk")

	consoleSignIn(t, ctx, env.StaffUser, "customer-name", true)

	// Tenants: create the customer (guide step 1).
	err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("customer-name"), name),
		chromedp.SendKeys(chromedp.ID("customer-domain"), domain),
		clickText("button", "Create customer"),
	)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the new customer in the list", has("tbody th", name))
	_ = chromedp.Do(ctx, consoleShot("tenants"))
	accessible(t, ctx, "Tenants")

	// Upgrade Customer opens the Onboarding wizard (steps 1-6).
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.Search(fmt.Sprintf(`//a[@aria-label=%q]`, "Upgrade Customer: "+name))),
		chromedp.WaitVisible(chromedp.ID("fullName")),
		chromedp.SendKeys(chromedp.ID("fullName"), "Contoso Teams calling"),
		chromedp.SendKeys(chromedp.ID("shortName"), "a.b"),
		chromedp.SendKeys(chromedp.ID("users"), "501"),
		chromedp.SendKeys(chromedp.ID("adminEmail"), tn.admin),
		chromedp.Click(chromedp.CSS(`input[value="OC_PRO"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	// The guide's rules as the user types, in the API's words.
	eventually(t, ctx, "the short name rule", has("#shortName-error", `cannot contain '.'`))
	eventually(t, ctx, "the user limit", has("#users-error", "between 1 and 500"))
	_ = chromedp.Do(ctx, consoleShot("wizard-rules"))
	accessible(t, ctx, "the Onboarding wizard with errors")
	// A taken short name: only the API knows, and its answer shows at the field.
	err = chromedp.Do(ctx, typeInto("shortName", strings.ToUpper(taken)), typeInto("users", "25"), chromedp.Click(chromedp.ID("create-upgrade")))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the taken short name at its field", has("#shortName-error", "Another service already uses this short name"))
	_ = chromedp.Do(ctx, consoleShot("wizard-taken"))
	err = chromedp.Do(ctx, typeInto("shortName", short), chromedp.Click(chromedp.ID("create-upgrade")), chromedp.WaitVisible(chromedp.ID("upgrade-created")))
	if err != nil {
		t.Fatal(err)
	}
	token := textOf(t, ctx, "#created-token")
	_ = chromedp.Do(ctx, consoleShot("wizard-created"))
	accessible(t, ctx, "the created upgrade")

	// Security > Customer Invitations, by token (step 8): Email Sent becomes
	// true once SES took the mail.
	if err := chromedp.Do(ctx, clickText("a", "Open in Customer Invitations"), chromedp.WaitVisible(chromedp.CSS(".invitation"))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitFor)
	for !strings.Contains(textOf(t, ctx, ".email-sent"), "true") {
		if time.Now().After(deadline) {
			t.Fatalf("Email Sent stayed %q", textOf(t, ctx, ".email-sent"))
		}
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		_ = env.Bus.Drain(dctx)
		cancel()
		if err := chromedp.Do(ctx, clickText("button", "Search"), chromedp.Sleep(300*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	authURL, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("a.authurl"), "href"))
	if err != nil || !strings.Contains(authURL.Value, "/invite/") {
		t.Fatalf("AuthURL %q: %v", authURL.Value, err)
	}
	rememberLink(authURL.Value)
	// Resend right after the Welcome mail: the API's 429 as "wait N seconds".
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("button.resend"))); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the wait after a resend too soon", has(".invitation .notice", "seconds before trying again"))
	_ = chromedp.Do(ctx, consoleShot("invitations"))
	accessible(t, ctx, "Customer Invitations")

	// The administrator, in a browser of their own, follows the mailed link
	// (steps 9-21).
	admin, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	err = chromedp.Do(admin,
		chromedp.Navigate(authURL.Value),
		chromedp.WaitVisible(chromedp.ID("signin")), consoleShot("admin-welcome"),
		chromedp.Click(chromedp.ID("signin")),
		signInPages(tn.admin),
		acceptConsent(),
		chromedp.WaitVisible(chromedp.ID("acquired")), consoleShot("admin-acquired"),
		chromedp.Click(chromedp.ID("continue")),
		chromedp.WaitVisible(chromedp.CSS("input[name=consent_org]:checked")), consoleShot("admin-consent"),
		acceptConsent(),
		chromedp.WaitVisible(chromedp.ID("activated")), consoleShot("admin-activated"),
	)
	if err != nil {
		t.Fatal(err)
	}
	cancel()

	// Pending Invitations follows the status to Authentication Complete
	// (step 22), then Upgrade resumes (23-24).
	if err := chromedp.Do(ctx, clickText("nav//a", "Pending Invitations")); err != nil {
		t.Fatal(err)
	}
	row := fmt.Sprintf(`tr[data-token=%q]`, token)
	eventually(t, ctx, "Authentication Complete", has(row+" .invitation-status", "Authentication Complete"))
	_ = chromedp.Do(ctx, consoleShot("pending"))
	accessible(t, ctx, "Pending Invitations")
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(row+" a.button")),
		chromedp.WaitVisible(chromedp.ID("resume")), consoleShot("resume"),
	)
	if err != nil {
		t.Fatal(err)
	}
	accessible(t, ctx, "resume")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("resume")), chromedp.WaitVisible(chromedp.ID("resumed"))); err != nil {
		t.Fatal(err)
	}
	if s := textOf(t, ctx, "#resumed"); !strings.Contains(s, "ACTIVE") {
		t.Fatalf("resume said %q", s)
	}

	// Services (steps 25-26), on a phone-sized screen from here on.
	err = chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844),
		clickText("a", "Service Details"),
		chromedp.WaitVisible(chromedp.ID("service-status")), consoleShot("service-details-390"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if s := textOf(t, ctx, "#service-status"); !strings.Contains(s, "ACTIVE") {
		t.Fatalf("service status %q", s)
	}
	accessible(t, ctx, "Service Details at 390 px")
	// The SIP Connections tab, by keyboard.
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.ID("tab-details")), chromedp.KeyEvent(kb.ArrowRight), chromedp.WaitVisible(chromedp.CSS(".sip-fqdn"))); err != nil {
		t.Fatal(err)
	}
	if fqdn := textOf(t, ctx, ".sip-fqdn"); !strings.HasPrefix(fqdn, strings.ToLower(short)+".") {
		t.Fatalf("SIP connection %q", fqdn)
	}
	_ = chromedp.Do(ctx, consoleShot("sip-connections-390"))
	accessible(t, ctx, "SIP Connections at 390 px")

	// M365 Settings (step 29): Validate Authentication passes, and after
	// the customer removed the application it fails with advice.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.Search(`//a[contains(., "M365 Settings")]`)),
		chromedp.WaitVisible(chromedp.ID("validate")),
		chromedp.Click(chromedp.ID("validate")),
		chromedp.WaitVisible(chromedp.ID("validation-result")),
	)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "a passed validation", has("#validation-result", "succeeded"))
	eventually(t, ctx, "the keep-alive's verdict", has("#access", "WORKING"))
	_ = chromedp.Do(ctx, consoleShot("m365-validated-390"))
	accessible(t, ctx, "M365 Settings at 390 px")
	if err := env.Entra.RevokeConsent(tn.id, stack.ServiceClientID); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("validate"))); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "a failed validation", has("#validation-result", "failed"))
	if s := textOf(t, ctx, "#validation-result"); !strings.Contains(s, "Re-initiate Authentication Flow") {
		t.Errorf("failed validation says %q", s)
	}
	_ = chromedp.Do(ctx, consoleShot("m365-failed-390"))

	// Email settings: the preview of the Welcome mail as it is sent (the
	// deployment's From name, the signature last, host names defanged),
	// a saved test recipient, and a test mail to it: test mails go only
	// to the staff member's own address or a saved test recipient.
	testTo := "it-desk@operator.example"
	err = chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		clickText("nav//a", "Email settings"),
		chromedp.WaitVisible(chromedp.CSS("pre.mail")),
		chromedp.SendKeys(chromedp.ID("test-to"), testTo),
		clickText("button", "Send test mail"),
	)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the test mail refused for a recipient not on the list", has("#test-to-error", "test recipient"))
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("mail-welcomeBody"), "\nQuestions: see help.operator.example"),
		chromedp.SendKeys(chromedp.ID("mail-testRecipients"), testTo),
		clickText("button", "Save settings"),
	)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the settings saved", has(".notice", "The settings are saved"))
	if err := chromedp.Do(ctx, clickText("button", "Send test mail")); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the test mail queued", has(".notice", "goes to "+testTo))
	s := textOf(t, ctx, "pre.mail")
	if !strings.Contains(s, "Contoso") || strings.Contains(s, "{{") || !strings.Contains(s, "help[.]operator[.]example") {
		t.Errorf("preview %q: want Contoso, no placeholder, and the host name defanged", s)
	}
	if from := textOf(t, ctx, "#preview-from"); !strings.Contains(from, "Live Platform") {
		t.Errorf("preview From %q: want the deployment's operator name", from)
	}
	_ = chromedp.Do(ctx, consoleShot("email-settings"))
	accessible(t, ctx, "Email settings")

	// A day later the single-page app's refresh token has expired
	// (AADSTS700084): the console signs in again and stays on its page.
	if n := env.Entra.AgeRefreshTokens(env.StaffUser, 25*time.Hour); n == 0 {
		t.Fatal("the staff member has no refresh token")
	}
	dropped, err := chromedp.Run(ctx, chromedp.Evaluate[int](
		`(() => { const ks = Object.keys(sessionStorage).filter(k => k.includes("accesstoken")); ks.forEach(k => sessionStorage.removeItem(k)); return ks.length })()`))
	if err != nil || dropped == 0 {
		t.Fatalf("dropping the cached access token: %d, %v", dropped, err)
	}
	if err := chromedp.Do(ctx, clickText("nav//a", "Services")); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the Services page after signing in again",
		`location.pathname === "/console/services" && `+has("main h1", "Services")+` && `+has("main tbody th", short))
	_ = chromedp.Do(ctx, consoleShot("services-after-renewal"))
	accessible(t, ctx, "Services")

	// Sign out ends the session at Microsoft's end too.
	if err := chromedp.Do(ctx, clickText("button", "Sign out"), chromedp.WaitVisible(chromedp.ID("signin"))); err != nil {
		t.Fatal(err)
	}
	_ = chromedp.Do(ctx, consoleShot("signed-out"))
}
