package gateway

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocpro/upgrade/infra/template"
)

// The deployed console gets the headers the local one gets: the CSP of
// CloudFront's response headers policy in template.yaml is this gateway's,
// with the template's Entra authority, so a console that works locally is
// not blocked in AWS.
func TestDeployedConsoleGetsTheLocalHeaders(t *testing.T) {
	t.Parallel()
	tpl, err := template.Load("../../template.yaml", template.Options{Parameters: map[string]string{"PublicBaseUrl": "https://connect.live.example.net"}})
	if err != nil {
		t.Fatal(err)
	}
	policy, ok := tpl.Resources["ConsoleHeaders"]
	if !ok {
		t.Fatal("template.yaml has no ConsoleHeaders response headers policy")
	}
	cfg, _ := policy.Properties["ResponseHeadersPolicyConfig"].(map[string]any)
	sec, _ := cfg["SecurityHeadersConfig"].(map[string]any)
	csp, _ := sec["ContentSecurityPolicy"].(map[string]any)
	authority := tpl.Parameters["EntraAuthorityHost"].Value
	if got, want := csp["ContentSecurityPolicy"], consoleCSP(authority); got != want {
		t.Errorf("deployed CSP\n  %v\nlocal CSP\n  %v", got, want)
	}
	custom := map[string]string{}
	items, _ := cfg["CustomHeadersConfig"].(map[string]any)
	for _, it := range items["Items"].([]any) {
		m, _ := it.(map[string]any)
		custom[m["Header"].(string)], _ = m["Value"].(string)
	}
	rec := httptest.NewRecorder()
	WithConsole(http.NotFoundHandler(), Console{Dir: t.TempDir(), Authority: authority}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, ConsolePrefix+"x.js", nil))
	for _, h := range []string{"Cross-Origin-Opener-Policy", "Permissions-Policy"} {
		if custom[h] != rec.Header().Get(h) {
			t.Errorf("%s: deployed %q, local %q", h, custom[h], rec.Header().Get(h))
		}
	}
}

// The console is served under its prefix with strict headers; its pages
// fall back to index.html; / leads there; everything else reaches the API.
func TestConsoleIsServedUnderItsPrefix(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"index.html": "<!doctype html><title>console</title>", "assets/app-1a2b.js": "console.log(1)"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := WithConsole(api, Console{Dir: dir, Authority: "https://127.0.0.1:8443", Settings: map[string]string{"clientId": "c1"}})

	tests := []struct {
		name, method, path string
		status             int
		body, location     string
		cache              string
	}{
		{"root redirects", "GET", "/", http.StatusFound, "", ConsolePrefix, ""},
		{"prefix without slash", "GET", "/console", http.StatusMovedPermanently, "", ConsolePrefix, ""},
		{"index", "GET", "/console/", http.StatusOK, "<title>console</title>", "", "no-store"},
		{"a page of the console", "GET", "/console/invitations", http.StatusOK, "<title>console</title>", "", "no-store"},
		{"an asset", "GET", "/console/assets/app-1a2b.js", http.StatusOK, "console.log(1)", "", "public, max-age=31536000, immutable"},
		{"the settings", "GET", "/console/config.json", http.StatusOK, `{"clientId":"c1"}`, "", "no-store"},
		{"a missing asset", "GET", "/console/assets/nope.js", http.StatusNotFound, "", "", ""},
		{"no climbing out", "GET", "/console/../go.mod", http.StatusNotFound, "", "", ""},
		{"no writes", "POST", "/console/", http.StatusMethodNotAllowed, "", "", ""},
		{"the API", "GET", "/v1/customers", http.StatusTeapot, "", "", ""},
		{"the public pages' assets", "GET", "/assets/wizard.css", http.StatusTeapot, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) || rec.Header().Get("Location") != tc.location {
				t.Fatalf("%s %s: %d %q location %q", tc.method, tc.path, rec.Code, rec.Body.String(), rec.Header().Get("Location"))
			}
			if tc.cache != "" && rec.Header().Get("Cache-Control") != tc.cache {
				t.Errorf("Cache-Control = %q, want %q", rec.Header().Get("Cache-Control"), tc.cache)
			}
			if strings.HasPrefix(tc.path, ConsolePrefix) {
				csp := rec.Header().Get("Content-Security-Policy")
				for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self' https://127.0.0.1:8443", "frame-ancestors 'none'"} {
					if !strings.Contains(csp, want) {
						t.Errorf("CSP %q lacks %q", csp, want)
					}
				}
				if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Referrer-Policy") != "no-referrer" {
					t.Errorf("headers %v", rec.Header())
				}
			}
		})
	}
}

// Before the first build the console says how to get one.
func TestConsoleNotBuilt(t *testing.T) {
	t.Parallel()
	h := WithConsole(http.NotFoundHandler(), Console{Dir: t.TempDir(), Authority: "https://a"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/console/", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "make run") {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
}
