package upgrade

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/metric"
)

// TenantRef names the customer tenant a validation is for, and the
// invitation whose kept delegated credential it may use.
type TenantRef struct {
	OperatorID   string
	CustomerID   string
	TenantID     string
	InvitationID string
	// ConsentedAt is when the tenant's consent was proven; for a while
	// after it Microsoft's token service may not see the consent yet.
	ConsentedAt time.Time
}

// Validator runs "Validate Authentication": real tokens for the tenant and
// real Graph calls with them. It returns an error only when it could not
// run at all (a bug, the database); Microsoft's refusals are failures inside
// the Validation.
type Validator interface {
	Validate(ctx context.Context, t TenantRef) (Validation, error)
}

// KeptCredential is a kept delegated refresh token as the validation reads
// it: sealed, and whether it came from a public client flow (device code),
// whose refresh Entra refuses with the client secret (AADSTS700025).
type KeptCredential struct {
	Sealed []byte
	Public bool
}

// CredentialContext is the encryption context a kept refresh token is
// sealed with, by the wizard that keeps it and the validation that opens
// and rotates it. It binds the blob to its tenant and invitation and names
// its purpose, on which the roles that may decrypt refresh tokens are
// conditioned.
func CredentialContext(tenantID, invitationID string) map[string]string {
	return map[string]string{"tenantId": tenantID, "invitationId": invitationID, "purpose": "refresh_token"}
}

// The stable codes of validation failures. The portal may switch on them.
const (
	FailureConsentRevoked       = "consent_revoked"
	FailureAppNotInTenant       = "app_not_in_tenant"
	FailureMissingPermissions   = "missing_permissions"
	FailureWrongTenant          = "wrong_tenant"
	FailureSecretExpired        = "secret_expired"
	FailureSecretInvalid        = "secret_invalid"
	FailureRefreshTokenExpired  = "refresh_token_expired"
	FailureRefreshTokenRevoked  = "refresh_token_revoked"
	FailureConditionalAccess    = "conditional_access"
	FailureMicrosoftUnavailable = "microsoft_unavailable"
	FailureThrottled            = "throttled"
	FailureGraphRefused         = "graph_refused"
	FailureNoCredential         = "no_credential"
	FailureNoTenant             = "no_tenant"
	FailureOther                = "other"
)

// CheckFailure says why one check failed, for the operator.
type CheckFailure struct {
	// Code is one of the Failure constants.
	Code string
	// Reason is an operator-readable sentence.
	Reason string
	// AADSTS is Microsoft's error number, 0 when Microsoft gave none.
	AADSTS int
	// Transient failures (throttling, Microsoft unavailable, timeouts) may
	// pass on a later try, after RetryAfter when Microsoft said so.
	Transient  bool
	RetryAfter time.Duration
	// Missing lists required permissions the token did not carry.
	Missing []string
}

// CheckResult is the outcome of one check. Validators build a passing
// result only from a successful Graph answer.
type CheckResult struct {
	Passed bool
	// Account is the signed-in account Graph /me reported (delegated).
	Account string
	// TenantDomain is the tenant's default domain Graph /organization
	// reported (application).
	TenantDomain string
	// Permissions are the application permissions the token carried.
	Permissions []string
	Failure     *CheckFailure
}

// Validation is one run of both checks, stored with its time.
type Validation struct {
	At          time.Time
	TenantID    string
	Application CheckResult
	// Delegated is nil when no delegated credential is kept for the tenant.
	Delegated *CheckResult
}

// Passed reports whether every check that ran passed.
func (v Validation) Passed() bool {
	return v.Application.Passed && (v.Delegated == nil || v.Delegated.Passed)
}

// FirstFailure returns the application failure, else the delegated one,
// else the zero CheckFailure.
func (v Validation) FirstFailure() CheckFailure {
	if f := v.Application.Failure; f != nil && !v.Application.Passed {
		return *f
	}
	if v.Delegated != nil && v.Delegated.Failure != nil && !v.Delegated.Passed {
		return *v.Delegated.Failure
	}
	return CheckFailure{}
}

// Err turns a failed validation into the error the operator sees: nil when
// it passed, Unavailable with Microsoft's Retry-After when the failure is
// transient, Unprocessable with the reason as a field error on "tenant"
// otherwise.
func (v Validation) Err() error {
	if v.Passed() {
		return nil
	}
	f := v.FirstFailure()
	msg := f.Reason
	if f.AADSTS != 0 {
		msg = fmt.Sprintf("%s (AADSTS%d)", f.Reason, f.AADSTS)
	}
	if f.Transient {
		return &fault.Error{Kind: fault.Unavailable, Detail: "Microsoft could not be reached to validate the tenant: " + msg,
			RetryAfter: f.RetryAfter, Fields: []fault.FieldError{{Field: FieldTenant, Code: f.Code, Message: msg}}}
	}
	return &fault.Error{Kind: fault.Unprocessable, Detail: "The customer tenant did not pass validation: " + msg,
		Fields: []fault.FieldError{{Field: FieldTenant, Code: f.Code, Message: msg}}}
}

// FieldTenant names the customer tenant in field errors of a failed
// validation.
const FieldTenant = "tenant"

// Access says whether the operator's access to a tenant works.
type Access string

// The access states of an M365 connection.
const (
	AccessUnknown Access = "UNKNOWN"
	AccessWorking Access = "WORKING"
	// AccessStopped: the last validation failed permanently; the operator
	// must act (for example "Re-initiate Authentication Flow").
	AccessStopped Access = "STOPPED"
	// AccessDegraded: the last validation failed transiently.
	AccessDegraded Access = "DEGRADED"
)

// AccessOf classifies a validation.
func AccessOf(v Validation) Access {
	switch {
	case v.Passed():
		return AccessWorking
	case v.FirstFailure().Transient:
		return AccessDegraded
	}
	return AccessStopped
}

// M365Connection is what is known of a customer's Microsoft 365 tenant:
// the M365 Settings page (guide steps 27-29).
type M365Connection struct {
	OperatorID    string
	CustomerID    string
	TenantID      string
	TenantDomain  string
	ApplicationID string
	// GrantedPermissions are the application permissions consent granted.
	GrantedPermissions []string
	ConsentedAt        time.Time
	// ConsentedBy is the UPN of the administrator; ConsentedByObjectID
	// their Entra object id.
	ConsentedBy         string
	ConsentedByObjectID string
	// InvitationID is the invitation whose delegated credential is kept.
	InvitationID string
	// Account is the account the kept credential signs in as.
	Account        string
	Access         Access
	LastValidation *Validation
	// CredentialExpiresAt is when the application's secret or certificate
	// expires; zero when unknown. It is configuration, not stored.
	CredentialExpiresAt time.Time
}

// connectionOf builds the consent facts of a completed invitation.
func connectionOf(operatorID string, inv Invitation, appID string) M365Connection {
	return M365Connection{OperatorID: operatorID, CustomerID: inv.CustomerID, TenantID: inv.TenantID, ApplicationID: appID,
		GrantedPermissions: sortedUnique(inv.GrantedPermissions), ConsentedAt: inv.AuthenticatedAt,
		ConsentedBy: inv.AuthenticatedBy, ConsentedByObjectID: inv.AuthenticatedByObjectID, InvitationID: inv.ID,
		Access: AccessUnknown}
}

// M365Store keeps the M365 connections.
type M365Store interface {
	GetCustomer(ctx context.Context, operatorID, id string) (Customer, error)
	GetInvitation(ctx context.Context, id string) (Invitation, error)
	// GetM365 returns ErrNotFound when the customer has no connection yet.
	GetM365(ctx context.Context, operatorID, customerID string) (M365Connection, error)
	// PutM365 records the consent facts of c (not its validation), keeping
	// any stored validation; it is idempotent.
	PutM365(ctx context.Context, c M365Connection) error
	// SaveValidation stores v as the connection's last validation, its
	// access state and, from the delegated check, its account, and
	// schedules the next keep-alive at next. eventID, when not empty, is
	// remembered: a second save with the same eventID returns
	// ErrDuplicateEvent and changes nothing.
	SaveValidation(ctx context.Context, operatorID, customerID string, v Validation, next time.Time, eventID string) error
	// DueKeepAlive lists connections whose keep-alive is due at now.
	DueKeepAlive(ctx context.Context, now time.Time, limit int) ([]M365Key, error)
	// MarkReadyToResume moves a PENDING_AUTHENTICATION upgrade to
	// READY_TO_RESUME; any other state is left alone without error.
	MarkReadyToResume(ctx context.Context, operatorID, upgradeID string) error
}

// M365Key names one connection.
type M365Key struct{ OperatorID, CustomerID string }

// ErrDuplicateEvent says an event was handled before.
var ErrDuplicateEvent = errors.New("event already handled")

// KeepAliveInterval is how often kept credentials are used: far inside
// Microsoft's 90-day inactivity limit for refresh tokens, so that a few
// failed runs still leave weeks to notice.
const KeepAliveInterval = 14 * 24 * time.Hour

// keepAliveRetry is when a connection whose check failed transiently is
// tried again.
const keepAliveRetry = 6 * time.Hour

// keepAliveBatch bounds how many connections one run checks.
const keepAliveBatch = 200

// AuthenticationCompleted is the wizard's event, as the M365 service reads
// it.
type AuthenticationCompleted struct {
	EventID      string
	OperatorID   string
	CustomerID   string
	UpgradeID    string
	InvitationID string
	// ServiceID is the upgrade's service; the token validation does not
	// need it, the event carries it for other receivers.
	ServiceID string
	TenantID  string
}

// M365Deps are the M365 service's collaborators; Logger and
// CredentialExpiry are optional.
type M365Deps struct {
	Store         M365Store
	Validator     Validator
	Clock         Clock
	ApplicationID string
	// CredentialExpiry returns when the application credential expires;
	// zero when unknown.
	CredentialExpiry func(ctx context.Context) (time.Time, error)
	Logger           *slog.Logger
}

// M365 is the M365 Settings page and its "Validate Authentication" (guide
// steps 27-29), the automatic validation after consent and the keep-alive
// of kept credentials.
type M365 struct {
	store     M365Store
	validator Validator
	clock     Clock
	appID     string
	expiry    func(ctx context.Context) (time.Time, error)
	log       *slog.Logger
}

// NewM365 checks d and returns an M365 service.
func NewM365(d M365Deps) (*M365, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("upgrade: nil M365Store")
	case d.Validator == nil:
		return nil, errors.New("upgrade: nil Validator")
	case d.Clock == nil:
		return nil, errors.New("upgrade: nil Clock")
	case d.ApplicationID == "":
		return nil, errors.New("upgrade: empty application id")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.CredentialExpiry == nil {
		d.CredentialExpiry = func(context.Context) (time.Time, error) { return time.Time{}, nil }
	}
	return &M365{store: d.Store, validator: d.Validator, clock: d.Clock, appID: d.ApplicationID, expiry: d.CredentialExpiry, log: d.Logger}, nil
}

// Settings returns the customer's M365 connection; NotFound until an
// administrator of the customer completed consent.
func (m *M365) Settings(ctx context.Context, operatorID, customerID string) (M365Connection, error) {
	if _, err := m.store.GetCustomer(ctx, operatorID, customerID); err != nil {
		return M365Connection{}, storeError("get customer", err, asked{})
	}
	c, err := m.store.GetM365(ctx, operatorID, customerID)
	if errors.Is(err, ErrNotFound) {
		return M365Connection{}, fault.NotFoundf("No Microsoft 365 tenant is connected to this customer yet.")
	}
	if err != nil {
		return M365Connection{}, fmt.Errorf("get m365 of %s: %w", customerID, err)
	}
	c.ApplicationID = m.appID
	if exp, err := m.expiry(ctx); err != nil {
		m.log.WarnContext(ctx, "application credential expiry unknown", "error", err)
	} else {
		c.CredentialExpiresAt = exp
	}
	return c, nil
}

// Validate runs "Validate Authentication" for the customer and stores the
// result, failed or not.
func (m *M365) Validate(ctx context.Context, operatorID, customerID string) (Validation, error) {
	c, err := m.Settings(ctx, operatorID, customerID)
	if err != nil {
		return Validation{}, err
	}
	v, err := m.run(ctx, c, "")
	if errors.Is(err, ErrDuplicateEvent) {
		err = nil
	}
	return v, err
}

func (m *M365) run(ctx context.Context, c M365Connection, eventID string) (Validation, error) {
	v, err := m.validator.Validate(ctx, TenantRef{OperatorID: c.OperatorID, CustomerID: c.CustomerID,
		TenantID: c.TenantID, InvitationID: c.InvitationID, ConsentedAt: c.ConsentedAt})
	if err != nil {
		return Validation{}, fmt.Errorf("validate tenant of customer %s: %w", c.CustomerID, err)
	}
	next := v.At.Add(KeepAliveInterval)
	if !v.Passed() && v.FirstFailure().Transient {
		next = v.At.Add(keepAliveRetry)
	}
	if err := m.store.SaveValidation(ctx, c.OperatorID, c.CustomerID, v, next, eventID); err != nil {
		return v, fmt.Errorf("save validation of customer %s: %w", c.CustomerID, err)
	}
	attrs := []any{"customerId", c.CustomerID, "tenantId", c.TenantID, "passed", v.Passed()}
	if !v.Passed() {
		// Every validation comes through here (Validate Authentication,
		// Authentication Completed, the keep-alive), so this is where the
		// alarm's metric counts them, permanent failures included.
		metric.Count(ctx, m.log, metric.ValidationsFailed, 1)
		f := v.FirstFailure()
		attrs = append(attrs, "code", f.Code, "aadsts", f.AADSTS, "transient", f.Transient)
	}
	m.log.InfoContext(ctx, "tenant validated", attrs...)
	return v, nil
}

// AuthenticationCompleted records the consent facts of the completed
// invitation, marks its upgrade READY_TO_RESUME and validates the tenant
// at once. A second delivery of the same event changes nothing. A transient
// validation failure is returned, so that EventBridge retries the event.
func (m *M365) AuthenticationCompleted(ctx context.Context, e AuthenticationCompleted) error {
	inv, err := m.store.GetInvitation(ctx, e.InvitationID)
	if err != nil {
		return fmt.Errorf("get invitation %s: %w", e.InvitationID, err)
	}
	if inv.OperatorID != e.OperatorID || inv.Status != InvitationAuthenticationComplete || inv.TenantID == "" {
		// An event that does not match the record is stale (the invitation
		// was revoked since) or forged; retrying cannot help.
		m.log.WarnContext(ctx, "Authentication Completed ignored: invitation does not match",
			"invitationId", e.InvitationID, "status", inv.Status)
		return nil
	}
	c := connectionOf(inv.OperatorID, inv, m.appID)
	if err := m.store.PutM365(ctx, c); err != nil {
		return fmt.Errorf("record m365 of customer %s: %w", c.CustomerID, err)
	}
	if err := m.store.MarkReadyToResume(ctx, inv.OperatorID, inv.UpgradeID); err != nil {
		return fmt.Errorf("mark upgrade %s ready: %w", inv.UpgradeID, err)
	}
	v, err := m.run(ctx, c, e.EventID)
	if errors.Is(err, ErrDuplicateEvent) {
		m.log.InfoContext(ctx, "Authentication Completed already handled", "eventId", e.EventID)
		return nil
	}
	if err != nil {
		return err
	}
	if !v.Passed() && v.FirstFailure().Transient {
		return fmt.Errorf("validation of tenant %s failed transiently (%s); retry", c.TenantID, v.FirstFailure().Code)
	}
	return nil
}

// KeepAliveReport counts what one keep-alive run did.
type KeepAliveReport struct {
	Checked, Working, Stopped, Degraded int
}

// KeepAlive validates every connection whose keep-alive is due: the
// delegated check redeems (and so renews) the kept refresh token long
// before Microsoft's 90-day inactivity expiry, and a connection whose
// access stopped working is marked STOPPED for the operator to see.
func (m *M365) KeepAlive(ctx context.Context) (KeepAliveReport, error) {
	now := m.clock.Now().UTC()
	due, err := m.store.DueKeepAlive(ctx, now, keepAliveBatch)
	if err != nil {
		return KeepAliveReport{}, fmt.Errorf("list due keep-alives: %w", err)
	}
	var r KeepAliveReport
	var errs []error
	for _, k := range due {
		c, err := m.store.GetM365(ctx, k.OperatorID, k.CustomerID)
		if err != nil {
			errs = append(errs, fmt.Errorf("get m365 of %s: %w", k.CustomerID, err))
			continue
		}
		v, err := m.run(ctx, c, "")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.Checked++
		switch AccessOf(v) {
		case AccessWorking:
			r.Working++
		case AccessDegraded:
			r.Degraded++
		default:
			r.Stopped++
			m.log.WarnContext(ctx, "access to a customer tenant stopped working", "customerId", c.CustomerID,
				"tenantId", c.TenantID, "code", v.FirstFailure().Code, "aadsts", v.FirstFailure().AADSTS)
		}
	}
	m.log.InfoContext(ctx, "keep-alive run", "checked", r.Checked, "working", r.Working, "stopped", r.Stopped, "degraded", r.Degraded)
	return r, errors.Join(errs...)
}

// sortedUnique returns the distinct values of s in order.
func sortedUnique(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
