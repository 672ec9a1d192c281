package entra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FaultKind names the endpoint family a fault applies to.
type FaultKind string

// The endpoint families faults can be injected into.
const (
	FaultToken        FaultKind = "token"
	FaultDeviceCode   FaultKind = "devicecode"
	FaultAuthorize    FaultKind = "authorize"
	FaultAdminConsent FaultKind = "adminconsent"
	FaultGraph        FaultKind = "graph"
)

// Fault is a failure the next Count matching requests get instead of their
// normal answer (after Delay, when set).
type Fault struct {
	// Kind is the endpoint family.
	Kind FaultKind `json:"kind"`
	// Tenant limits the fault to requests for one tenant (id, domain or
	// the path segment); empty matches every tenant.
	Tenant string `json:"tenant,omitempty"`
	// Count is how many requests get it; 0 means 1.
	Count int `json:"count,omitempty"`
	// AADSTS is an error number to answer with: 65001, 700016, 50020,
	// 90094, 7000215, 700082 or 53003. Token endpoints answer it as JSON;
	// authorize and adminconsent redirect it to the app.
	AADSTS int `json:"aadsts,omitempty"`
	// Status is 429 or 503, answered with Retry-After.
	Status int `json:"status,omitempty"`
	// RetryAfter is the Retry-After header in seconds; 0 means 1.
	RetryAfter int `json:"retryAfter,omitempty"`
	// Delay slows the answer down; with neither AADSTS nor Status the
	// request then proceeds normally.
	Delay time.Duration `json:"delay,omitempty"`
}

// fault is an armed Fault with its remaining count.
type fault struct {
	Fault
	remaining int
}

// InjectFault arms f for the next f.Count matching requests.
func (e *Emulator) InjectFault(f Fault) error {
	switch f.Kind {
	case FaultToken, FaultDeviceCode, FaultAuthorize, FaultAdminConsent, FaultGraph:
	default:
		return fmt.Errorf("inject fault: unknown kind %q", f.Kind)
	}
	if f.AADSTS != 0 {
		if _, ok := injectableError(f.AADSTS, "", ""); !ok {
			return fmt.Errorf("inject fault: AADSTS%d is not injectable", f.AADSTS)
		}
		if f.Kind == FaultGraph {
			return errors.New("inject fault: Graph answers HTTP errors, not AADSTS codes")
		}
	}
	if f.Status != 0 && f.Status != http.StatusTooManyRequests && f.Status != http.StatusServiceUnavailable {
		return fmt.Errorf("inject fault: status %d is not 429 or 503", f.Status)
	}
	if f.AADSTS != 0 && f.Status != 0 {
		return errors.New("inject fault: set AADSTS or Status, not both")
	}
	if f.AADSTS == 0 && f.Status == 0 && f.Delay <= 0 {
		return errors.New("inject fault: set AADSTS, Status or Delay")
	}
	if f.Delay < 0 || f.Delay > time.Minute || f.Count < 0 || f.RetryAfter < 0 {
		return errors.New("inject fault: count, retryAfter and delay (at most a minute) must not be negative")
	}
	if f.Count == 0 {
		f.Count = 1
	}
	if f.RetryAfter == 0 {
		f.RetryAfter = 1
	}
	e.flows.mu.Lock()
	defer e.flows.mu.Unlock()
	e.flows.faults = append(e.flows.faults, &fault{Fault: f, remaining: f.Count})
	return nil
}

// takeFault consumes the first armed fault of kind matching one of the
// tenant names, and waits out its delay.
func (e *Emulator) takeFault(ctx context.Context, kind FaultKind, tenants ...string) (Fault, bool) {
	e.flows.mu.Lock()
	var got *Fault
	for i, f := range e.flows.faults {
		if f.Kind != kind || !tenantMatches(f.Tenant, tenants) {
			continue
		}
		f.remaining--
		c := f.Fault
		got = &c
		if f.remaining <= 0 {
			e.flows.faults = append(e.flows.faults[:i:i], e.flows.faults[i+1:]...)
		}
		break
	}
	e.flows.mu.Unlock()
	if got == nil {
		return Fault{}, false
	}
	if got.Delay > 0 {
		t := time.NewTimer(got.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return *got, got.AADSTS != 0 || got.Status != 0
}

func tenantMatches(want string, names []string) bool {
	if want == "" {
		return true
	}
	for _, n := range names {
		if n != "" && strings.EqualFold(want, n) {
			return true
		}
	}
	return false
}

// writeStatusFault answers 429 or 503 with Retry-After in the identity
// platform's error shape.
func (e *Emulator) writeStatusFault(w http.ResponseWriter, r *http.Request, f Fault) {
	w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	code := "temporarily_unavailable"
	msg := "The service is temporarily unavailable. Retry the request after the interval in Retry-After."
	number := 90033 // A transient error has occurred. Please try again.
	if f.Status == http.StatusTooManyRequests {
		code, msg, number = "temporarily_unavailable", "Too many requests. Retry the request after the interval in Retry-After.", 90055
	}
	e.writeAADError(w, r, aadError{f.Status, code, number, msg})
}

// tokenFault answers a token-endpoint family request with an armed fault,
// reporting whether it did.
func (e *Emulator) tokenFault(w http.ResponseWriter, r *http.Request, kind FaultKind, clientID string, rt resolvedTenant) bool {
	tid := ""
	if rt.tenant != nil {
		tid = rt.tenant.ID
	}
	f, ok := e.takeFault(r.Context(), kind, rt.segment, tid)
	if !ok {
		return false
	}
	if f.Status != 0 {
		e.writeStatusFault(w, r, f)
		return true
	}
	ae, _ := injectableError(f.AADSTS, clientID, tid)
	e.writeAADError(w, r, ae)
	return true
}
