package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ocpro/upgrade/infra/entra"
)

// The console's actions that change or end a link, and a double submission
// of the Onboarding wizard (guide steps 6 and 8): two submits in the same
// instant create one upgrade, Regenerate mails a new AuthURL and kills the
// old one, Revoke kills the link, each asked for once with a confirmation.
func TestConsoleLinkActions(t *testing.T) {
	t.Parallel()
	ctx := newConsoleChrome(t)
	api := portal(t, entra.DefaultStaffOperator)
	cust := newCustomer(t, api)
	name, id := cust["name"].(string), cust["id"].(string)
	consoleSignIn(t, ctx, env.StaffUser, "customer-name", false)

	// The wizard's form is submitted twice before the page can disable its
	// button, as a double click on a slow machine does.
	err := chromedp.Do(ctx,
		chromedp.Navigate(env.APIURL+"/console/tenants"),
		chromedp.Click(chromedp.Search(fmt.Sprintf(`//a[@aria-label=%q]`, "Upgrade Customer: "+name))),
		chromedp.WaitVisible(chromedp.ID("fullName")),
		chromedp.SendKeys(chromedp.ID("fullName"), "Contoso Teams calling"),
		chromedp.SendKeys(chromedp.ID("shortName"), unique("twice")),
		chromedp.SendKeys(chromedp.ID("users"), "10"),
		chromedp.SendKeys(chromedp.ID("adminEmail"), adminAddress()),
		chromedp.Click(chromedp.CSS(`input[value="OC_PRO"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	keys := idempotencyKeys(t, ctx, "/v1/customers/"+id+"/upgrades")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`(() => { const f = document.getElementById("create-upgrade").form; f.requestSubmit(); f.requestSubmit(); return true })()`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("upgrade-created")), consoleShot("double-submit")); err != nil {
		t.Fatal(err)
	}
	if n := upgradesOf(t, api, id); n != 1 {
		t.Fatalf("two submits made %d upgrades", n)
	}
	// Both requests went out, as one intended change: the same key, so the
	// API answers the second with the first's result, not "short name taken".
	if ks := keys(); len(ks) != 2 || ks[0] == "" || ks[0] != ks[1] {
		t.Fatalf("the two submits sent the Idempotency-Keys %q, want the same key twice", ks)
	}
	eventually(t, ctx, "no error after the second submit", `document.querySelector("[role=alert]") === null`)

	if err := chromedp.Do(ctx, clickText("a", "Open in Customer Invitations"), chromedp.WaitVisible(chromedp.CSS("a.authurl"))); err != nil {
		t.Fatal(err)
	}
	first := authURLShown(t, ctx)
	if s := linkStatus(t, first); s != http.StatusOK {
		t.Fatalf("the new link answers %d", s)
	}
	// The page asks before it changes a link; the person says yes.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { window.confirm = () => true; return true })()`)); err != nil {
		t.Fatal(err)
	}

	// Regenerate: a new AuthURL, and the old one no longer opens the wizard.
	if err := chromedp.Do(ctx, clickText("button", "Regenerate")); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the regenerated link", has(".invitation .notice", "A new link is made")+
		fmt.Sprintf(` && document.querySelector("a.authurl") !== null && document.querySelector("a.authurl").href !== %q`, first))
	second := authURLShown(t, ctx)
	if s := linkStatus(t, first); s == http.StatusOK {
		t.Errorf("the link before Regenerate still opens the wizard")
	}
	if s := linkStatus(t, second); s != http.StatusOK {
		t.Errorf("the regenerated link answers %d", s)
	}
	_ = chromedp.Do(ctx, consoleShot("regenerated"))
	accessible(t, ctx, "Customer Invitations after Regenerate")

	// Revoke: the link ends at once and the card says so.
	if err := chromedp.Do(ctx, clickText("button", "Revoke")); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the revoked invitation", has(".invitation .notice", "The link is revoked")+
		` && `+has(".invitation .status", "Revoked")+` && `+has(".invitation td", "No working link"))
	if s := linkStatus(t, second); s == http.StatusOK {
		t.Errorf("the revoked link still opens the wizard")
	}
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](has(".invitation button", "Revoke"))); err != nil || ok {
		t.Errorf("a revoked invitation still offers its actions (%v)", err)
	}
	_ = chromedp.Do(ctx, consoleShot("revoked"))
	accessible(t, ctx, "Customer Invitations after Revoke")
}

// A member of the operator's tenant who is not its staff signs in: the
// API refuses the token (no operator claim), and the console says why and
// what to ask for instead of showing empty pages.
func TestConsoleRefusesAnAccountWithoutAccess(t *testing.T) {
	t.Parallel()
	ctx := newConsoleChrome(t)
	user := unique("not-staff-") + "@" + env.StaffUser[strings.IndexByte(env.StaffUser, '@')+1:]
	if _, err := env.Entra.AddUser(entra.User{TenantID: entra.DefaultOperatorTenantID, UserPrincipalName: user, DisplayName: "Not staff"}); err != nil {
		t.Fatal(err)
	}
	consoleSignIn(t, ctx, user, "scope-missing", false)
	if s := textOf(t, ctx, "#scope-missing"); !strings.Contains(s, "Ask an administrator") {
		t.Errorf("the page says %q", s)
	}
	_ = chromedp.Do(ctx, consoleShot("no-access"))
	accessible(t, ctx, "the page for an account without access")
	if err := chromedp.Do(ctx, clickText("button", "Sign out"), chromedp.WaitVisible(chromedp.ID("signin"))); err != nil {
		t.Fatal(err)
	}
}

// upgradesOf counts the operator's upgrades of one customer.
func upgradesOf(t *testing.T, api *client, customerID string) int {
	t.Helper()
	n := 0
	path := "/v1/upgrades?limit=100"
	for {
		page := must(t, api.do(http.MethodGet, path, nil), http.StatusOK)
		items, _ := page["items"].([]any)
		for _, it := range items {
			if up, _ := it.(map[string]any); up["customerId"] == customerID {
				n++
			}
		}
		next, _ := page["nextCursor"].(string)
		if next == "" {
			return n
		}
		path = "/v1/upgrades?limit=100&cursor=" + url.QueryEscape(next)
	}
}

// authURLShown is the AuthURL the invitation card links to.
func authURLShown(t *testing.T, ctx context.Context) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("a.authurl"), "href"))
	if err != nil || v.Value == "" {
		t.Fatalf("AuthURL %q: %v", v.Value, err)
	}
	rememberLink(v.Value)
	return v.Value
}

// idempotencyKeys records the Idempotency-Key of every POST the page sends
// to the path from now on, and returns a function reading them so far.
func idempotencyKeys(t *testing.T, ctx context.Context, path string) func() []string {
	t.Helper()
	var mu sync.Mutex
	var keys []string
	err := chromedp.Listen(ctx, func(ev any) {
		req, ok := ev.(*network.EventRequestWillBeSent)
		if !ok || req.Request.Method != http.MethodPost || !strings.HasSuffix(strings.SplitN(req.Request.URL, "?", 2)[0], path) {
			return
		}
		key := ""
		for k, v := range req.Request.Headers {
			if strings.EqualFold(k, "Idempotency-Key") {
				key = fmt.Sprint(v)
			}
		}
		mu.Lock()
		keys = append(keys, key)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), keys...)
	}
}
