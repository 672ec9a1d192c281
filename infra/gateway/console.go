package gateway

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

// ConsolePrefix is the path under which the operator console's files are
// served, at the API's origin. One prefix keeps them apart from the public
// pages' /assets/{file} route, and lets a CDN map it to a bucket later.
const ConsolePrefix = "/console/"

// Console says where the operator console's built files are.
type Console struct {
	// Dir holds index.html and the hashed assets (vite's dist folder).
	Dir string
	// Authority is the origin of the Entra authority the console signs in
	// with; it is the one place besides this origin the console may call.
	Authority string
	// Settings are served as config.json under the prefix: what the built
	// files cannot know (client id, authority, tenant, scope), so that one
	// build serves any stack.
	Settings map[string]string
}

// consoleCSP allows the console's own files and calls to this origin and
// the authority, nothing inline, no framing.
func consoleCSP(authority string) string {
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
		"connect-src 'self' " + authority + "; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}

// WithConsole serves the console under ConsolePrefix with strict security
// headers, sends / there, and passes every other request to api. Paths
// under the prefix that are not files are the console's own pages: they
// get index.html, so that a reload or a link to a page works.
func WithConsole(api http.Handler, c Console) http.Handler {
	root := os.DirFS(c.Dir)
	csp := consoleCSP(c.Authority)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			http.Redirect(w, r, ConsolePrefix, http.StatusFound)
			return
		case p == strings.TrimSuffix(ConsolePrefix, "/"):
			http.Redirect(w, r, ConsolePrefix, http.StatusMovedPermanently)
			return
		case !strings.HasPrefix(p, ConsolePrefix):
			api.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := path.Clean(strings.TrimPrefix(p, ConsolePrefix))
		if name == "config.json" && c.Settings != nil {
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(c.Settings) // A write error is a closed connection.
			return
		}
		if name == "." || name == "index.html" || !strings.Contains(path.Base(name), ".") {
			serveIndex(w, r, root)
			return
		}
		f, err := fs.Stat(root, name)
		if err != nil || f.IsDir() {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if strings.HasPrefix(name, "assets/") {
			// Vite names assets by their content: a changed file is a new name.
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		http.ServeFileFS(w, r, root, name)
	})
}

// serveIndex answers with the console's page, never cached, so that a new
// build is seen at once.
func serveIndex(w http.ResponseWriter, r *http.Request, root fs.FS) {
	b, err := fs.ReadFile(root, "index.html")
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, "The console is not built yet: make run builds it (npm ci and vite build in console/).", http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		http.Error(w, "console unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}
