package entra

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// RevokeConsent removes every permission tenantID granted clientID and the
// app's service principal there, as deleting the enterprise app does.
func (e *Emulator) RevokeConsent(tenantID, clientID string) error {
	if err := e.dir.revokeConsent(tenantID, clientID); err != nil {
		return fmt.Errorf("revoke consent: %w", err)
	}
	return nil
}

// GrantAdminConsent records what an administrator accepting the admin
// consent page grants: the app's required roles and delegated scopes for
// the whole tenant.
func (e *Emulator) GrantAdminConsent(tenantID, clientID string) error {
	app, ok := e.dir.app(clientID)
	if !ok {
		return fmt.Errorf("grant admin consent: app %s: %w", clientID, errNotFound)
	}
	if err := e.dir.grantAppRoles(tenantID, app.ClientID, GraphAppID, app.RequiredRoles...); err != nil {
		return fmt.Errorf("grant admin consent: %w", err)
	}
	e.noteGrant(tenantID, app.ClientID)
	e.dir.grantDelegated(tenantID, app.ClientID, allPrincipals, app.RequiredScopes)
	return nil
}

// BlockDeviceCode turns a Conditional Access policy blocking the device
// code flow in the tenant on or off (AADSTS53003 when on).
func (e *Emulator) BlockDeviceCode(tenantID string, block bool) {
	e.flows.mu.Lock()
	defer e.flows.mu.Unlock()
	e.flows.policyLocked(tenantID).blockDeviceCode = block
}

// SlowDownDeviceCode makes device code polls to the authority segment
// (a tenant id, "organizations" or "common") answer slow_down when they
// come sooner than the 5-second interval. Off by default, because MSAL Go
// ignores the interval.
func (e *Emulator) SlowDownDeviceCode(authority string, on bool) {
	e.flows.mu.Lock()
	defer e.flows.mu.Unlock()
	e.flows.policyLocked(authority).slowDown = on
}

// SetUserConsent lets (or stops) users who are not admins consent for
// themselves in the tenant.
func (e *Emulator) SetUserConsent(tenantID string, allowed bool) error {
	if err := e.dir.setUserConsent(tenantID, allowed); err != nil {
		return fmt.Errorf("set user consent: %w", err)
	}
	return nil
}

// ExpireAppSecret makes the app's client secrets expired (AADSTS7000222),
// or valid again.
func (e *Emulator) ExpireAppSecret(clientID string, expired bool) error {
	if err := e.dir.setSecretExpired(clientID, expired); err != nil {
		return fmt.Errorf("expire app secret: %w", err)
	}
	return nil
}

// RotateAppSecret replaces the app's client secrets with secret, as an
// administrator who adds a new secret and deletes the old ones: the old
// secrets are then refused with AADSTS7000215, and the new one is not
// expired.
func (e *Emulator) RotateAppSecret(clientID, secret string) error {
	if secret == "" {
		return fmt.Errorf("rotate app secret: empty secret")
	}
	if err := e.dir.setSecrets(clientID, secret); err != nil {
		return fmt.Errorf("rotate app secret: %w", err)
	}
	return nil
}

// Reset forgets everything since New: consents, sessions, codes, tokens,
// policies and faults. Tenants, apps and users added after New go too.
func (e *Emulator) Reset() error {
	fresh := &Emulator{cfg: e.cfg, dir: newDirectory()}
	if err := fresh.seed(); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	e.dir.replace(fresh.dir)
	flows := newFlowState()
	e.flows.mu.Lock()
	defer e.flows.mu.Unlock()
	e.flows.sessions, e.flows.interactions, e.flows.codes = flows.sessions, flows.interactions, flows.codes
	e.flows.devices, e.flows.userCodes, e.flows.refresh = flows.devices, flows.userCodes, flows.refresh
	e.flows.policies, e.flows.faults, e.flows.idDefects = flows.policies, nil, flows.idDefects
	e.flows.grants, e.flows.propagation, e.flows.tenantPropagation = flows.grants, e.cfg.ConsentPropagation, flows.tenantPropagation
	return nil
}

// replace swaps in the contents of n.
func (d *directory) replace(n *directory) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tenants, d.domains, d.apps, d.users = n.tenants, n.domains, n.apps, n.users
	d.principals, d.roles, d.delegated, d.expiredSecrets = n.principals, n.roles, n.delegated, n.expiredSecrets
}

func (e *Emulator) controlFlowRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /_control/devicecode/approve", e.logged(control(e, func(req struct {
		UserCode string `json:"userCode"`
		User     string `json:"user"`
	}) error {
		return e.ApproveDeviceCode(req.UserCode, req.User)
	})))
	mux.HandleFunc("POST /_control/devicecode/decline", e.logged(control(e, func(req struct {
		UserCode string `json:"userCode"`
	}) error {
		return e.DeclineDeviceCode(req.UserCode)
	})))
	mux.HandleFunc("POST /_control/consent/revoke", e.logged(control(e, func(req struct {
		Tenant   string `json:"tenant"`
		ClientID string `json:"clientId"`
	}) error {
		return e.RevokeConsent(req.Tenant, req.ClientID)
	})))
	mux.HandleFunc("POST /_control/consent/grant", e.logged(control(e, func(req struct {
		Tenant   string `json:"tenant"`
		ClientID string `json:"clientId"`
	}) error {
		return e.GrantAdminConsent(req.Tenant, req.ClientID)
	})))
	mux.HandleFunc("POST /_control/refresh-tokens/revoke", e.logged(control(e, func(req struct {
		User  string `json:"user"`
		Token string `json:"token"`
	}) error {
		return refreshChange(req.Token, func() bool { return e.RevokeRefreshToken(req.Token) }, func() { e.RevokeRefreshTokens(req.User) })
	})))
	mux.HandleFunc("POST /_control/refresh-tokens/expire", e.logged(control(e, func(req struct {
		User  string `json:"user"`
		Token string `json:"token"`
	}) error {
		return refreshChange(req.Token, func() bool { return e.ExpireRefreshToken(req.Token) }, func() { e.ExpireRefreshTokens(req.User) })
	})))
	mux.HandleFunc("POST /_control/tenant-policy", e.logged(control(e, func(req struct {
		Tenant          string `json:"tenant"`
		BlockDeviceCode *bool  `json:"blockDeviceCode"`
		SlowDown        *bool  `json:"slowDown"`
		UserConsent     *bool  `json:"userConsent"`
	}) error {
		if req.Tenant == "" {
			return errors.New("tenant is required")
		}
		if req.BlockDeviceCode != nil {
			e.BlockDeviceCode(req.Tenant, *req.BlockDeviceCode)
		}
		if req.SlowDown != nil {
			e.SlowDownDeviceCode(req.Tenant, *req.SlowDown)
		}
		if req.UserConsent != nil {
			return e.SetUserConsent(req.Tenant, *req.UserConsent)
		}
		return nil
	})))
	mux.HandleFunc("POST /_control/app-secret/expire", e.logged(control(e, func(req struct {
		ClientID string `json:"clientId"`
		Expired  *bool  `json:"expired"`
	}) error {
		return e.ExpireAppSecret(req.ClientID, req.Expired == nil || *req.Expired)
	})))
	mux.HandleFunc("POST /_control/app-secret/rotate", e.logged(control(e, func(req struct {
		ClientID string `json:"clientId"`
		Secret   string `json:"secret"`
	}) error {
		return e.RotateAppSecret(req.ClientID, req.Secret)
	})))
	mux.HandleFunc("POST /_control/faults", e.logged(control(e, func(req struct {
		Fault
		DelayMS int `json:"delayMs"`
	}) error {
		req.Fault.Delay = time.Duration(req.DelayMS) * time.Millisecond
		return e.InjectFault(req.Fault)
	})))
	mux.HandleFunc("POST /_control/reset", e.logged(func(w http.ResponseWriter, r *http.Request) {
		if err := e.Reset(); err != nil {
			e.log.ErrorContext(r.Context(), "entra emulator reset", "err", err)
			writeJSON(w, http.StatusInternalServerError, controlError{"server_error", "reset failed"})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
}

func refreshChange(token string, one func() bool, all func()) error {
	if token != "" {
		if !one() {
			return errors.New("no such refresh token")
		}
		return nil
	}
	all()
	return nil
}

// control decodes a strict JSON body into T, runs do, and answers 204, or
// 400 with the error (control errors name no secrets).
func control[T any](e *Emulator, do func(T) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req T
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxControlBytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, controlError{"invalid_request", "body must be a JSON object with the documented fields"})
			return
		}
		if err := do(req); err != nil {
			writeJSON(w, http.StatusBadRequest, controlError{"invalid_request", err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
