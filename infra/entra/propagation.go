package entra

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Admin consent takes time to reach the token service: for a while after
// a grant, client credentials for the tenant answer AADSTS700016 (the
// service principal is not replicated yet), then tokens without roles
// (the app role assignments are not), before tokens carry the granted
// roles. The emulator reproduces that window when it is set: its first
// half answers 700016, its second half issues tokens without roles.

// SetConsentPropagation sets how long a grant of application permissions
// takes to reach client credentials tokens, in one tenant, or in every
// tenant without a setting of its own when tenantID is empty; 0 (the
// default) makes it immediate. It applies to grants made from now on.
// A setting per tenant lets one test wait without slowing the others.
func (e *Emulator) SetConsentPropagation(tenantID string, d time.Duration) error {
	if d < 0 || d > time.Hour {
		return fmt.Errorf("consent propagation %s: want 0 to 1h", d)
	}
	e.flows.mu.Lock()
	defer e.flows.mu.Unlock()
	if tenantID == "" {
		e.flows.propagation = d
		return nil
	}
	e.flows.tenantPropagation[strings.ToLower(tenantID)] = d
	return nil
}

// noteGrant records when tenantID granted clientID application
// permissions, with the propagation window then in force.
func (e *Emulator) noteGrant(tenantID, clientID string) {
	e.flows.mu.Lock()
	defer e.flows.mu.Unlock()
	window, ok := e.flows.tenantPropagation[strings.ToLower(tenantID)]
	if !ok {
		window = e.flows.propagation
	}
	if window <= 0 {
		delete(e.flows.grants, grantKey(tenantID, clientID))
		return
	}
	e.flows.grants[grantKey(tenantID, clientID)] = grantNote{at: e.now(), window: window}
}

// grantNote is a grant still on its way to the token service.
type grantNote struct {
	at     time.Time
	window time.Duration
}

func grantKey(tenantID, clientID string) string {
	return strings.ToLower(tenantID) + "|" + strings.ToLower(clientID)
}

// propagationStage says where a grant is on its way: not yet seen by the
// token service (700016), seen without its roles, or arrived.
type propagationStage int

const (
	propagated propagationStage = iota
	principalPending
	rolesPending
)

func (e *Emulator) propagation(tenantID, clientID string) propagationStage {
	e.flows.mu.Lock()
	defer e.flows.mu.Unlock()
	n, ok := e.flows.grants[grantKey(tenantID, clientID)]
	if !ok {
		return propagated
	}
	switch age := e.now().Sub(n.at); {
	case age < n.window/2:
		return principalPending
	case age < n.window:
		return rolesPending
	}
	delete(e.flows.grants, grantKey(tenantID, clientID))
	return propagated
}

func (e *Emulator) propagationControlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /_control/consent/propagation", e.logged(control(e, func(req struct {
		Tenant  string `json:"tenant"`
		Seconds int    `json:"seconds"`
	}) error {
		return e.SetConsentPropagation(req.Tenant, time.Duration(req.Seconds)*time.Second)
	})))
}
