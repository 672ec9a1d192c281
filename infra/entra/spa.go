package entra

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// spaRefreshLifetime is the fixed lifetime of refresh tokens sent to a
// redirect URI registered as a single-page app; the tokens redeemed from
// them keep the first one's expiry.
const spaRefreshLifetime = 24 * time.Hour

// withCORS answers cross-origin requests as Microsoft's discovery and token
// endpoints do: any origin may read the answer (whether a token endpoint
// request is allowed cross-origin is decided by its grant, see
// originAllowed), and preflights are answered without a body. A nil h
// serves only the preflight.
func withCORS(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			w.Header().Set("Access-Control-Allow-Origin", "*")
		}
		if r.Method == http.MethodOptions || h == nil {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			if asked := r.Header.Get("Access-Control-Request-Headers"); asked != "" {
				w.Header().Set("Access-Control-Allow-Headers", asked)
			}
			w.Header().Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h(w, r)
	}
}

// originAllowed enforces who may redeem what from where: a code or refresh
// token issued through a single-page app's redirect URI only by a browser
// (with an Origin header, AADSTS9002327 otherwise), any other only without
// one (AADSTS9002326). It writes the error and reports false when refused.
func (e *Emulator) originAllowed(w http.ResponseWriter, r *http.Request, spa bool) bool {
	origin := r.Header.Get("Origin")
	switch {
	case spa && origin == "":
		e.writeAADError(w, r, errSPARedemptionNotCrossOrigin())
		return false
	case !spa && origin != "":
		e.writeAADError(w, r, errCrossOriginNotSPA(origin))
		return false
	}
	return true
}

func errCrossOriginNotSPA(origin string) aadError {
	return aadError{http.StatusBadRequest, "invalid_request", 9002326, fmt.Sprintf(
		"Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type. Request origin: '%s'.", origin)}
}

func errSPARedemptionNotCrossOrigin() aadError {
	return aadError{http.StatusBadRequest, "invalid_request", 9002327,
		"Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests."}
}

func errSPARefreshExpired(issued time.Time) aadError {
	return aadError{http.StatusBadRequest, "invalid_grant", 700084, fmt.Sprintf(
		"The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00, "+
			"which can't be extended. It is now expired and a new sign in request must be sent by the SPA to the sign in page. "+
			"The token was issued on %s.", issued.UTC().Format("2006-01-02T15:04:05.0000000Z"))}
}

// answerAuthorize sends the authorize endpoint's answer to the redirect URI
// in the query, or in the fragment when the request asked for
// response_mode=fragment (MSAL.js's default), where it never reaches a
// server's logs.
func answerAuthorize(w http.ResponseWriter, r *http.Request, ix *interaction, q url.Values) {
	if ix.responseMode != "fragment" {
		redirectTo(w, r, ix.redirectURI, q)
		return
	}
	u, err := url.Parse(ix.redirectURI)
	if err != nil {
		// Redirect URIs were matched against registered ones, which parse.
		http.Error(w, "bad redirect URI", http.StatusBadRequest)
		return
	}
	u.Fragment, u.RawFragment = "", q.Encode()
	w.Header().Set("Cache-Control", "no-store, no-cache")
	http.Redirect(w, r, u.String()+"#"+q.Encode(), http.StatusFound)
}

func (e *Emulator) signOutRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/logout", e.logged(e.handleLogout))
}

// handleLogout ends the browser's session and returns to
// post_logout_redirect_uri when an app registered it as a redirect URI;
// otherwise it says that the user signed out, as Microsoft's page does.
func (e *Emulator) handleLogout(w http.ResponseWriter, r *http.Request) {
	if _, ok := e.resolve(w, r); !ok {
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		e.flows.mu.Lock()
		delete(e.flows.sessions, c.Value)
		e.flows.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	if target := r.URL.Query().Get("post_logout_redirect_uri"); target != "" && e.dir.registeredRedirect(target) {
		redirectTo(w, r, target, nil)
		return
	}
	e.writePage(w, r, http.StatusOK, pageData{View: "error", Title: "Sign out",
		Message: "You signed out of your account. It's a good idea to close all browser windows."})
}

// registeredRedirect reports whether any app registered target as a
// redirect URI, of either platform.
func (d *directory) registeredRedirect(target string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, a := range d.apps {
		if slices.Contains(a.RedirectURIs, target) || slices.Contains(a.SPARedirectURIs, target) {
			return true
		}
	}
	return false
}

// AgeRefreshTokens moves the issue, last use and fixed expiry of the
// user's refresh tokens (all when user is empty) back by d, as if d had
// passed: 25 hours expire a single-page app's tokens and leave the others
// working. It returns how many it changed.
func (e *Emulator) AgeRefreshTokens(user string, d time.Duration) int {
	return e.changeRefreshTokens(user, "", func(t *refreshToken) {
		t.issued, t.lastUsed = t.issued.Add(-d), t.lastUsed.Add(-d)
		if !t.spaExpires.IsZero() {
			t.spaExpires = t.spaExpires.Add(-d)
		}
	})
}

func (e *Emulator) spaControlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /_control/refresh-tokens/age", e.logged(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			User  string `json:"user"`
			Hours int    `json:"hours"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxControlBytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || req.Hours < 1 || req.Hours > 24*365 {
			writeJSON(w, http.StatusBadRequest, controlError{"invalid_request", "body must be {\"user\": sign-in name or empty, \"hours\": 1 to 8760}"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"aged": e.AgeRefreshTokens(req.User, time.Duration(req.Hours)*time.Hour)})
	}))
}
