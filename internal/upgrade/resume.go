package upgrade

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/fault"
)

// Completion is what CompleteUpgrade writes in one atomic step: the
// service becomes ACTIVE with the confirmed licence and users, the
// customer's licence and user totals follow, the SIP connection is created,
// the upgrade is COMPLETED and the tenant's M365 record takes the
// validation that allowed it.
type Completion struct {
	OperatorID string
	UpgradeID  string
	// Service is the service as it becomes: ACTIVE, confirmed licence and
	// users.
	Service Service
	// PreviousUsers is what the service reserved until now; the customer's
	// reservation moves by Service.LicensedUsers - PreviousUsers.
	PreviousUsers int
	SIP           SIPConnection
	M365          M365Connection
	Validation    Validation
	At            time.Time
	// Events go to the outbox in the same atomic step.
	Events []event.Message
}

// FinishStore is what the Finisher needs beyond reading upgrades.
type FinishStore interface {
	GetCustomer(ctx context.Context, operatorID, id string) (Customer, error)
	GetUpgrade(ctx context.Context, operatorID, id string) (Upgrade, error)
	GetInvitation(ctx context.Context, id string) (Invitation, error)
	// CompleteUpgrade writes c atomically. It fails, changing nothing, with
	// ErrStateChanged when the upgrade is no longer waiting (completed or
	// cancelled meanwhile) or its invitation is no longer
	// AUTHENTICATION_COMPLETE, a *LicenseError when the customer's licence
	// is not lower, a *UserLimitError when the users do not fit.
	CompleteUpgrade(ctx context.Context, c Completion) error
	// CancelUpgrade cancels a waiting upgrade atomically: upgrade and
	// service CANCELLED, a live or completed invitation REVOKED, the short
	// name freed and the users released. It returns ErrStateChanged when
	// the upgrade is no longer waiting.
	CancelUpgrade(ctx context.Context, operatorID, upgradeID string, at time.Time) error
	// GetService returns a service with its SIP connections.
	GetService(ctx context.Context, operatorID, id string) (ServiceDetails, error)
	// ListCustomerServices lists a customer's services, newest first.
	ListCustomerServices(ctx context.Context, operatorID, customerID string) ([]Service, error)
}

// ErrStateChanged says a conditional write lost because the record moved
// on since it was read.
var ErrStateChanged = errors.New("state changed")

// FinishDeps are the Finisher's collaborators; Logger is optional.
type FinishDeps struct {
	Store     FinishStore
	Validator Validator
	Clock     Clock
	IDs       IDSource
	// SIPDomain is the operator domain SIP connection FQDNs are built under.
	SIPDomain string
	// ApplicationID is the operator's Entra application (client) id.
	ApplicationID string
	Logger        *slog.Logger
}

// Finisher resumes and cancels upgrades (guide steps 22-26) and shows the
// services they create.
type Finisher struct {
	store     FinishStore
	validator Validator
	clock     Clock
	ids       IDSource
	sipDomain string
	appID     string
	log       *slog.Logger
}

// NewFinisher checks d and returns a Finisher.
func NewFinisher(d FinishDeps) (*Finisher, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("upgrade: nil FinishStore")
	case d.Validator == nil:
		return nil, errors.New("upgrade: nil Validator")
	case d.Clock == nil:
		return nil, errors.New("upgrade: nil Clock")
	case d.IDs == nil:
		return nil, errors.New("upgrade: nil IDSource")
	case strings.Trim(d.SIPDomain, ".") == "":
		return nil, errors.New("upgrade: empty SIP domain")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Finisher{store: d.Store, validator: d.Validator, clock: d.Clock, ids: d.IDs,
		sipDomain: d.SIPDomain, appID: d.ApplicationID, log: d.Logger}, nil
}

// ResumeInput is what the operator confirms when resuming (guide step 24).
type ResumeInput struct {
	LicenseType   string
	LicensedUsers int
}

// Resume finishes an upgrade whose administrator completed authentication:
// it checks the confirmed values against every input rule again, validates
// the tenant afresh with real tokens, then completes everything in one
// atomic write and announces Service Upgraded. Resuming a completed
// upgrade with the same values returns it unchanged.
//
// A failed validation changes nothing: a permanent failure is Unprocessable
// (422) with the reason as a field error on "tenant", a transient one is
// Unavailable (503) with the Retry-After Microsoft gave.
func (f *Finisher) Resume(ctx context.Context, operatorID, upgradeID string, in ResumeInput) (Upgrade, error) {
	license, errs := ValidateTargetLicense(in.LicenseType)
	errs = append(errs, ValidateLicensedUsers(in.LicensedUsers)...)
	if err := fault.InvalidFields(errs...); err != nil {
		return Upgrade{}, err
	}
	u, inv, err := f.load(ctx, operatorID, upgradeID)
	if err != nil {
		return Upgrade{}, err
	}
	switch u.Status {
	case UpgradeCompleted:
		return f.replay(u, inv, license, in.LicensedUsers)
	case UpgradeCancelled:
		return Upgrade{}, fault.New(fault.PreconditionFailed, "The upgrade was cancelled.")
	}
	if !InvitationResumable.Contains(inv.Status) {
		return Upgrade{}, fault.New(fault.PreconditionFailed, fmt.Sprintf("The invitation is %s; the upgrade can be resumed once it is AUTHENTICATION_COMPLETE.", inv.Status))
	}
	c, err := f.store.GetCustomer(ctx, operatorID, u.CustomerID)
	if err != nil {
		return Upgrade{}, storeError("get customer", err, asked{})
	}
	a := asked{license: license, users: in.LicensedUsers, held: u.Service.LicensedUsers}
	if refused := licenseRefused(c.License, a, nil); len(refused.Fields) > 0 {
		return f.refusedUnlessDone(ctx, operatorID, upgradeID, license, in.LicensedUsers, refused)
	}
	if refused := usersRefused(c.ReservedUsers, a, nil); len(refused.Fields) > 0 {
		return f.refusedUnlessDone(ctx, operatorID, upgradeID, license, in.LicensedUsers, refused)
	}

	v, err := f.validator.Validate(ctx, TenantRef{OperatorID: operatorID, CustomerID: u.CustomerID,
		TenantID: inv.TenantID, InvitationID: inv.ID, ConsentedAt: inv.AuthenticatedAt})
	if err != nil {
		return Upgrade{}, fmt.Errorf("validate tenant of upgrade %s: %w", upgradeID, err)
	}
	if err := v.Err(); err != nil {
		f.log.InfoContext(ctx, "resume refused: tenant validation failed", "upgradeId", upgradeID, "tenantId", inv.TenantID,
			"code", v.FirstFailure().Code, "aadsts", v.FirstFailure().AADSTS)
		return Upgrade{}, err
	}

	now := f.clock.Now().UTC()
	svc := u.Service
	prevUsers := svc.LicensedUsers
	svc.License, svc.LicensedUsers, svc.Status = license, in.LicensedUsers, ServiceActive
	comp := Completion{
		OperatorID: operatorID, UpgradeID: u.ID, Service: svc, PreviousUsers: prevUsers, At: now, Validation: v,
		SIP: SIPConnection{ID: f.ids.NewID(), ServiceID: svc.ID, CustomerID: u.CustomerID, Name: svc.ShortName,
			FQDN: SIPFQDN(svc.ShortName, f.sipDomain), Port: SIPPort, Transport: SIPTransportTLS, Status: SIPStatusActive, CreatedAt: now},
		M365: connectionOf(operatorID, inv, f.appID),
	}
	if comp.Events, err = Announce(ServiceUpgradedEvent(u, svc, inv.TenantID)); err != nil {
		return Upgrade{}, err
	}
	switch err := f.store.CompleteUpgrade(ctx, comp); {
	case errors.Is(err, ErrStateChanged):
		// Another request finished or cancelled it meanwhile: answer with
		// what won.
		return f.afterRace(ctx, operatorID, upgradeID, license, in.LicensedUsers)
	case err != nil:
		return Upgrade{}, storeError("complete upgrade", err, a)
	}
	f.log.InfoContext(ctx, "upgrade completed", "upgradeId", u.ID, "serviceId", svc.ID, "license", license)
	// The completion only checked the invitation's status, which it found
	// unchanged, so the invitation loaded above is the one to show: no
	// second read.
	u.Status, u.Service = UpgradeCompleted, svc
	return u, nil
}

func (f *Finisher) load(ctx context.Context, operatorID, upgradeID string) (Upgrade, Invitation, error) {
	u, err := f.store.GetUpgrade(ctx, operatorID, upgradeID)
	if err != nil {
		return Upgrade{}, Invitation{}, storeError("get upgrade", err, asked{})
	}
	inv, err := f.store.GetInvitation(ctx, u.Invitation.ID)
	if err != nil {
		return Upgrade{}, Invitation{}, storeError("get invitation", err, asked{})
	}
	u.Invitation = inv
	return u, inv, nil
}

// replay answers a resume of a completed upgrade: the same confirmation
// gets the finished upgrade, another one is a conflict rather than a
// silent no-op.
func (f *Finisher) replay(u Upgrade, _ Invitation, license License, users int) (Upgrade, error) {
	if u.Service.License != license || u.Service.LicensedUsers != users {
		return Upgrade{}, fault.New(fault.PreconditionFailed, fmt.Sprintf("The upgrade is already completed with %s and %d users.", u.Service.License, u.Service.LicensedUsers))
	}
	return u, nil
}

func (f *Finisher) afterRace(ctx context.Context, operatorID, upgradeID string, license License, users int) (Upgrade, error) {
	u, inv, err := f.load(ctx, operatorID, upgradeID)
	if err != nil {
		return Upgrade{}, err
	}
	switch u.Status {
	case UpgradeCompleted:
		return f.replay(u, inv, license, users)
	case UpgradeCancelled:
		return Upgrade{}, fault.New(fault.PreconditionFailed, "The upgrade was cancelled.")
	}
	return Upgrade{}, fault.New(fault.PreconditionFailed, fmt.Sprintf("The invitation is %s; the upgrade cannot be resumed now.", inv.Status))
}

// refusedUnlessDone answers a resume whose customer no longer allows the
// licence or the users. A concurrent resume of the same upgrade that
// completed between this one's reads of the upgrade and of the customer
// changed the customer (its licence is now the target): the upgrade is
// then answered as completed, as a replay, rather than refused.
func (f *Finisher) refusedUnlessDone(ctx context.Context, operatorID, upgradeID string, license License, users int, refused error) (Upgrade, error) {
	u, inv, err := f.load(ctx, operatorID, upgradeID)
	if err != nil {
		return Upgrade{}, err
	}
	if u.Status == UpgradeCompleted {
		return f.replay(u, inv, license, users)
	}
	return Upgrade{}, refused
}

// Cancel ends a waiting upgrade: the invitation is revoked, the short name
// and the reserved users are freed, upgrade and service are CANCELLED.
// Cancelling a cancelled upgrade returns it; a completed one is a conflict.
func (f *Finisher) Cancel(ctx context.Context, operatorID, upgradeID string) (Upgrade, error) {
	u, _, err := f.load(ctx, operatorID, upgradeID)
	if err != nil {
		return Upgrade{}, err
	}
	switch u.Status {
	case UpgradeCancelled:
		return u, nil
	case UpgradeCompleted:
		return Upgrade{}, fault.New(fault.PreconditionFailed, "The upgrade is completed and can no longer be cancelled.")
	}
	now := f.clock.Now().UTC()
	if err := f.store.CancelUpgrade(ctx, operatorID, upgradeID, now); err != nil {
		if errors.Is(err, ErrStateChanged) {
			u, _, lerr := f.load(ctx, operatorID, upgradeID)
			if lerr != nil {
				return Upgrade{}, lerr
			}
			if u.Status == UpgradeCancelled {
				return u, nil
			}
			return Upgrade{}, fault.New(fault.PreconditionFailed, fmt.Sprintf("The upgrade is %s and can no longer be cancelled.", u.Status))
		}
		return Upgrade{}, storeError("cancel upgrade", err, asked{})
	}
	f.log.InfoContext(ctx, "upgrade cancelled", "upgradeId", upgradeID)
	u, _, err = f.load(ctx, operatorID, upgradeID)
	return u, err
}
