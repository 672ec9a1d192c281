package upgrade_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/upgrade/memory"
)

// fakeValidator answers every validation with v (its At set to the
// clock), counting the calls.
type fakeValidator struct {
	mu    sync.Mutex
	v     upgrade.Validation
	err   error
	calls int
}

func (f *fakeValidator) Validate(_ context.Context, t upgrade.TenantRef) (upgrade.Validation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	v := f.v
	v.TenantID = t.TenantID
	return v, f.err
}

func (f *fakeValidator) set(v upgrade.Validation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.v = v
}

// upgradedRecorder reads the Service Upgraded events of the store's
// outbox.
type upgradedRecorder struct{ store *memory.Store }

func (r *upgradedRecorder) events() []event.ServiceUpgraded {
	return memory.Announced[event.ServiceUpgraded](r.store)
}

const tenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"

func passed(at time.Time) upgrade.Validation {
	return upgrade.Validation{At: at, Application: upgrade.CheckResult{Passed: true, TenantDomain: "contoso.example",
		Permissions: []string{"Organization.Read.All"}}, Delegated: &upgrade.CheckResult{Passed: true, Account: "admin@contoso.example"}}
}

func failed(at time.Time, f upgrade.CheckFailure) upgrade.Validation {
	return upgrade.Validation{At: at, Application: upgrade.CheckResult{Failure: &f}}
}

// finishFixture is an upgrade whose administrator completed consent, with
// the Finisher and the M365 service over one in-memory store.
type finishFixture struct {
	store     *memory.Store
	portal    *upgrade.Portal
	finisher  *upgrade.Finisher
	m365      *upgrade.M365
	validator *fakeValidator
	pub       *upgradedRecorder
	clock     *clock
	u         upgrade.Upgrade
}

func newFinishFixture(t *testing.T) finishFixture {
	t.Helper()
	st, ids, c := memory.New(), &seqIDs{}, &clock{t: t0}
	p, err := upgrade.NewPortal(upgrade.Deps{Store: st, Links: fakeLinks{}, Clock: c, IDs: ids, InvitationTTL: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	v, pub := &fakeValidator{v: passed(t0)}, &upgradedRecorder{store: st}
	f, err := upgrade.NewFinisher(upgrade.FinishDeps{Store: st, Validator: v, Clock: c, IDs: ids,
		SIPDomain: "sip.example.net.", ApplicationID: "app-1"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := upgrade.NewM365(upgrade.M365Deps{Store: st, Validator: v, Clock: c, ApplicationID: "app-1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cust, err := p.CreateCustomer(ctx, "op", upgrade.CustomerInput{Name: "Contoso", Kind: "CUSTOMER", Domain: "contoso.example"})
	if err != nil {
		t.Fatal(err)
	}
	u, _, err := p.StartUpgrade(ctx, "op", cust.ID, input("Contoso1"))
	if err != nil {
		t.Fatal(err)
	}
	fx := finishFixture{store: st, portal: p, finisher: f, m365: m, validator: v, pub: pub, clock: c, u: u}
	fx.setInvitation(t, upgrade.InvitationAuthenticationComplete)
	return fx
}

func (fx finishFixture) setInvitation(t *testing.T, s upgrade.InvitationStatus) {
	t.Helper()
	inv, err := fx.store.GetInvitation(context.Background(), fx.u.Invitation.ID)
	if err != nil {
		t.Fatal(err)
	}
	inv.Status, inv.TenantID, inv.AuthenticatedBy = s, tenantID, "admin@contoso.example"
	inv.GrantedPermissions, inv.AuthenticatedAt = []string{"User.Read.All", "Organization.Read.All"}, t0
	fx.store.SetInvitation(inv)
}

func wantKind(t *testing.T, err error, k fault.Kind) {
	t.Helper()
	if err == nil || fault.KindOf(err) != k {
		t.Fatalf("error = %v (kind %v), want kind %v", err, fault.KindOf(err), k)
	}
}

// untouched fails t unless the upgrade waits as before: no licence, no SIP
// connection, no event.
func (fx finishFixture) untouched(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	s, err := fx.finisher.GetService(ctx, "op", fx.u.Service.ID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := fx.store.GetCustomer(ctx, "op", fx.u.CustomerID)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != upgrade.ServicePendingAuthentication || len(s.SIPConnections) != 0 || len(s.Permissions()) != 0 ||
		c.License != upgrade.Essentials || len(fx.pub.events()) != 0 {
		t.Fatalf("after a refused resume: service %+v, customer %+v, %d events", s, c, len(fx.pub.events()))
	}
}

func TestNewFinisherChecksDependencies(t *testing.T) {
	t.Parallel()
	ok := upgrade.FinishDeps{Store: memory.New(), Validator: &fakeValidator{}, Clock: &clock{}, IDs: &seqIDs{}, SIPDomain: "sip.example.net"}
	tests := []struct {
		name   string
		change func(*upgrade.FinishDeps)
	}{
		{"no store", func(d *upgrade.FinishDeps) { d.Store = nil }},
		{"no validator", func(d *upgrade.FinishDeps) { d.Validator = nil }},
		{"no clock", func(d *upgrade.FinishDeps) { d.Clock = nil }},
		{"no ids", func(d *upgrade.FinishDeps) { d.IDs = nil }},
		{"no SIP domain", func(d *upgrade.FinishDeps) { d.SIPDomain = "." }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := ok
			tt.change(&d)
			if _, err := upgrade.NewFinisher(d); err == nil {
				t.Fatal("NewFinisher succeeded")
			}
		})
	}
	if _, err := upgrade.NewFinisher(ok); err != nil {
		t.Fatalf("NewFinisher(complete deps) = %v", err)
	}
}

// Guide steps 24-26: a passing resume activates the service with the
// licence's permissions, moves the customer's licence, creates the SIP
// connection and announces Service Upgraded.
func TestResumeCompletes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		license string
		users   int
		perms   int
	}{
		{"OC_PRO", 10, 9},
		{"OC_ESSENTIALS_PLUS", 30, 4},
	}
	for _, tt := range tests {
		t.Run(tt.license, func(t *testing.T) {
			t.Parallel()
			fx := newFinishFixture(t)
			ctx := context.Background()
			u, err := fx.finisher.Resume(ctx, "op", fx.u.ID, upgrade.ResumeInput{LicenseType: tt.license, LicensedUsers: tt.users})
			if err != nil {
				t.Fatal(err)
			}
			if u.Status != upgrade.UpgradeCompleted || u.Service.Status != upgrade.ServiceActive || string(u.Service.License) != tt.license ||
				u.Service.LicensedUsers != tt.users {
				t.Fatalf("resumed = %+v", u)
			}
			s, err := fx.finisher.GetService(ctx, "op", u.Service.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Permissions()) != tt.perms || !slices.Contains(s.Permissions(), upgrade.PermissionUsers) {
				t.Errorf("permissions = %v, want %d", s.Permissions(), tt.perms)
			}
			if len(s.SIPConnections) != 1 {
				t.Fatalf("SIP connections = %+v", s.SIPConnections)
			}
			sip := s.SIPConnections[0]
			if sip.FQDN != "contoso1.sip.example.net" || sip.Port != upgrade.SIPPort || sip.Transport != "TLS" || sip.Status != "ACTIVE" {
				t.Errorf("SIP connection = %+v", sip)
			}
			ov, err := fx.finisher.GetCustomerOverview(ctx, "op", fx.u.CustomerID)
			if err != nil {
				t.Fatal(err)
			}
			if string(ov.License) != tt.license || ov.LicensedUsers != tt.users || ov.ReservedUsers != tt.users || len(ov.Services) != 1 {
				t.Errorf("customer = %+v", ov)
			}
			if len(fx.pub.events()) != 1 || fx.pub.events()[0].ServiceID != u.Service.ID || fx.pub.events()[0].TenantID != tenantID {
				t.Errorf("events = %+v", fx.pub.events())
			}
			m, err := fx.m365.Settings(ctx, "op", fx.u.CustomerID)
			if err != nil {
				t.Fatal(err)
			}
			if m.TenantID != tenantID || m.Access != upgrade.AccessWorking || m.LastValidation == nil || m.ApplicationID != "app-1" {
				t.Errorf("M365 connection = %+v", m)
			}
		})
	}
}

// Every way a resume is refused changes nothing, and says why.
func TestResumeRefusals(t *testing.T) {
	t.Parallel()
	revoked := upgrade.CheckFailure{Code: upgrade.FailureConsentRevoked, Reason: "Consent was revoked", AADSTS: 7000229}
	down := upgrade.CheckFailure{Code: upgrade.FailureMicrosoftUnavailable, Reason: "Microsoft Graph is unavailable", Transient: true, RetryAfter: 7 * time.Second}
	tests := []struct {
		name       string
		invitation upgrade.InvitationStatus
		validation *upgrade.Validation
		in         upgrade.ResumeInput
		kind       fault.Kind
		message    string
		retryAfter time.Duration
	}{
		{name: "invitation not complete", invitation: upgrade.InvitationTokenAcquired, in: upgrade.ResumeInput{LicenseType: "OC_PRO", LicensedUsers: 10},
			kind: fault.PreconditionFailed},
		{name: "unknown licence", in: upgrade.ResumeInput{LicenseType: "OC_GOLD", LicensedUsers: 10}, kind: fault.Invalid},
		{name: "too many users", in: upgrade.ResumeInput{LicenseType: "OC_PRO", LicensedUsers: 501}, kind: fault.Invalid},
		{name: "consent revoked", validation: ptr(failed(t0, revoked)), in: upgrade.ResumeInput{LicenseType: "OC_PRO", LicensedUsers: 10},
			kind: fault.Unprocessable, message: "AADSTS7000229"},
		{name: "Microsoft unavailable", validation: ptr(failed(t0, down)), in: upgrade.ResumeInput{LicenseType: "OC_PRO", LicensedUsers: 10},
			kind: fault.Unavailable, message: "unavailable", retryAfter: 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fx := newFinishFixture(t)
			if tt.invitation != "" {
				fx.setInvitation(t, tt.invitation)
			}
			if tt.validation != nil {
				fx.validator.set(*tt.validation)
			}
			_, err := fx.finisher.Resume(context.Background(), "op", fx.u.ID, tt.in)
			wantKind(t, err, tt.kind)
			if tt.message != "" {
				fs := fault.FieldsOf(err)
				if len(fs) != 1 || fs[0].Field != upgrade.FieldTenant || !strings.Contains(fs[0].Message, tt.message) {
					t.Errorf("fields = %+v, want a tenant error with %q", fs, tt.message)
				}
			}
			if got := fault.RetryAfterOf(err); got != tt.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", got, tt.retryAfter)
			}
			fx.untouched(t)
		})
	}
}

func ptr[T any](v T) *T { return &v }

// A repeated resume with the same values returns the finished upgrade and
// validates nothing again; other values are a conflict.
func TestResumeTwice(t *testing.T) {
	t.Parallel()
	fx := newFinishFixture(t)
	ctx := context.Background()
	in := upgrade.ResumeInput{LicenseType: "OC_PRO", LicensedUsers: 10}
	first, err := fx.finisher.Resume(ctx, "op", fx.u.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := fx.finisher.Resume(ctx, "op", fx.u.ID, in)
	if err != nil || again.ID != first.ID || again.Status != upgrade.UpgradeCompleted {
		t.Fatalf("second resume = %+v, %v", again, err)
	}
	_, err = fx.finisher.Resume(ctx, "op", fx.u.ID, upgrade.ResumeInput{LicenseType: "OC_ESSENTIALS_PLUS", LicensedUsers: 10})
	wantKind(t, err, fault.PreconditionFailed)
	s, err := fx.finisher.GetService(ctx, "op", fx.u.Service.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.SIPConnections) != 1 || len(fx.pub.events()) != 1 || fx.validator.calls != 1 {
		t.Fatalf("after repeats: %d SIP connections, %d events, %d validations", len(s.SIPConnections), len(fx.pub.events()), fx.validator.calls)
	}
}

// Cancel frees the short name and the users and revokes the link; a second
// cancel returns the cancelled upgrade, a completed one cannot be cancelled.
func TestCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("waiting", func(t *testing.T) {
		t.Parallel()
		fx := newFinishFixture(t)
		u, err := fx.finisher.Cancel(ctx, "op", fx.u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != upgrade.UpgradeCancelled || u.Service.Status != upgrade.ServiceCancelled || u.Invitation.Status != upgrade.InvitationRevoked {
			t.Fatalf("cancelled = %+v", u)
		}
		c, err := fx.store.GetCustomer(ctx, "op", fx.u.CustomerID)
		if err != nil {
			t.Fatal(err)
		}
		if c.ReservedUsers != 0 {
			t.Errorf("reserved users = %d after cancel", c.ReservedUsers)
		}
		if _, _, err := fx.portal.StartUpgrade(ctx, "op", fx.u.CustomerID, input("CONTOSO1")); err != nil {
			t.Errorf("the short name is still taken: %v", err)
		}
		again, err := fx.finisher.Cancel(ctx, "op", fx.u.ID)
		if err != nil || again.Status != upgrade.UpgradeCancelled {
			t.Errorf("second cancel = %+v, %v", again, err)
		}
		_, err = fx.finisher.Resume(ctx, "op", fx.u.ID, upgrade.ResumeInput{LicenseType: "OC_PRO", LicensedUsers: 10})
		wantKind(t, err, fault.PreconditionFailed)
	})
	t.Run("completed", func(t *testing.T) {
		t.Parallel()
		fx := newFinishFixture(t)
		if _, err := fx.finisher.Resume(ctx, "op", fx.u.ID, upgrade.ResumeInput{LicenseType: "OC_PRO", LicensedUsers: 10}); err != nil {
			t.Fatal(err)
		}
		_, err := fx.finisher.Cancel(ctx, "op", fx.u.ID)
		wantKind(t, err, fault.PreconditionFailed)
	})
	t.Run("another operator's", func(t *testing.T) {
		t.Parallel()
		fx := newFinishFixture(t)
		_, err := fx.finisher.Cancel(ctx, "other", fx.u.ID)
		wantKind(t, err, fault.NotFound)
	})
}

// Resume and cancel at once: exactly one wins and the other is told so.
func TestResumeRacingCancel(t *testing.T) {
	t.Parallel()
	for range 20 {
		fx := newFinishFixture(t)
		ctx := context.Background()
		var resumeErr, cancelErr error
		var wg sync.WaitGroup
		wg.Go(func() {
			_, resumeErr = fx.finisher.Resume(ctx, "op", fx.u.ID, upgrade.ResumeInput{LicenseType: "OC_PRO", LicensedUsers: 10})
		})
		wg.Go(func() { _, cancelErr = fx.finisher.Cancel(ctx, "op", fx.u.ID) })
		wg.Wait()
		if (resumeErr == nil) == (cancelErr == nil) {
			t.Fatalf("resume: %v, cancel: %v; want exactly one to win", resumeErr, cancelErr)
		}
		u, err := fx.store.GetUpgrade(ctx, "op", fx.u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]upgrade.UpgradeStatus{true: upgrade.UpgradeCompleted, false: upgrade.UpgradeCancelled}[resumeErr == nil]; u.Status != want {
			t.Fatalf("upgrade %s, want %s", u.Status, want)
		}
	}
}

// interleaving runs hook once, inside the first GetCustomer after it is
// armed: another request's write lands between this request's reads.
type interleaving struct {
	*memory.Store
	mu   sync.Mutex
	hook func()
}

func (s *interleaving) GetCustomer(ctx context.Context, operatorID, id string) (upgrade.Customer, error) {
	s.mu.Lock()
	h := s.hook
	s.hook = nil
	s.mu.Unlock()
	if h != nil {
		h()
	}
	return s.Store.GetCustomer(ctx, operatorID, id)
}

// Two resumes of one upgrade, the second reading the customer after the
// first completed it (its licence now the target): the second answers the
// completed upgrade, as a replay, not "the customer already holds it".
func TestResumeAfterAConcurrentResumeCompleted(t *testing.T) {
	t.Parallel()
	fx := newFinishFixture(t)
	ctx := context.Background()
	st := &interleaving{Store: fx.store}
	late, err := upgrade.NewFinisher(upgrade.FinishDeps{Store: st, Validator: fx.validator, Clock: fx.clock,
		IDs: &seqIDs{}, SIPDomain: "sip.example.net.", ApplicationID: "app-1"})
	if err != nil {
		t.Fatal(err)
	}
	in := upgrade.ResumeInput{LicenseType: "OC_PRO", LicensedUsers: 10}
	st.hook = func() {
		if _, err := fx.finisher.Resume(ctx, "op", fx.u.ID, in); err != nil {
			t.Errorf("first resume: %v", err)
		}
	}
	got, err := late.Resume(ctx, "op", fx.u.ID, in)
	if err != nil || got.Status != upgrade.UpgradeCompleted {
		t.Fatalf("second resume = %+v, %v; want the completed upgrade", got, err)
	}
}
