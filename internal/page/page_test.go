package page_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/internal/page"
	"github.com/ocpro/upgrade/internal/wizard"
)

// fakeWizard answers every step with the view or result it holds, and
// remembers the binding it was given.
type fakeWizard struct {
	view    wizard.View
	result  wizard.Result
	err     error
	binding string
}

func (f *fakeWizard) Open(_ context.Context, _, binding string) (wizard.View, error) {
	f.binding = binding
	return f.view, f.err
}

func (f *fakeWizard) Poll(_ context.Context, _, binding string) (wizard.View, error) {
	f.binding = binding
	return f.view, f.err
}

func (f *fakeWizard) StartDevice(_ context.Context, _, binding, _ string) (wizard.View, error) {
	f.binding = binding
	return f.view, f.err
}

func (f *fakeWizard) StartSignIn(_ context.Context, _, binding, _ string) (wizard.Result, error) {
	f.binding = binding
	return f.result, f.err
}

func (f *fakeWizard) Continue(_ context.Context, _, binding, _ string) (wizard.Result, error) {
	f.binding = binding
	return f.result, f.err
}

func (f *fakeWizard) HandleCallback(_ context.Context, _ wizard.Callback, binding string) (wizard.Result, error) {
	f.binding = binding
	return f.result, f.err
}

const (
	authority = "https://login.microsoftonline.com"
	linkToken = "inv1.c2VjcmV0LWxpbmstbWFjLXRoYXQtbXVzdC1uZXZlci1iZS1sb2dnZWQ"
	// wantCSP is the policy of every page: only first-party script, style
	// and fetches, forms only to the site and Microsoft, never framed.
	wantCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"form-action 'self' https://login.microsoftonline.com; frame-ancestors 'none'; base-uri 'none'"
)

func newHandler(t *testing.T, base string, w page.Wizard, logs *bytes.Buffer) *page.Handler {
	t.Helper()
	h, err := page.NewHandler(page.Config{Wizard: w, PublicBaseURL: base, AuthorityHost: authority + "/organizations",
		OperatorName: "Live Platform", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func request(routeKey, path string, cookies ...string) events.APIGatewayV2HTTPRequest {
	r := events.APIGatewayV2HTTPRequest{RouteKey: routeKey, RawPath: path, Cookies: cookies,
		PathParameters: map[string]string{"token": linkToken}, Headers: map[string]string{}}
	if strings.HasPrefix(routeKey, "POST /invite/{token}/") {
		r.PathParameters["action"] = strings.TrimPrefix(routeKey, "POST /invite/{token}/")
		r.RouteKey = "POST /invite/{token}/{action}"
		r.Body = "form=f"
	}
	return r
}

// Every page, whatever it says, carries the same protective headers.
func TestPageHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		wiz        fakeWizard
		route      string
		accept     string
		wantStatus int
		wantType   string
	}{
		{name: "welcome", wiz: fakeWizard{view: wizard.View{Step: wizard.StepWelcome, Token: linkToken, FormToken: "f"}},
			route: "GET /invite/{token}", wantStatus: http.StatusOK, wantType: "text/html; charset=utf-8"},
		{name: "neutral", wiz: fakeWizard{err: wizard.ErrNeutral},
			route: "GET /invite/{token}", wantStatus: http.StatusNotFound, wantType: "text/html; charset=utf-8"},
		{name: "device code", wiz: fakeWizard{view: wizard.View{Step: wizard.StepDevice, Token: linkToken,
			Device: &wizard.DeviceView{UserCode: "ABCD2345", VerificationURI: "https://microsoft.com/devicelogin"}}},
			route: "POST /invite/{token}/device", wantStatus: http.StatusOK, wantType: "text/html; charset=utf-8"},
		{name: "status for the script", wiz: fakeWizard{view: wizard.View{Step: wizard.StepAcquired}},
			route: "GET /invite/{token}/status", accept: "application/json", wantStatus: http.StatusOK, wantType: "application/json"},
		{name: "form of another browser", wiz: fakeWizard{err: wizard.ErrForm},
			route: "POST /invite/{token}/device", wantStatus: http.StatusForbidden, wantType: "text/html; charset=utf-8"},
		{name: "redirect to Microsoft", wiz: fakeWizard{result: wizard.Result{Redirect: authority + "/organizations/oauth2/v2.0/authorize?x=1"}},
			route: "POST /invite/{token}/signin", wantStatus: http.StatusSeeOther, wantType: "text/plain; charset=utf-8"},
		{name: "problem", wiz: fakeWizard{result: wizard.Result{View: wizard.View{Step: wizard.StepProblem, Problem: wizard.ProblemDeclined}}},
			route: "GET /consent/callback", wantStatus: http.StatusBadRequest, wantType: "text/html; charset=utf-8"},
		{name: "Tenant Activation", wiz: fakeWizard{result: wizard.Result{View: wizard.View{Step: wizard.StepActivated, TenantID: "t"}}},
			route: "GET /consent/callback", wantStatus: http.StatusOK, wantType: "text/html; charset=utf-8"},
		{name: "finishing", wiz: fakeWizard{result: wizard.Result{View: wizard.View{Step: wizard.StepFinishing, Token: linkToken, RetryIn: 4 * time.Second}}},
			route: "GET /consent/callback", wantStatus: http.StatusOK, wantType: "text/html; charset=utf-8"},
		{name: "waiting for the operator's confirmation", wiz: fakeWizard{result: wizard.Result{View: wizard.View{Step: wizard.StepConfirming,
			TenantID: "t", TenantName: "Fabrikam", TenantDomains: []string{"fabrikam.example"}}}},
			route: "GET /consent/callback", wantStatus: http.StatusOK, wantType: "text/html; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			h := newHandler(t, "https://invite.example.net", &tt.wiz, &logs)
			r := request(tt.route, "/invite/"+linkToken)
			if tt.accept != "" {
				r.Headers["Accept"] = tt.accept
			}
			resp, err := h.Handle(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d:\n%s", resp.StatusCode, tt.wantStatus, resp.Body)
			}
			want := map[string]string{
				"Content-Type":            tt.wantType,
				"Content-Security-Policy": wantCSP,
				"Referrer-Policy":         "no-referrer",
				"X-Content-Type-Options":  "nosniff",
				"X-Frame-Options":         "DENY",
				"Cache-Control":           "no-store",
			}
			for k, v := range want {
				if got := resp.Headers[k]; got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if strings.Contains(logs.String(), linkToken) || strings.Contains(logs.String(), "c2VjcmV0") {
				t.Errorf("the log holds the link token:\n%s", logs.String())
			}
		})
	}
}

// The browser binding cookie: __Host- and Secure on https; on the local
// stack's plain http 127.0.0.1 a plain name without Secure, because
// browsers refuse Secure cookies there. HttpOnly and SameSite=Lax always
// (Lax, so that it comes back with Microsoft's top-level redirect).
func TestBindingCookie(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base       string
		wantName   string
		wantSecure bool
	}{
		{"https://invite.example.net", "__Host-ocpro-binding", true},
		{"http://127.0.0.1:3000", "ocpro-binding", false},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			t.Parallel()
			wiz := &fakeWizard{view: wizard.View{Step: wizard.StepWelcome}}
			h := newHandler(t, tt.base, wiz, &bytes.Buffer{})
			resp, err := h.Handle(context.Background(), request("GET /invite/{token}", "/invite/"+linkToken))
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Cookies) != 1 {
				t.Fatalf("cookies %q", resp.Cookies)
			}
			c, err := http.ParseSetCookie(resp.Cookies[0])
			if err != nil {
				t.Fatal(err)
			}
			if c.Name != tt.wantName || c.Secure != tt.wantSecure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode ||
				c.Path != "/" || c.Domain != "" || c.MaxAge <= 0 || c.Value != wiz.binding || len(c.Value) != 43 {
				t.Fatalf("cookie %q (the wizard saw binding %q)", resp.Cookies[0], wiz.binding)
			}
			// The browser sends it back: the same binding, no new cookie.
			resp, err = h.Handle(context.Background(), request("GET /invite/{token}", "/invite/"+linkToken, c.Name+"="+c.Value))
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Cookies) != 0 || wiz.binding != c.Value {
				t.Fatalf("second answer set %q; binding %q, want %q", resp.Cookies, wiz.binding, c.Value)
			}
		})
	}
}

// The handler refuses configurations that would weaken the cookie or the
// policy, or that lack what it needs.
func TestNewHandlerChecksConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		break_ func(*page.Config)
	}{
		{"plain http on a public host", func(c *page.Config) { c.PublicBaseURL = "http://invite.example.net" }},
		{"relative base URL", func(c *page.Config) { c.PublicBaseURL = "/invite" }},
		{"plain http authority", func(c *page.Config) { c.AuthorityHost = "http://login.example" }},
		{"no operator name", func(c *page.Config) { c.OperatorName = "" }},
		{"no wizard", func(c *page.Config) { c.Wizard = nil }},
		{"no logger", func(c *page.Config) { c.Logger = nil }},
	}
	valid := func() page.Config {
		return page.Config{Wizard: &fakeWizard{}, PublicBaseURL: "https://invite.example.net", AuthorityHost: authority,
			OperatorName: "Live Platform", Logger: slog.New(slog.DiscardHandler)}
	}
	if _, err := page.NewHandler(valid()); err != nil {
		t.Fatalf("a valid config was refused: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tt.break_(&c)
			if _, err := page.NewHandler(c); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// Assets are the embedded files only, never a path out of them.
func TestAssets(t *testing.T) {
	t.Parallel()
	h := newHandler(t, "https://invite.example.net", &fakeWizard{}, &bytes.Buffer{})
	tests := []struct {
		file       string
		wantStatus int
		wantType   string
	}{
		{"wizard.js", http.StatusOK, "text/javascript; charset=utf-8"},
		{"style.css", http.StatusOK, "text/css; charset=utf-8"},
		{"../page.go", http.StatusNotFound, "text/plain; charset=utf-8"},
		{"nosuch.js", http.StatusNotFound, "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		r := events.APIGatewayV2HTTPRequest{RouteKey: "GET /assets/{file}", PathParameters: map[string]string{"file": tt.file}}
		resp, err := h.Handle(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tt.wantStatus || resp.Headers["Content-Type"] != tt.wantType || resp.Headers["X-Content-Type-Options"] != "nosniff" {
			t.Errorf("%s: %d %v", tt.file, resp.StatusCode, resp.Headers)
		}
	}
}

// The finishing page comes back to the status route by itself, after the
// wait the wizard gives, without script: a meta refresh the CSP allows.
func TestFinishingPageRefreshes(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	wiz := fakeWizard{result: wizard.Result{View: wizard.View{Step: wizard.StepFinishing, Token: linkToken, RetryIn: 4 * time.Second}}}
	h := newHandler(t, "https://invite.example.net", &wiz, &logs)
	resp, err := h.Handle(context.Background(), request("GET /consent/callback", "/consent/callback"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<meta http-equiv="refresh" content="4;url=/invite/` + linkToken + `/status">`, "Finishing", "can take a minute", "no need to consent again"} {
		if !strings.Contains(resp.Body, want) {
			t.Errorf("finishing page lacks %q:\n%s", want, resp.Body)
		}
	}
}

// The confirming page names the tenant as staff will see it, and the
// needs-role page names the roles.
func TestTenantPagesSayWhatToDo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		view wizard.View
		want []string
	}{
		{"confirming", wizard.View{Step: wizard.StepConfirming, TenantID: "9a4c7e21-3f6b-4d8e-a1c5-7b2e0d9f6c38", TenantName: "Fabrikam",
			TenantDomains: []string{"fabrikam.onmicrosoft.com", "fabrikam.example"}},
			[]string{"must confirm that this tenant belongs to the customer", "Fabrikam", "9a4c7e21-3f6b-4d8e-a1c5-7b2e0d9f6c38", "fabrikam.onmicrosoft.com, fabrikam.example"}},
		{"needs a role", wizard.View{Step: wizard.StepProblem, Problem: wizard.ProblemNeedsRole}, []string{"Global Administrator or a Teams Administrator"}},
		{"needs an admin who may consent", wizard.View{Step: wizard.StepProblem, Problem: wizard.ProblemNeedsAdmin},
			[]string{"Global Administrator or a Privileged Role Administrator", "Cloud Application Administrator"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			h := newHandler(t, "https://invite.example.net", &fakeWizard{result: wizard.Result{View: tt.view}}, &logs)
			resp, err := h.Handle(context.Background(), request("GET /consent/callback", "/consent/callback"))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(resp.Body, w) {
					t.Errorf("page lacks %q:\n%s", w, resp.Body)
				}
			}
		})
	}
}
