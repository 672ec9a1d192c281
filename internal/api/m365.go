package api

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// M365 is what the M365 Settings routes need from the domain.
type M365 interface {
	Settings(ctx context.Context, operatorID, customerID string) (upgrade.M365Connection, error)
	Validate(ctx context.Context, operatorID, customerID string) (upgrade.Validation, error)
}

// NewM365Handler returns the Handler of TokenValidationFunction's routes:
// the M365 Settings page and "Validate Authentication" (guide steps 27-29).
func NewM365Handler(m M365, operatorClaim string, log *slog.Logger) (*Handler, error) {
	if m == nil {
		return nil, errors.New("api: nil M365")
	}
	if operatorClaim == "" {
		operatorClaim = DefaultOperatorClaim
	}
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{claim: operatorClaim, log: log}
	mr := m365Routes{m: m, now: time.Now}
	h.routes = map[string]route{
		"GET /v1/customers/{id}/m365":           mr.settings,
		"POST /v1/customers/{id}/m365/validate": mr.validate,
	}
	return h, nil
}

type m365Routes struct {
	m   M365
	now func() time.Time
}

type failureJSON struct {
	Code              string   `json:"code"`
	Reason            string   `json:"reason"`
	AADSTS            int      `json:"aadsts,omitempty"`
	Transient         bool     `json:"transient"`
	RetryAfterSeconds int      `json:"retryAfterSeconds,omitempty"`
	Missing           []string `json:"missingPermissions,omitempty"`
}

type checkJSON struct {
	Passed       bool         `json:"passed"`
	Account      string       `json:"account,omitempty"`
	TenantDomain string       `json:"tenantDomain,omitempty"`
	Permissions  []string     `json:"permissions,omitempty"`
	Failure      *failureJSON `json:"failure,omitempty"`
}

type validationJSON struct {
	At          time.Time  `json:"at"`
	TenantID    string     `json:"tenantId"`
	Passed      bool       `json:"passed"`
	Application checkJSON  `json:"application"`
	Delegated   *checkJSON `json:"delegated,omitempty"`
}

func checkOut(c upgrade.CheckResult) checkJSON {
	out := checkJSON{Passed: c.Passed, Account: c.Account, TenantDomain: c.TenantDomain, Permissions: c.Permissions}
	if f := c.Failure; f != nil {
		out.Failure = &failureJSON{Code: f.Code, Reason: f.Reason, AADSTS: f.AADSTS, Transient: f.Transient,
			RetryAfterSeconds: int(math.Ceil(f.RetryAfter.Seconds())), Missing: f.Missing}
	}
	return out
}

func validationOut(v upgrade.Validation) validationJSON {
	out := validationJSON{At: v.At.UTC(), TenantID: v.TenantID, Passed: v.Passed(), Application: checkOut(v.Application)}
	if v.Delegated != nil {
		d := checkOut(*v.Delegated)
		out.Delegated = &d
	}
	return out
}

type m365JSON struct {
	CustomerID          string          `json:"customerId"`
	TenantID            string          `json:"tenantId"`
	TenantDomain        string          `json:"tenantDomain,omitempty"`
	ApplicationID       string          `json:"applicationId"`
	GrantedPermissions  []string        `json:"grantedPermissions"`
	ConsentedAt         time.Time       `json:"consentedAt"`
	ConsentedBy         string          `json:"consentedBy,omitempty"`
	Account             string          `json:"account,omitempty"`
	Access              string          `json:"access"`
	CredentialExpiresAt *time.Time      `json:"credentialExpiresAt,omitempty"`
	CredentialDaysLeft  *int            `json:"credentialDaysLeft,omitempty"`
	LastValidation      *validationJSON `json:"lastValidation,omitempty"`
}

func (mr m365Routes) settings(ctx context.Context, r request) (result, error) {
	id, err := pathID(r)
	if err != nil {
		return result{}, err
	}
	c, err := mr.m.Settings(ctx, r.operatorID, id)
	if err != nil {
		return result{}, err
	}
	out := m365JSON{CustomerID: c.CustomerID, TenantID: c.TenantID, TenantDomain: c.TenantDomain, ApplicationID: c.ApplicationID,
		GrantedPermissions: append([]string{}, c.GrantedPermissions...), ConsentedAt: c.ConsentedAt.UTC(), ConsentedBy: c.ConsentedBy,
		Account: c.Account, Access: string(c.Access)}
	if !c.CredentialExpiresAt.IsZero() {
		exp := c.CredentialExpiresAt.UTC()
		days := int(math.Floor(exp.Sub(mr.now()).Hours() / 24))
		out.CredentialExpiresAt, out.CredentialDaysLeft = &exp, &days
	}
	if c.LastValidation != nil {
		v := validationOut(*c.LastValidation)
		out.LastValidation = &v
	}
	return result{status: http.StatusOK, body: out}, nil
}

// validate answers 200 with the stored result, passed or failed: the
// request worked, the tenant's state is what the body reports.
func (mr m365Routes) validate(ctx context.Context, r request) (result, error) {
	id, err := pathID(r)
	if err != nil {
		return result{}, err
	}
	v, err := mr.m.Validate(ctx, r.operatorID, id)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: validationOut(v)}, nil
}
