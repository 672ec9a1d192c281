package entra

import (
	"crypto/subtle"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"crypto/rand"
)

// sessionCookie is the emulator's sign-in session cookie on its own host.
const sessionCookie = "ESTSAUTH"

func (e *Emulator) signInRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /login", e.logged(e.handleLogin))
	mux.HandleFunc("POST /login/mfa", e.logged(e.handleMFA))
	mux.HandleFunc("POST /consent", e.logged(e.handleConsent))
	mux.HandleFunc("POST /needadmin", e.logged(e.handleNeedAdmin))
}

// startInteraction remembers ix and shows its first page: the sign-in page,
// or, when the browser already has a session good for it, the next step.
func (e *Emulator) startInteraction(w http.ResponseWriter, r *http.Request, ix *interaction, forceLogin bool) {
	ix.id = opaque(24)
	ix.created = e.now()
	e.flows.mu.Lock()
	e.flows.interactions[ix.id] = ix
	e.flows.mu.Unlock()
	if !forceLogin {
		if sess, user, ok := e.sessionUser(r); ok {
			if _, err := e.userFor(ix, user.signInName()); err == nil {
				e.afterPassword(w, r, ix, user, sess.mfa)
				return
			}
		}
	}
	e.writePage(w, r, http.StatusOK, pageData{View: "signin", Title: "Sign in", App: ix.client.DisplayName, Ctx: ix.id, Login: ix.loginHint})
}

// signInName is what the user types on the sign-in page.
func (u User) signInName() string {
	if u.guest() {
		return u.Mail
	}
	return u.UserPrincipalName
}

// sessionUser returns the browser's session and its user.
func (e *Emulator) sessionUser(r *http.Request) (session, User, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, User{}, false
	}
	e.flows.mu.Lock()
	s, ok := e.flows.sessions[c.Value]
	var sess session
	if ok {
		sess = *s
	}
	e.flows.mu.Unlock()
	if !ok {
		return session{}, User{}, false
	}
	u, ok := e.dir.user(sess.userOID)
	return sess, u, ok
}

func (e *Emulator) setSession(w http.ResponseWriter, r *http.Request, s session) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		e.flows.mu.Lock()
		if old, ok := e.flows.sessions[c.Value]; ok && old.userOID == s.userOID {
			old.mfa = old.mfa || s.mfa
			e.flows.mu.Unlock()
			return
		}
		e.flows.mu.Unlock()
	}
	id := opaque(32)
	e.flows.mu.Lock()
	e.flows.sessions[id] = &s
	e.flows.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// interactionFrom finds the unexpired interaction a page form names.
func (e *Emulator) interactionFrom(w http.ResponseWriter, r *http.Request) (*interaction, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		e.writeErrorPage(w, r, errMissingParameter("ctx"))
		return nil, false
	}
	e.flows.mu.Lock()
	ix, ok := e.flows.interactions[r.PostForm.Get("ctx")]
	e.flows.mu.Unlock()
	if !ok || e.now().Sub(ix.created) > interactionLifetime {
		e.writePage(w, r, http.StatusBadRequest, pageData{View: "error", Title: "Sign in",
			Message: "Your session has timed out. Please close this window and sign in again."})
		return nil, false
	}
	return ix, true
}

// userFor finds the account a sign-in name means for the interaction: in
// the named tenant (members and guests), or the home account for the
// organizations and common authorities. A member of another tenant gets
// AADSTS50020.
func (e *Emulator) userFor(ix *interaction, name string) (User, error) {
	if ix.tenant.tenant == nil {
		if u, ok := e.dir.homeUser(name); ok {
			return u, nil
		}
		return User{}, errNotFound
	}
	if u, ok := e.dir.userBySignIn(ix.tenant.tenant.ID, name); ok {
		return u, nil
	}
	if _, ok := e.dir.homeUser(name); ok {
		return User{}, errUserNotInTenant(name, ix.tenant.tenant.ID, ix.client.ClientID, ix.client.DisplayName)
	}
	return User{}, errNotFound
}

func (e *Emulator) handleLogin(w http.ResponseWriter, r *http.Request) {
	ix, ok := e.interactionFrom(w, r)
	if !ok {
		return
	}
	name, pass := strings.TrimSpace(r.PostForm.Get("login")), r.PostForm.Get("passwd")
	retry := pageData{View: "signin", Title: "Sign in", App: ix.client.DisplayName, Ctx: ix.id, Login: name}
	user, err := e.userFor(ix, name)
	if ae, isAAD := err.(aadError); isAAD {
		switch ix.kind {
		case flowDevice:
			e.failDevice(ix.deviceCode, ae)
		case flowAdminConsent:
			e.adminConsentWrongDirectory(w, r, ix, ae)
			return
		}
		e.writeErrorPage(w, r, ae)
		return
	}
	if err != nil {
		retry.Error = "This username may be incorrect. Make sure you typed it correctly. Otherwise, contact your admin."
		e.writePage(w, r, http.StatusOK, retry)
		return
	}
	if subtle.ConstantTimeCompare([]byte(user.Password), []byte(pass)) != 1 {
		retry.Error = "Your account or password is incorrect. If you don't remember your password, reset it now."
		e.writePage(w, r, http.StatusOK, retry)
		return
	}
	e.setSession(w, r, session{userOID: user.ObjectID})
	e.afterPassword(w, r, ix, user, false)
}

// afterPassword asks MFA-enrolled users to approve the sign-in, then
// continues the flow.
func (e *Emulator) afterPassword(w http.ResponseWriter, r *http.Request, ix *interaction, user User, mfaDone bool) {
	e.flows.mu.Lock()
	ix.userOID = user.ObjectID
	e.flows.mu.Unlock()
	if user.MFA && !mfaDone {
		n, _ := rand.Int(rand.Reader, big.NewInt(90)) // crypto/rand never fails.
		e.writePage(w, r, http.StatusOK, pageData{View: "mfa", Title: "Approve sign in request", User: user.signInName(),
			Ctx: ix.id, Number: int(n.Int64()) + 10})
		return
	}
	e.proceed(w, r, ix, user)
}

func (e *Emulator) handleMFA(w http.ResponseWriter, r *http.Request) {
	ix, ok := e.interactionFrom(w, r)
	if !ok {
		return
	}
	user, ok := e.interactionUser(w, r, ix)
	if !ok {
		return
	}
	e.setSession(w, r, session{userOID: user.ObjectID, mfa: true})
	e.proceed(w, r, ix, user)
}

// interactionUser is the user who signed in to the interaction, checked
// against the browser's session so that a form cannot be replayed from
// another browser.
func (e *Emulator) interactionUser(w http.ResponseWriter, r *http.Request, ix *interaction) (User, bool) {
	_, user, ok := e.sessionUser(r)
	e.flows.mu.Lock()
	oid := ix.userOID
	e.flows.mu.Unlock()
	if !ok || oid == "" || user.ObjectID != oid {
		e.writePage(w, r, http.StatusBadRequest, pageData{View: "error", Title: "Sign in",
			Message: "Your session has timed out. Please close this window and sign in again."})
		return User{}, false
	}
	return user, true
}

// proceed is the step after a complete sign-in.
func (e *Emulator) proceed(w http.ResponseWriter, r *http.Request, ix *interaction, user User) {
	switch ix.kind {
	case flowDevice:
		e.writePage(w, r, http.StatusOK, pageData{View: "deviceconfirm", Title: "Are you trying to sign in to " + ix.client.DisplayName + "?",
			User: user.signInName(), Ctx: ix.id})
	case flowAdminConsent:
		if !user.canConsentForOrganization() || len(ix.client.RequiredRoles) > 0 && !user.canGrantAppPermissions() {
			e.needAdminPage(w, r, ix, user)
			return
		}
		e.consentPage(w, r, ix, user, "")
	default:
		if ix.forceConsent || !e.dir.delegatedGranted(user.TenantID, ix.client.ClientID, user.ObjectID, ix.scopes) {
			e.userConsentPage(w, r, ix, user)
			return
		}
		e.finishAuthorize(w, r, ix, user)
	}
}

// userConsentPage asks for delegated consent, or says that only an admin
// can give it when the tenant does not let users consent.
func (e *Emulator) userConsentPage(w http.ResponseWriter, r *http.Request, ix *interaction, user User) {
	t, _ := e.dir.tenant(user.TenantID)
	if !user.canConsentForOrganization() && !t.UserConsent {
		e.needAdminPage(w, r, ix, user)
		return
	}
	e.consentPage(w, r, ix, user, "")
}

func (e *Emulator) consentPage(w http.ResponseWriter, r *http.Request, ix *interaction, user User, problem string) {
	var perms []string
	for _, s := range ix.scopes {
		perms = append(perms, s+" (delegated: Microsoft Graph)")
	}
	if ix.kind == flowAdminConsent {
		for _, role := range ix.client.RequiredRoles {
			perms = append(perms, role+" (application: Microsoft Graph)")
		}
	}
	admin := user.canConsentForOrganization()
	e.writePage(w, r, http.StatusOK, pageData{View: "consent", Title: "Permissions requested", App: ix.client.DisplayName,
		User: user.signInName(), Ctx: ix.id, Permissions: perms, Org: admin, OrgChecked: ix.kind == flowAdminConsent, Error: problem})
}

func (e *Emulator) needAdminPage(w http.ResponseWriter, r *http.Request, ix *interaction, user User) {
	t, _ := e.dir.tenant(user.TenantID)
	ae := errAdminConsentRequired(ix.client.DisplayName, t.DisplayName)
	e.writePage(w, r, http.StatusOK, pageData{View: "needadmin", Title: "Need admin approval", App: ix.client.DisplayName,
		User: user.signInName(), Ctx: ix.id, Details: e.describe(r, ae)})
}

func (e *Emulator) handleConsent(w http.ResponseWriter, r *http.Request) {
	ix, ok := e.interactionFrom(w, r)
	if !ok {
		return
	}
	user, ok := e.interactionUser(w, r, ix)
	if !ok {
		return
	}
	accept := r.PostForm.Get("action") == "accept"
	org := r.PostForm.Get("consent_org") == "on" && user.canConsentForOrganization()
	t, _ := e.dir.tenant(user.TenantID)
	appRolesRefused := ix.kind == flowAdminConsent && len(ix.client.RequiredRoles) > 0 && !user.canGrantAppPermissions()
	if accept && (appRolesRefused || !user.canConsentForOrganization() && (!t.UserConsent || ix.kind == flowAdminConsent)) {
		// A forged form cannot grant what the page would not offer.
		e.needAdminPage(w, r, ix, user)
		return
	}
	switch ix.kind {
	case flowAdminConsent:
		if !accept {
			e.adminConsentDeclined(w, r, ix)
			return
		}
		if !org {
			e.consentPage(w, r, ix, user, "Select Consent on behalf of your organization to grant these permissions for everyone in "+t.DisplayName+".")
			return
		}
		e.grantAdminConsent(w, r, ix, user)
	case flowDevice:
		if !accept {
			e.declineDevice(ix.deviceCode)
			e.devicePage(w, r, "You declined to sign in to "+ix.client.DisplayName+" on the other device. You may now close this window.")
			return
		}
		e.grantDelegated(ix, user, org)
		e.completeDevice(w, r, ix, user)
	default:
		if !accept {
			e.authorizeError(w, r, ix, errUserDeclinedConsent())
			return
		}
		e.grantDelegated(ix, user, org)
		e.finishAuthorize(w, r, ix, user)
	}
}

// grantDelegated records consent to the interaction's delegated scopes for
// the user, or for the whole organization.
func (e *Emulator) grantDelegated(ix *interaction, user User, org bool) {
	principal := user.ObjectID
	if org {
		principal = allPrincipals
	}
	e.dir.grantDelegated(user.TenantID, ix.client.ClientID, principal, ix.scopes)
}

func (e *Emulator) handleNeedAdmin(w http.ResponseWriter, r *http.Request) {
	ix, ok := e.interactionFrom(w, r)
	if !ok {
		return
	}
	user, ok := e.interactionUser(w, r, ix)
	if !ok {
		return
	}
	t, _ := e.dir.tenant(user.TenantID)
	ae := errAdminConsentRequired(ix.client.DisplayName, t.DisplayName)
	switch ix.kind {
	case flowAdminConsent:
		q := url.Values{"error": {"access_denied"}, "error_description": {e.describe(r, ae)}, "state": {ix.state}}
		if !ix.legacyConsent {
			q.Set("admin_consent", "True")
		}
		redirectTo(w, r, ix.redirectURI, q)
	case flowDevice:
		e.failDevice(ix.deviceCode, errConsentRequired(ix.client.ClientID, ix.client.DisplayName))
		e.devicePage(w, r, "You did not grant "+ix.client.DisplayName+" the permissions it needs. You may now close this window.")
	default:
		e.authorizeError(w, r, ix, ae)
	}
}

// scopesOf lists the permissions of an interaction for the callback's
// scope parameter.
func scopesOf(ix *interaction) string {
	out := make([]string, 0, len(ix.scopes)+len(ix.client.RequiredRoles))
	for _, s := range slices.Concat(ix.scopes, ix.client.RequiredRoles) {
		out = append(out, GraphResource+"/"+s)
	}
	return strings.Join(out, " ")
}
