package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// FinishStore is a store with both halves of finishing an upgrade: resume
// and cancel, and the M365 connections.
type FinishStore interface {
	upgrade.Store
	upgrade.FinishStore
	upgrade.M365Store
}

// NewFinishStore returns an empty FinishStore for one test.
type NewFinishStore func(t *testing.T) FinishStore

// Authenticate marks an invitation AUTHENTICATION_COMPLETE for tenantID, as
// the consent wizard leaves it; each store does it its own way.
type Authenticate func(t *testing.T, s FinishStore, inv upgrade.Invitation, tenantID string)

// RunFinish runs the contract of FinishStore and M365Store.
func RunFinish(t *testing.T, newStore NewFinishStore, authenticate Authenticate) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s FinishStore, auth Authenticate)
	}{
		{"CompleteUpgrade", testCompleteUpgrade},
		{"CompleteNeedsAuthentication", testCompleteNeedsAuthentication},
		{"CompleteRespectsTheUserLimit", testCompleteRespectsTheUserLimit},
		{"CancelUpgrade", testCancelUpgrade},
		{"M365Connection", testM365Connection},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t), authenticate)
		})
	}
}

const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// authenticated creates an upgrade of users on a new customer and
// completes its authentication.
func authenticated(t *testing.T, s FinishStore, auth Authenticate, users int) (upgrade.Customer, upgrade.Upgrade) {
	t.Helper()
	c := mustCustomer(t, s, customer(ID("op"), base))
	u := mustUpgrade(t, s, newUpgrade(c, ID("fin"), users, upgrade.Pro))
	auth(t, s, u.Invitation, tenant)
	return c, u
}

func completionOf(u upgrade.Upgrade, license upgrade.License, users int) upgrade.Completion {
	svc := u.Service
	svc.License, svc.LicensedUsers, svc.Status = license, users, upgrade.ServiceActive
	at := base.Add(time.Hour)
	return upgrade.Completion{OperatorID: u.OperatorID, UpgradeID: u.ID, Service: svc, PreviousUsers: u.Service.LicensedUsers, At: at,
		SIP: upgrade.SIPConnection{ID: ID("sip"), ServiceID: svc.ID, CustomerID: u.CustomerID, Name: svc.ShortName,
			FQDN: upgrade.SIPFQDN(svc.ShortName, "sip.example.net"), Port: upgrade.SIPPort, Transport: upgrade.SIPTransportTLS,
			Status: upgrade.SIPStatusActive, CreatedAt: at},
		M365: upgrade.M365Connection{OperatorID: u.OperatorID, CustomerID: u.CustomerID, TenantID: tenant, InvitationID: u.Invitation.ID,
			GrantedPermissions: []string{"Organization.Read.All"}, ConsentedAt: base, ConsentedBy: "admin@contoso.com", Access: upgrade.AccessUnknown},
		Validation: upgrade.Validation{At: at, TenantID: tenant, Application: upgrade.CheckResult{Passed: true, TenantDomain: "contoso.com"}},
		Events:     mustAnnounce(upgrade.ServiceUpgradedEvent(u, svc, tenant)),
	}
}

func mustAnnounce(d event.Detail) []event.Message {
	ms, err := upgrade.Announce(d)
	if err != nil {
		panic(err)
	}
	return ms
}

func testCompleteUpgrade(t *testing.T, s FinishStore, auth Authenticate) {
	ctx := context.Background()
	c, u := authenticated(t, s, auth, 10)
	comp := completionOf(u, upgrade.Pro, 40)
	if err := s.CompleteUpgrade(ctx, comp); err != nil {
		t.Fatalf("CompleteUpgrade: %v", err)
	}
	got, err := s.GetUpgrade(ctx, u.OperatorID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != upgrade.UpgradeCompleted || got.Service.Status != upgrade.ServiceActive || got.Service.LicensedUsers != 40 {
		t.Errorf("upgrade = %+v", got)
	}
	d, err := s.GetService(ctx, u.OperatorID, u.Service.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != upgrade.ServiceActive || d.License != upgrade.Pro || d.UpgradeID != u.ID || len(d.SIPConnections) != 1 ||
		d.SIPConnections[0].FQDN != comp.SIP.FQDN || d.SIPConnections[0].Port != upgrade.SIPPort {
		t.Errorf("service = %+v", d)
	}
	cust, err := s.GetCustomer(ctx, c.OperatorID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cust.License != upgrade.Pro || cust.LicensedUsers != 40 || cust.ReservedUsers != 40 {
		t.Errorf("customer = %+v, want OC Pro with 40 users, 40 reserved", cust)
	}
	svcs, err := s.ListCustomerServices(ctx, c.OperatorID, c.ID)
	if err != nil || len(svcs) != 1 || svcs[0].Status != upgrade.ServiceActive {
		t.Errorf("ListCustomerServices = %+v, %v", svcs, err)
	}
	m, err := s.GetM365(ctx, c.OperatorID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.TenantID != tenant || m.LastValidation == nil || !m.LastValidation.Passed() || m.Access != upgrade.AccessWorking || m.TenantDomain != "contoso.com" {
		t.Errorf("M365 = %+v", m)
	}
	if !InOutbox(t, s, comp.Events) {
		t.Error("the completion's Service Upgraded is not in the outbox")
	}
	// A second completion loses: the upgrade is no longer waiting.
	second := completionOf(u, upgrade.Pro, 40)
	if err := s.CompleteUpgrade(ctx, second); !errors.Is(err, upgrade.ErrStateChanged) {
		t.Errorf("second CompleteUpgrade = %v, want ErrStateChanged", err)
	}
	if InOutbox(t, s, second.Events) {
		t.Error("a refused completion wrote its event")
	}
	if d, err := s.GetService(ctx, u.OperatorID, u.Service.ID); err != nil || len(d.SIPConnections) != 1 {
		t.Errorf("%d SIP connections after a second completion (%v)", len(d.SIPConnections), err)
	}
	if _, err := s.GetService(ctx, ID("op"), u.Service.ID); !errors.Is(err, upgrade.ErrNotFound) {
		t.Errorf("GetService from another operator = %v", err)
	}
}

func testCompleteNeedsAuthentication(t *testing.T, s FinishStore, _ Authenticate) {
	ctx := context.Background()
	c := mustCustomer(t, s, customer(ID("op"), base))
	u := mustUpgrade(t, s, newUpgrade(c, ID("fin"), 10, upgrade.Pro))
	refused := completionOf(u, upgrade.Pro, 10)
	if err := s.CompleteUpgrade(ctx, refused); !errors.Is(err, upgrade.ErrStateChanged) {
		t.Fatalf("CompleteUpgrade of a PENDING invitation = %v, want ErrStateChanged", err)
	}
	if InOutbox(t, s, refused.Events) {
		t.Error("a refused completion wrote its event")
	}
	got, err1 := s.GetUpgrade(ctx, u.OperatorID, u.ID)
	cust, err2 := s.GetCustomer(ctx, c.OperatorID, c.ID)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if got.Status != upgrade.UpgradePendingAuthentication || cust.License != upgrade.Essentials {
		t.Errorf("a refused completion changed the upgrade (%s) or the customer (%s)", got.Status, cust.License)
	}
	if _, err := s.GetM365(ctx, c.OperatorID, c.ID); !errors.Is(err, upgrade.ErrNotFound) {
		t.Errorf("a refused completion stored an M365 connection: %v", err)
	}
}

func testCompleteRespectsTheUserLimit(t *testing.T, s FinishStore, auth Authenticate) {
	ctx := context.Background()
	_, u := authenticated(t, s, auth, 10)
	var ue *upgrade.UserLimitError
	if err := s.CompleteUpgrade(ctx, completionOf(u, upgrade.Pro, upgrade.MaxUsersPerCustomer+1)); !errors.As(err, &ue) {
		t.Fatalf("CompleteUpgrade over the limit = %v, want a UserLimitError", err)
	}
	if got, err := s.GetUpgrade(ctx, u.OperatorID, u.ID); err != nil || got.Status == upgrade.UpgradeCompleted {
		t.Errorf("the refused completion completed the upgrade (%v)", err)
	}
}

func testCancelUpgrade(t *testing.T, s FinishStore, auth Authenticate) {
	ctx := context.Background()
	c, u := authenticated(t, s, auth, 10)
	if err := s.CancelUpgrade(ctx, u.OperatorID, u.ID, base.Add(time.Hour)); err != nil {
		t.Fatalf("CancelUpgrade: %v", err)
	}
	got, err1 := s.GetUpgrade(ctx, u.OperatorID, u.ID)
	inv, err2 := s.GetInvitation(ctx, u.Invitation.ID)
	cust, err3 := s.GetCustomer(ctx, c.OperatorID, c.ID)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if got.Status != upgrade.UpgradeCancelled || got.Service.Status != upgrade.ServiceCancelled || inv.Status != upgrade.InvitationRevoked || cust.ReservedUsers != 0 {
		t.Errorf("after cancel: upgrade %s, service %s, invitation %s, reserved %d", got.Status, got.Service.Status, inv.Status, cust.ReservedUsers)
	}
	// The short name is free again.
	mustUpgrade(t, s, newUpgrade(c, u.Service.ShortName, 10, upgrade.Pro))
	if err := s.CancelUpgrade(ctx, u.OperatorID, u.ID, base.Add(2*time.Hour)); !errors.Is(err, upgrade.ErrStateChanged) {
		t.Errorf("second CancelUpgrade = %v, want ErrStateChanged", err)
	}
	if err := s.CompleteUpgrade(ctx, completionOf(u, upgrade.Pro, 10)); !errors.Is(err, upgrade.ErrStateChanged) {
		t.Errorf("CompleteUpgrade after cancel = %v, want ErrStateChanged", err)
	}
}

func testM365Connection(t *testing.T, s FinishStore, auth Authenticate) {
	ctx := context.Background()
	c, u := authenticated(t, s, auth, 10)
	if _, err := s.GetM365(ctx, c.OperatorID, c.ID); !errors.Is(err, upgrade.ErrNotFound) {
		t.Fatalf("GetM365 before consent = %v, want ErrNotFound", err)
	}
	conn := completionOf(u, upgrade.Pro, 10).M365
	if err := s.PutM365(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkReadyToResume(ctx, u.OperatorID, u.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetUpgrade(ctx, u.OperatorID, u.ID); err != nil || got.Status != upgrade.UpgradeReadyToResume {
		t.Errorf("after MarkReadyToResume: %s (%v)", got.Status, err)
	}
	if err := s.MarkReadyToResume(ctx, u.OperatorID, u.ID); err != nil {
		t.Errorf("a second MarkReadyToResume = %v, want nil", err)
	}

	at := base.Add(time.Hour)
	v := upgrade.Validation{At: at, TenantID: tenant, Application: upgrade.CheckResult{Passed: true, TenantDomain: "contoso.com"},
		Delegated: &upgrade.CheckResult{Passed: true, Account: "admin@contoso.com"}}
	next := at.Add(upgrade.KeepAliveInterval)
	if err := s.SaveValidation(ctx, c.OperatorID, c.ID, v, next, "event-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveValidation(ctx, c.OperatorID, c.ID, v, next, "event-1"); !errors.Is(err, upgrade.ErrDuplicateEvent) {
		t.Errorf("the same event saved twice: %v", err)
	}
	// Consent facts recorded again keep the validation.
	if err := s.PutM365(ctx, conn); err != nil {
		t.Fatal(err)
	}
	m, err := s.GetM365(ctx, c.OperatorID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.LastValidation == nil || !m.LastValidation.At.Equal(at) || m.Access != upgrade.AccessWorking || m.Account != "admin@contoso.com" ||
		m.ConsentedBy != "admin@contoso.com" {
		t.Errorf("M365 = %+v", m)
	}
	if err := s.SaveValidation(ctx, ID("op"), c.ID, v, next, ""); !errors.Is(err, upgrade.ErrNotFound) {
		t.Errorf("SaveValidation for another operator = %v, want ErrNotFound", err)
	}

	due := func(now time.Time) int {
		keys, err := s.DueKeepAlive(ctx, now, 10)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, k := range keys {
			if k == (upgrade.M365Key{OperatorID: c.OperatorID, CustomerID: c.ID}) {
				n++
			}
		}
		return n
	}
	if n := due(next.Add(-time.Minute)); n != 0 {
		t.Errorf("due a minute early")
	}
	if n := due(next.Add(time.Minute)); n != 1 {
		t.Errorf("not due after its time: %d", n)
	}
}
