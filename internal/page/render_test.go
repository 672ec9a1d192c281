package page_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

// hostile is a value from outside (a customer name, a UPN, a tenant ID)
// that would break out of HTML text and of either kind of quoted
// attribute if it were written unescaped.
const (
	hostile        = `<script>alert(1)</script>"'`
	hostileEscaped = `&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;`
)

// renderCase is one view of the wizard and what its page must say.
type renderCase struct {
	name       string
	wiz        fakeWizard
	route      string
	wantStatus int
	want       []string
	notWant    []string
}

// renderCases are every view the pages render, including hostile values
// where the view shows something from outside. They are shared with the
// test of the pages' markup.
func renderCases() []renderCase {
	// The attempt expires at 12:34 UTC; the page shows UTC whatever the
	// zone of the time it is given.
	expires := time.Date(2025, 3, 4, 13, 34, 0, 0, time.FixedZone("CET", 3600))
	device := func(uri string, outcome wizard.Outcome) wizard.View {
		return wizard.View{Step: wizard.StepDevice, Token: linkToken, FormToken: "f0rm",
			Device: &wizard.DeviceView{UserCode: "ABCD2345", VerificationURI: uri, ExpiresAt: expires,
				Interval: 5 * time.Second, Outcome: outcome}}
	}
	signInForms := []string{
		`<form method="post" action="/invite/` + linkToken + `/device">`,
		`<form method="post" action="/invite/` + linkToken + `/signin">`,
		`name="form" value="f0rm"`,
		`<button type="submit" id="start">Start authentication</button>`,
		`<button type="submit" id="signin" class="secondary">Sign in with Microsoft</button>`,
	}
	// A page that does not follow a device sign-in loads no script.
	noPolling := []string{"<script", "<noscript", `id="progress"`}
	return []renderCase{
		{name: "neutral", wiz: fakeWizard{err: wizard.ErrNeutral}, route: "GET /invite/{token}", wantStatus: http.StatusNotFound,
			want: []string{"<title>Token Invitation wizard - Live Platform</title>", `<p class="brand">Live Platform</p>`,
				"<h1>Token Invitation wizard</h1>", "This link is not valid.",
				"ask Live Platform to send you a new invitation."},
			notWant: append([]string{"<form", linkToken}, noPolling...)},
		{name: "expired form", wiz: fakeWizard{err: wizard.ErrForm}, route: "POST /invite/{token}/device", wantStatus: http.StatusForbidden,
			want:    []string{`<p role="alert">This page has expired.`},
			notWant: append([]string{"<form"}, noPolling...)},
		{name: "error", wiz: fakeWizard{err: errors.New("dynamodb: " + hostile)}, route: "GET /invite/{token}",
			wantStatus: http.StatusInternalServerError,
			want:       []string{`<p role="alert">Something went wrong on our side.`},
			// The detail of a failure is only logged.
			notWant: []string{"dynamodb", "alert(1)"}},
		{name: "welcome", route: "GET /invite/{token}", wantStatus: http.StatusOK,
			wiz: fakeWizard{view: wizard.View{Step: wizard.StepWelcome, Token: linkToken, FormToken: "f0rm",
				CustomerName: hostile, ServiceName: "Teams Phone " + hostile, License: upgrade.Pro}},
			want: append([]string{"Welcome to the Token Invitation wizard.",
				"Live Platform is upgrading <strong>" + hostileEscaped + "</strong>",
				"(service <strong>Teams Phone " + hostileEscaped + "</strong>, OC Pro) to Operator Connect Pro.",
				"<h2>What will happen</h2>", "<h2>Sign in</h2>"}, signInForms...),
			notWant: append([]string{"<script>alert"}, noPolling...)},
		{name: "welcome without an upgrade", route: "GET /invite/{token}", wantStatus: http.StatusOK,
			wiz:     fakeWizard{view: wizard.View{Step: wizard.StepWelcome, Token: linkToken, FormToken: "f0rm"}},
			want:    append([]string{"<p>Welcome to the Token Invitation wizard.</p>"}, signInForms...),
			notWant: []string{"is upgrading", "<strong>"}},
		{name: "welcome with a service and no license", route: "GET /invite/{token}", wantStatus: http.StatusOK,
			wiz: fakeWizard{view: wizard.View{Step: wizard.StepWelcome, Token: linkToken, FormToken: "f0rm",
				CustomerName: "Contoso", ServiceName: "svc-1"}},
			want: []string{"Live Platform is upgrading <strong>Contoso</strong> (service <strong>svc-1</strong>) to Operator Connect Pro."}},
		{name: "device code waiting", route: "POST /invite/{token}/device", wantStatus: http.StatusOK,
			wiz: fakeWizard{view: device("https://microsoft.com/devicelogin", wizard.OutcomeNone)},
			want: []string{
				`<script src="/assets/wizard.js" defer></script>`,
				`<noscript><meta http-equiv="refresh" content="5;url=/invite/` + linkToken + `/status"></noscript>`,
				`<input id="usercode" class="usercode" type="text" readonly value="ABCD2345" aria-describedby="usercode-hint">`,
				`<p id="usercode-hint" class="hint">The code expires at 12:34 UTC.</p>`,
				`<a class="button" id="verify" href="https://microsoft.com/devicelogin" target="_blank" rel="noopener noreferrer">Open https://microsoft.com/devicelogin</a>`,
				`<p id="progress" role="status" aria-live="polite" data-status="/invite/` + linkToken + `/status" data-interval="5000">`,
			},
			notWant: []string{`id="problem"`, `id="start"`}},
		{name: "device code with a hostile verification URI", route: "POST /invite/{token}/device", wantStatus: http.StatusOK,
			wiz:     fakeWizard{view: device("javascript:alert(1)", wizard.OutcomeNone)},
			want:    []string{`id="verify" href="`, "Open javascript:alert(1)</a>"},
			notWant: []string{`href="javascript:`}},
		{name: "device code with a verification URI that closes the attribute", route: "POST /invite/{token}/device",
			wantStatus: http.StatusOK, wiz: fakeWizard{view: device(`https://microsoft.com/devicelogin"><script>alert(1)</script>`, wizard.OutcomeNone)},
			want:    []string{`id="verify" href="https://microsoft.com/devicelogin`},
			notWant: []string{`devicelogin">`, "<script>alert"}},
		{name: "device code blocked", route: "GET /invite/{token}/status", wantStatus: http.StatusOK,
			wiz: fakeWizard{view: device("https://microsoft.com/devicelogin", wizard.OutcomeBlocked)},
			want: append([]string{`<p role="alert" id="problem">Your organization&#39;s Conditional Access policy blocks sign-in with a code.`},
				signInForms...),
			notWant: append([]string{`id="usercode"`, `id="verify"`}, noPolling...)},
		{name: "token acquired", route: "GET /invite/{token}", wantStatus: http.StatusOK,
			wiz: fakeWizard{view: wizard.View{Step: wizard.StepAcquired, Token: linkToken, FormToken: "f0rm", UPN: hostile}},
			want: []string{
				`<p class="ok" role="status" id="acquired">The Token Invitation wizard has successfully acquired a token for <strong>` +
					hostileEscaped + `</strong>.</p>`,
				`<form method="post" action="/invite/` + linkToken + `/continue">`,
				`<input type="hidden" name="form" value="f0rm">`,
				`<button type="submit" id="continue">Click here to continue the authentication process</button>`,
			},
			notWant: append([]string{"<script>alert"}, noPolling...)},
		{name: "token acquired without a UPN", route: "GET /invite/{token}", wantStatus: http.StatusOK,
			wiz:  fakeWizard{view: wizard.View{Step: wizard.StepAcquired, Token: linkToken, FormToken: "f0rm"}},
			want: []string{`id="acquired">The Token Invitation wizard has successfully acquired a token.</p>`}},
		{name: "Tenant Activation", route: "GET /consent/callback", wantStatus: http.StatusOK,
			wiz: fakeWizard{result: wizard.Result{View: wizard.View{Step: wizard.StepActivated, Token: linkToken,
				TenantID: "tenant-" + hostile, UPN: hostile, Granted: []string{"Organization.Read.All", "User.Read.All"}}}},
			want: []string{"<title>Tenant Activation - Live Platform</title>", "<h1>Tenant Activation</h1>",
				`<p class="ok" role="status" id="activated">The Token authentication process has successfully completed.</p>`,
				"Your tenant is now activated for Live Platform. Live Platform can continue the upgrade of your service.",
				"<dt>Tenant ID</dt><dd>tenant-" + hostileEscaped + "</dd>",
				"<dt>Authenticated by</dt><dd>" + hostileEscaped + "</dd>",
				"<dt>Granted permissions</dt><dd>Organization.Read.All, User.Read.All</dd>"},
			notWant: append([]string{"<script>alert", "<form"}, noPolling...)},
		{name: "Tenant Activation with nothing to list", route: "GET /consent/callback", wantStatus: http.StatusOK,
			wiz:     fakeWizard{result: wizard.Result{View: wizard.View{Step: wizard.StepActivated}}},
			want:    []string{`id="activated"`, "<dl>"},
			notWant: []string{"<dt>"}},
		{name: "problem with a code and a way back", route: "GET /consent/callback", wantStatus: http.StatusBadRequest,
			wiz: fakeWizard{result: wizard.Result{View: wizard.View{Step: wizard.StepProblem, Token: linkToken,
				Problem: wizard.ProblemMicrosoft, Code: "50076", Back: true}}},
			want: []string{"<title>Authentication not completed - Live Platform</title>",
				`<p role="alert" id="problem">Microsoft could not complete the sign-in. Go back and try again.</p>`,
				`<p class="code">Microsoft error: AADSTS50076</p>`,
				`<a class="button" href="/invite/` + linkToken + `">Back to the Token Invitation wizard</a>`},
			notWant: noPolling},
		{name: "problem without a code or a way back", route: "GET /consent/callback", wantStatus: http.StatusBadRequest,
			wiz: fakeWizard{result: wizard.Result{View: wizard.View{Step: wizard.StepProblem, Token: linkToken,
				Problem: wizard.ProblemState}}},
			want:    []string{`<p role="alert" id="problem">This sign-in response is not valid any more.`},
			notWant: []string{`class="code"`, "Back to the Token Invitation wizard", "<a "}},
		{name: "problem with a hostile code", route: "GET /consent/callback", wantStatus: http.StatusBadRequest,
			wiz: fakeWizard{result: wizard.Result{View: wizard.View{Step: wizard.StepProblem, Problem: wizard.ProblemMicrosoft,
				Code: hostile}}},
			want:    []string{`<p class="code">Microsoft error: AADSTS` + hostileEscaped + `</p>`},
			notWant: []string{"<script>alert"}},
		{name: "too many attempts", route: "GET /consent/callback", wantStatus: http.StatusTooManyRequests,
			wiz:  fakeWizard{result: wizard.Result{View: wizard.View{Step: wizard.StepProblem, Problem: wizard.ProblemTooMany}}},
			want: []string{`id="problem">There were too many attempts with this link.`}},
	}
}

// inlineCode finds what the Content-Security-Policy would block: a script
// element without src, a style element or attribute, or an event handler
// attribute.
var inlineCode = regexp.MustCompile(`(?i)<script(\s[^>]*)?>[^<]|<script>|<style|\sstyle=|\son[a-z]+=`)

// Each view renders its markup, with every value from outside escaped and
// nothing inline that the policy would block.
func TestRenderViews(t *testing.T) {
	t.Parallel()
	for _, tt := range renderCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			h := newHandler(t, "https://invite.example.net", &tt.wiz, &logs)
			resp, err := h.Handle(context.Background(), request(tt.route, "/invite/"+linkToken))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if !strings.HasPrefix(strings.ToLower(resp.Body), "<!doctype html>") || !strings.Contains(resp.Body, `<main id="main">`) ||
				!strings.Contains(resp.Body, `<link rel="stylesheet" href="/assets/style.css">`) {
				t.Errorf("not a whole page:\n%s", resp.Body)
			}
			for _, s := range tt.want {
				if !strings.Contains(resp.Body, s) {
					t.Errorf("lacks %s", s)
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(resp.Body, s) {
					t.Errorf("holds %s", s)
				}
			}
			if m := inlineCode.FindString(resp.Body); m != "" {
				t.Errorf("holds %q, which the policy blocks", m)
			}
			if t.Failed() {
				t.Logf("page:\n%s", resp.Body)
			}
		})
	}
}

// A view the page cannot render (a device step without its attempt) is a
// failure on our side: a generic page and a log line, never half a page.
func TestRenderFailure(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	wiz := &fakeWizard{view: wizard.View{Step: wizard.StepDevice, Token: linkToken}}
	h := newHandler(t, "https://invite.example.net", wiz, &logs)
	resp, err := h.Handle(context.Background(), request("GET /invite/{token}", "/invite/"+linkToken))
	if err != nil {
		t.Fatal(err)
	}
	want := "<!doctype html><title>Error</title><p>Something went wrong on our side.</p>"
	if resp.StatusCode != http.StatusInternalServerError || resp.Body != want {
		t.Errorf("status %d, body:\n%s", resp.StatusCode, resp.Body)
	}
	if resp.Headers["Content-Security-Policy"] != wantCSP {
		t.Errorf("headers %v", resp.Headers)
	}
	if !strings.Contains(logs.String(), "render page") {
		t.Errorf("no log of the failure:\n%s", logs.String())
	}
}
