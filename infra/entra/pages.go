package entra

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
)

//go:embed pages/pages.html
var pageFiles embed.FS

var pageTemplate = template.Must(template.ParseFS(pageFiles, "pages/pages.html"))

// pageData fills the sign-in pages' single template; View picks the body.
type pageData struct {
	View        string
	Title       string
	App         string
	User        string
	Ctx         string
	Login       string
	Error       string
	Number      int
	Permissions []string
	Org         bool
	OrgChecked  bool
	Message     string
	Details     string
}

// writePage renders a page with the headers Microsoft's sign-in pages
// send: no caching, no framing, no third-party resources.
func (e *Emulator) writePage(w http.ResponseWriter, r *http.Request, status int, p pageData) {
	var buf bytes.Buffer
	if err := pageTemplate.ExecuteTemplate(&buf, "page", p); err != nil {
		e.internalError(w, r, fmt.Errorf("render %s page: %w", p.View, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w) // A write error is a closed connection.
}

// writeErrorPage shows an AADSTS error on a page, as Microsoft does for
// errors it cannot redirect (a redirect URI it does not trust, a user in
// the wrong tenant).
func (e *Emulator) writeErrorPage(w http.ResponseWriter, r *http.Request, ae aadError) {
	e.log.InfoContext(r.Context(), "entra emulator error page", "path", r.URL.Path, "aadsts", ae.number)
	e.writePage(w, r, http.StatusBadRequest, pageData{
		View: "error", Title: "Sign in",
		Message: "Sorry, but we're having trouble signing you in.",
		Details: e.describe(r, ae),
	})
}

// describe is the error_description Microsoft sends: the AADSTS text with
// trace id, correlation id and timestamp lines.
func (e *Emulator) describe(r *http.Request, ae aadError) string {
	corr := r.Header.Get("client-request-id")
	if !guidPattern.MatchString(corr) {
		corr = randomGUID()
	}
	return fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
		ae.number, ae.message, randomGUID(), corr, e.now().UTC().Format(aadTimestamp))
}

// redirectTo sends the browser to target with the query values added.
func redirectTo(w http.ResponseWriter, r *http.Request, target string, q url.Values) {
	u, err := url.Parse(target)
	if err != nil {
		// Redirect URIs were matched against registered ones, which parse.
		http.Error(w, "bad redirect URI", http.StatusBadRequest)
		return
	}
	merged := u.Query()
	for k, vs := range q {
		for _, v := range vs {
			merged.Add(k, v)
		}
	}
	u.RawQuery = merged.Encode()
	w.Header().Set("Cache-Control", "no-store, no-cache")
	http.Redirect(w, r, u.String(), http.StatusFound)
}
