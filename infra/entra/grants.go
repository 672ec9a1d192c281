package entra

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
)

// authorizationCodeGrant redeems a code from the authorize endpoint: once,
// within its lifetime, by the client and redirect URI it was issued to,
// with the PKCE verifier matching its challenge.
func (e *Emulator) authorizationCodeGrant(w http.ResponseWriter, r *http.Request, req tokenRequest) {
	value := req.form.Get("code")
	if value == "" {
		e.writeAADError(w, r, errMissingParameter("code"))
		return
	}
	app, confidential, ok := e.authenticateDelegatedClient(w, r, req)
	if !ok {
		return
	}
	e.flows.mu.Lock()
	c, found := e.flows.codes[value]
	var redeemed bool
	if found {
		redeemed = c.redeemed
		c.redeemed = true
	}
	e.flows.mu.Unlock()
	switch {
	case !found:
		e.writeAADError(w, r, errInvalidGrant("authorization code"))
		return
	case redeemed:
		e.writeAADError(w, r, errCodeRedeemed())
		return
	case e.now().Sub(c.issued) > authCodeLifetime:
		e.writeAADError(w, r, errGrantExpired())
		return
	case !strings.EqualFold(c.clientID, app.ClientID):
		e.writeAADError(w, r, errGrantClientMismatch())
		return
	case req.form.Get("redirect_uri") != c.redirectURI:
		e.writeAADError(w, r, errReplyMismatch())
		return
	case !pkceMatches(c.challenge, c.method, req.form.Get("code_verifier")):
		e.writeAADError(w, r, errCodeVerifier())
		return
	}
	if !e.originAllowed(w, r, c.spa) {
		return
	}
	if !e.tenantAccepts(req.tenant, c.tenantID) {
		e.writeAADError(w, r, errInvalidGrant("authorization code for this tenant"))
		return
	}
	user, ok := e.dir.user(c.userOID)
	if !ok {
		e.writeAADError(w, r, errRefreshRevoked())
		return
	}
	e.writeUserTokens(w, r, userGrant{client: app, user: user, tenantID: c.tenantID, scopes: c.scopes, oidc: c.oidcScopes, nonce: c.nonce, confidential: confidential,
		resource: c.resource, spa: c.spa})
}

// pkceMatches checks a code_verifier against the code_challenge (RFC 7636).
// Codes requested without a challenge need no verifier.
func pkceMatches(challenge, method, verifier string) bool {
	if challenge == "" {
		return true
	}
	if verifier == "" {
		return false
	}
	want := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// tenantAccepts reports whether a token request sent to rt may redeem a
// grant issued in tenantID: the aliases accept any tenant.
func (e *Emulator) tenantAccepts(rt resolvedTenant, tenantID string) bool {
	return rt.tenant == nil || strings.EqualFold(rt.tenant.ID, tenantID)
}

// refreshTokenGrant redeems a refresh token for new tokens and a new
// refresh token, refusing revoked ones (AADSTS50173), ones unused for 90
// days (AADSTS700082), and ones whose consent was revoked (AADSTS65001).
func (e *Emulator) refreshTokenGrant(w http.ResponseWriter, r *http.Request, req tokenRequest) {
	value := req.form.Get("refresh_token")
	if value == "" {
		e.writeAADError(w, r, errMissingParameter("refresh_token"))
		return
	}
	app, confidential, ok := e.authenticateDelegatedClient(w, r, req)
	if !ok {
		return
	}
	now := e.now()
	e.flows.mu.Lock()
	rt, found := e.flows.refresh[value]
	var tok refreshToken
	if found {
		tok = *rt
	}
	e.flows.mu.Unlock()
	switch {
	case !found:
		e.writeAADError(w, r, errInvalidGrant("refresh token"))
		return
	case tok.public && confidential:
		e.writeAADError(w, r, errPublicClientSecret())
		return
	case tok.revoked:
		e.writeAADError(w, r, errRefreshRevoked())
		return
	case now.Sub(tok.lastUsed) > refreshInactivity:
		e.writeAADError(w, r, errRefreshInactive(tok.issued, now.Sub(tok.lastUsed)))
		return
	case !strings.EqualFold(tok.clientID, app.ClientID):
		e.writeAADError(w, r, errGrantClientMismatch())
		return
	case !e.tenantAccepts(req.tenant, tok.tenantID):
		e.writeAADError(w, r, errInvalidGrant("refresh token for this tenant"))
		return
	case tok.spa && !now.Before(tok.spaExpires):
		e.writeAADError(w, r, errSPARefreshExpired(tok.issued))
		return
	}
	if !e.originAllowed(w, r, tok.spa) {
		return
	}
	user, ok := e.dir.user(tok.userOID)
	if !ok {
		e.writeAADError(w, r, errRefreshRevoked())
		return
	}
	if !e.dir.delegatedGranted(tok.tenantID, app.ClientID, user.ObjectID, tok.scopes) {
		e.writeAADError(w, r, errConsentRequired(app.ClientID, app.DisplayName))
		return
	}
	e.flows.mu.Lock()
	rt.lastUsed = now
	e.flows.mu.Unlock()
	e.writeUserTokens(w, r, userGrant{client: app, user: user, tenantID: tok.tenantID, scopes: tok.scopes, oidc: tok.oidcScopes, confidential: confidential,
		resource: tok.resource, spa: tok.spa, spaExpires: tok.spaExpires})
}

// RevokeRefreshTokens revokes the refresh tokens of the user with the
// given sign-in name in any tenant (all users when empty), as "Revoke
// sessions" does. It returns how many it revoked.
func (e *Emulator) RevokeRefreshTokens(user string) int {
	return e.changeRefreshTokens(user, "", func(t *refreshToken) { t.revoked = true })
}

// ExpireRefreshTokens makes the user's refresh tokens (all when user is
// empty) look unused for longer than the 90-day inactivity window.
func (e *Emulator) ExpireRefreshTokens(user string) int {
	past := e.now().Add(-refreshInactivity - 24*60*60*1e9)
	return e.changeRefreshTokens(user, "", func(t *refreshToken) { t.lastUsed = past })
}

// RevokeRefreshToken revokes one refresh token, reporting whether it
// existed.
func (e *Emulator) RevokeRefreshToken(token string) bool {
	return e.changeRefreshTokens("", token, func(t *refreshToken) { t.revoked = true }) == 1
}

// ExpireRefreshToken ages one refresh token past the inactivity window,
// reporting whether it existed.
func (e *Emulator) ExpireRefreshToken(token string) bool {
	past := e.now().Add(-refreshInactivity - 24*60*60*1e9)
	return e.changeRefreshTokens("", token, func(t *refreshToken) { t.lastUsed = past }) == 1
}

func (e *Emulator) changeRefreshTokens(user, token string, change func(*refreshToken)) int {
	oids := map[string]bool{}
	if user != "" {
		e.dir.mu.RLock()
		for _, u := range e.dir.users {
			if strings.EqualFold(u.UserPrincipalName, user) || strings.EqualFold(u.Mail, user) {
				oids[u.ObjectID] = true
			}
		}
		e.dir.mu.RUnlock()
	}
	e.flows.mu.Lock()
	defer e.flows.mu.Unlock()
	n := 0
	for v, t := range e.flows.refresh {
		if token != "" && v != token {
			continue
		}
		if user != "" && !oids[t.userOID] {
			continue
		}
		change(t)
		n++
	}
	return n
}
