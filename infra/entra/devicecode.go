package entra

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

func (e *Emulator) deviceCodeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/devicecode", e.logged(e.handleDeviceCode))
	mux.HandleFunc("GET /devicelogin", e.logged(e.handleDeviceLoginPage))
	mux.HandleFunc("POST /devicelogin", e.logged(e.handleDeviceLoginCode))
	mux.HandleFunc("POST /devicelogin/confirm", e.logged(e.handleDeviceConfirm))
}

// deviceCodeResponse is the device authorization response.
type deviceCodeResponse struct {
	UserCode        string `json:"user_code"`
	DeviceCode      string `json:"device_code"`
	VerificationURI string `json:"verification_uri"`
	ExpiresIn       int    `json:"expires_in"`
	Interval        int    `json:"interval"`
	Message         string `json:"message"`
}

// userCodeAlphabet leaves out letters and digits people confuse.
const userCodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

func newUserCode() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24.
	for i := range b {
		b[i] = userCodeAlphabet[int(b[i])%len(userCodeAlphabet)]
	}
	return string(b)
}

func (e *Emulator) handleDeviceCode(w http.ResponseWriter, r *http.Request) {
	rt, ok := e.resolve(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		e.writeAADError(w, r, errMissingParameter("client_id"))
		return
	}
	clientID := r.PostForm.Get("client_id")
	if clientID == "" {
		e.writeAADError(w, r, errMissingParameter("client_id"))
		return
	}
	app, ok := e.dir.app(clientID)
	if !ok {
		e.writeAADError(w, r, errAppNotFound(clientID, rt.pathID()))
		return
	}
	scope := r.PostForm.Get("scope")
	if scope == "" {
		e.writeAADError(w, r, errMissingParameter("scope"))
		return
	}
	req, err := parseDelegatedScope(e.graphScopes(scope), app)
	if err == nil && req.resource != "" {
		err = errNotGraph // Device code is modelled for Microsoft Graph only.
	}
	if err != nil {
		e.writeAADError(w, r, errScopeInvalid(scope))
		return
	}
	if e.tokenFault(w, r, FaultDeviceCode, clientID, rt) {
		return
	}
	flow := &deviceFlow{deviceCode: "DAQABAAEAAA" + opaque(96), userCode: newUserCode(), tenant: rt, client: app,
		scopes: req.scopes, oidcScopes: req.oidc, issued: e.now()}
	e.flows.mu.Lock()
	e.flows.devices[flow.deviceCode] = flow
	e.flows.userCodes[flow.userCode] = flow.deviceCode
	e.flows.mu.Unlock()
	verify := e.baseFor(r) + "/devicelogin"
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, http.StatusOK, deviceCodeResponse{
		UserCode: flow.userCode, DeviceCode: flow.deviceCode, VerificationURI: verify,
		ExpiresIn: int(deviceCodeLifetime.Seconds()), Interval: deviceCodeInterval,
		Message: fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verify, flow.userCode),
	})
}

// deviceCodeGrant answers a poll: pending, slow_down (when the tenant's
// policy asks for it), declined, expired, a failure from the pages, or the
// tokens of the user who approved, once.
func (e *Emulator) deviceCodeGrant(w http.ResponseWriter, r *http.Request, req tokenRequest) {
	code := req.form.Get("device_code")
	if code == "" {
		code = req.form.Get("code") // Older v1.0 clients send code.
	}
	if code == "" {
		e.writeAADError(w, r, errMissingParameter("device_code"))
		return
	}
	if app, ok := e.dir.app(req.form.Get("client_id")); ok && app.AllowPublicClientFlows && e.publicFlowWithSecret(w, r, req) {
		return
	}
	app, confidential, ok := e.authenticateDelegatedClient(w, r, req)
	if !ok {
		return
	}
	now := e.now()
	e.flows.mu.Lock()
	flow, found := e.flows.devices[code]
	var f deviceFlow
	var slow bool
	if found {
		policyTenant := req.tenant.pathID()
		slow = e.flows.policyLocked(policyTenant).slowDown && !flow.lastPoll.IsZero() &&
			now.Sub(flow.lastPoll).Seconds() < deviceCodeInterval
		flow.lastPoll = now
		f = *flow
		if f.state == deviceApproved && !slow {
			// Tokens are issued once; the code is spent.
			delete(e.flows.devices, code)
			delete(e.flows.userCodes, f.userCode)
		}
	}
	e.flows.mu.Unlock()
	switch {
	case !found || !strings.EqualFold(f.client.ClientID, app.ClientID) || f.tenant.pathID() != req.tenant.pathID():
		e.writeAADError(w, r, errBadVerificationCode())
	case now.Sub(f.issued) > deviceCodeLifetime:
		e.writeAADError(w, r, errDeviceCodeExpired())
	case slow:
		e.writeAADError(w, r, errSlowDown())
	case f.state == devicePending:
		e.writeAADError(w, r, errAuthorizationPending())
	case f.state == deviceDeclined:
		e.writeAADError(w, r, errAuthorizationDeclined())
	case f.state == deviceFailed:
		e.writeAADError(w, r, f.failure)
	default:
		user, ok := e.dir.user(f.userOID)
		if !ok {
			e.writeAADError(w, r, errBadVerificationCode())
			return
		}
		e.writeUserTokens(w, r, userGrant{client: app, user: user, tenantID: f.tenantID, scopes: f.scopes, oidc: f.oidcScopes, confidential: confidential})
	}
}

func (e *Emulator) handleDeviceLoginPage(w http.ResponseWriter, r *http.Request) {
	e.writePage(w, r, http.StatusOK, pageData{View: "devicecode", Title: "Enter code"})
}

// handleDeviceLoginCode takes the code the user typed and starts the
// sign-in for that device flow.
func (e *Emulator) handleDeviceLoginCode(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		e.writePage(w, r, http.StatusBadRequest, pageData{View: "devicecode", Title: "Enter code"})
		return
	}
	userCode := strings.ToUpper(strings.Join(strings.Fields(r.PostForm.Get("otc")), ""))
	e.flows.mu.Lock()
	flow, ok := e.flows.devices[e.flows.userCodes[userCode]]
	var f deviceFlow
	if ok {
		f = *flow
	}
	e.flows.mu.Unlock()
	if !ok || f.state != devicePending || e.now().Sub(f.issued) > deviceCodeLifetime {
		e.writePage(w, r, http.StatusOK, pageData{View: "devicecode", Title: "Enter code",
			Error: "That code didn't work. Check the code and try again."})
		return
	}
	ix := &interaction{kind: flowDevice, tenant: f.tenant, client: f.client, scopes: f.scopes, oidcScopes: f.oidcScopes, deviceCode: f.deviceCode}
	e.startInteraction(w, r, ix, false)
}

// handleDeviceConfirm is "Are you trying to sign in to <app>?": Continue
// checks Conditional Access and consent, Cancel declines.
func (e *Emulator) handleDeviceConfirm(w http.ResponseWriter, r *http.Request) {
	ix, ok := e.interactionFrom(w, r)
	if !ok {
		return
	}
	user, ok := e.interactionUser(w, r, ix)
	if !ok {
		return
	}
	if r.PostForm.Get("action") != "continue" {
		e.declineDevice(ix.deviceCode)
		e.devicePage(w, r, "You declined to sign in to "+ix.client.DisplayName+" on the other device. You may now close this window.")
		return
	}
	if e.flows.policy(user.TenantID).blockDeviceCode {
		ae := errBlockedByConditionalAccess()
		e.failDevice(ix.deviceCode, ae)
		e.writePage(w, r, http.StatusOK, pageData{View: "error", Title: "You cannot access this right now", User: user.signInName(),
			Message: "Your sign-in was successful but does not meet the criteria to access this resource.", Details: e.describe(r, ae)})
		return
	}
	if !e.dir.delegatedGranted(user.TenantID, ix.client.ClientID, user.ObjectID, ix.scopes) {
		e.userConsentPage(w, r, ix, user)
		return
	}
	e.completeDevice(w, r, ix, user)
}

func (e *Emulator) completeDevice(w http.ResponseWriter, r *http.Request, ix *interaction, user User) {
	if err := e.approveDevice(ix.deviceCode, user); err != nil {
		e.devicePage(w, r, "That code didn't work. Check the code and try again.")
		return
	}
	e.flows.mu.Lock()
	delete(e.flows.interactions, ix.id)
	e.flows.mu.Unlock()
	e.devicePage(w, r, "You have signed in to the "+ix.client.DisplayName+" application on your device. You may now close this window.")
}

func (e *Emulator) devicePage(w http.ResponseWriter, r *http.Request, msg string) {
	e.writePage(w, r, http.StatusOK, pageData{View: "done", Title: "Microsoft", Message: msg})
}

// errNoPendingCode is returned for user codes that are unknown, expired or
// already used.
var errNoPendingCode = errors.New("no pending device code with that user code")

// changeDevice applies change to the pending flow of a device code.
func (e *Emulator) changeDevice(deviceCode string, change func(*deviceFlow)) error {
	e.flows.mu.Lock()
	defer e.flows.mu.Unlock()
	f, ok := e.flows.devices[deviceCode]
	if !ok || f.state != devicePending || e.now().Sub(f.issued) > deviceCodeLifetime {
		return errNoPendingCode
	}
	change(f)
	return nil
}

func (e *Emulator) approveDevice(deviceCode string, user User) error {
	return e.changeDevice(deviceCode, func(f *deviceFlow) {
		f.state, f.userOID, f.tenantID = deviceApproved, user.ObjectID, user.TenantID
	})
}

func (e *Emulator) declineDevice(deviceCode string) {
	_ = e.changeDevice(deviceCode, func(f *deviceFlow) { f.state = deviceDeclined }) // Already settled flows stay as they are.
}

func (e *Emulator) failDevice(deviceCode string, ae aadError) {
	_ = e.changeDevice(deviceCode, func(f *deviceFlow) { f.state, f.failure = deviceFailed, ae }) // As above.
}

// ApproveDeviceCode approves a user code as the user with the given
// sign-in name would on the pages (password and MFA taken as done), with
// the same outcomes: AADSTS50020 for a user outside the flow's tenant,
// AADSTS53003 when the tenant's Conditional Access blocks device code, and
// AADSTS65001 when the app lacks consent and the user may not give it.
// A user who may consent is taken to accept for themselves. The returned
// error says why the approval failed; the poll then answers the same.
func (e *Emulator) ApproveDeviceCode(userCode, user string) error {
	e.flows.mu.Lock()
	flow, ok := e.flows.devices[e.flows.userCodes[strings.ToUpper(userCode)]]
	var f deviceFlow
	if ok {
		f = *flow
	}
	e.flows.mu.Unlock()
	if !ok {
		return errNoPendingCode
	}
	ix := &interaction{kind: flowDevice, tenant: f.tenant, client: f.client}
	u, err := e.userFor(ix, user)
	var ae aadError
	switch {
	case errors.As(err, &ae):
		e.failDevice(f.deviceCode, ae)
		return ae
	case err != nil:
		return fmt.Errorf("approve device code: user %s: %w", user, err)
	}
	if e.flows.policy(u.TenantID).blockDeviceCode {
		ae := errBlockedByConditionalAccess()
		e.failDevice(f.deviceCode, ae)
		return ae
	}
	if !e.dir.delegatedGranted(u.TenantID, f.client.ClientID, u.ObjectID, f.scopes) {
		t, _ := e.dir.tenant(u.TenantID)
		if !u.canConsentForOrganization() && !t.UserConsent {
			ae := errConsentRequired(f.client.ClientID, f.client.DisplayName)
			e.failDevice(f.deviceCode, ae)
			return ae
		}
		e.dir.grantDelegated(u.TenantID, f.client.ClientID, u.ObjectID, f.scopes)
	}
	return e.approveDevice(f.deviceCode, u)
}

// DeclineDeviceCode declines a user code, as Cancel on the pages does.
func (e *Emulator) DeclineDeviceCode(userCode string) error {
	e.flows.mu.Lock()
	dc, ok := e.flows.userCodes[strings.ToUpper(userCode)]
	e.flows.mu.Unlock()
	if !ok {
		return errNoPendingCode
	}
	return e.changeDevice(dc, func(f *deviceFlow) { f.state = deviceDeclined })
}
