// Package wizardtest is the contract every wizard.Store must meet. The
// same suite runs against the in-memory store (package memory), which the
// wizard's own tests use, and against the DynamoDB store on DynamoDB Local,
// so the store the wizard is tested with cannot drift from the real one.
package wizardtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/upgrade/storetest"
	"github.com/ocpro/upgrade/internal/wizard"
)

// Store is a wizard.Store that also creates the invitations it works on,
// as the portal does, and reads back the kept credential, as the token
// validation does.
type Store interface {
	wizard.Store
	upgrade.Store
	// Credential returns the sealed refresh token kept for an invitation,
	// upgrade.ErrNotFound when there is none.
	Credential(ctx context.Context, invitationID string) (upgrade.KeptCredential, error)
	// OutboxMessage reads back an event a transition handed in.
	storetest.Outbox
}

// NewStore returns an empty store for one test.
type NewStore func(t *testing.T) Store

// SetStatus puts an invitation in a status as another writer (the
// operator's actions, the sweep) leaves it; each store does it its own
// way.
type SetStatus func(t *testing.T, s Store, invitationID string, status upgrade.InvitationStatus)

// Run runs the contract suite.
func Run(t *testing.T, newStore NewStore, setStatus SetStatus) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f fixture)
	}{
		{"TransitionConditions", testTransitionConditions},
		{"TransitionsFollowTheMoves", testTransitionsFollowTheMoves},
		{"TransitionToNoState", testTransitionToNoState},
		{"ConcurrentTransitionsOneWins", testConcurrentTransitionsOneWins},
		{"TransitionRecordsWhoAndWhen", testTransitionRecordsWhoAndWhen},
		{"StateIsTakenOnce", testStateIsTakenOnce},
		{"ClaimPollCompareAndSet", testClaimPollCompareAndSet},
		{"ClaimConfirmCompareAndSet", testClaimConfirmCompareAndSet},
		{"StartDeviceMarksTheInvitation", testStartDeviceMarksTheInvitation},
		{"AttemptCounters", testAttemptCounters},
		{"Credential", testCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, fixture{s: newStore(t), setStatus: setStatus})
		})
	}
}

// fixture is a store and its way to put an invitation in a status.
type fixture struct {
	s         Store
	setStatus SetStatus
}

// id returns a unique id, so that tests sharing a table never collide.
var id = storetest.ID

const operator = "op"

// invitation creates a customer and an upgrade whose invitation is
// PENDING and expires in an hour, as the portal does, and returns the
// invitation.
func (f fixture) invitation(t *testing.T) upgrade.Invitation {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	c := upgrade.Customer{ID: id("c"), OperatorID: operator, Name: "Contoso", Kind: upgrade.KindCustomer, License: upgrade.Essentials,
		CreatedAt: now}
	if err := f.s.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	u := upgrade.Upgrade{ID: id("u"), OperatorID: operator, CustomerID: c.ID, Status: upgrade.UpgradePendingAuthentication, CreatedAt: now}
	u.Service = upgrade.Service{ID: id("s"), CustomerID: c.ID, FullName: "Teams", ShortName: id("t"), License: upgrade.Pro,
		LicensedUsers: 10, Status: upgrade.ServicePendingAuthentication, CreatedAt: now}
	u.Invitation = upgrade.Invitation{ID: id("i"), OperatorID: operator, CustomerID: c.ID, UpgradeID: u.ID, ServiceID: u.Service.ID,
		TokenID: id("T"), Status: upgrade.InvitationPending, Generation: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		CustomerName: c.Name, ServiceName: u.Service.FullName, License: upgrade.Pro}
	if _, _, err := f.s.CreateUpgrade(ctx, upgrade.Creation{Upgrade: u}); err != nil {
		t.Fatal(err)
	}
	return u.Invitation
}

// in creates an invitation and puts it in status: TOKEN_ACQUIRED through
// the store's own transition (so that it records the tenant), any other
// status as another writer would.
func (f fixture) in(t *testing.T, status upgrade.InvitationStatus) upgrade.Invitation {
	t.Helper()
	inv := f.invitation(t)
	switch status {
	case upgrade.InvitationPending:
	case upgrade.InvitationTokenAcquired, upgrade.InvitationAwaitingConfirmation:
		if err := f.s.TransitionInvitation(context.Background(), acquired(inv, "tenant-a")); err != nil {
			t.Fatal(err)
		}
		if status == upgrade.InvitationAwaitingConfirmation {
			tr := move(inv, status)
			tr.TenantID = "tenant-a"
			if err := f.s.TransitionInvitation(context.Background(), tr); err != nil {
				t.Fatal(err)
			}
		}
	default:
		f.setStatus(t, f.s, inv.ID, status)
	}
	return f.get(t, inv.ID)
}

func (f fixture) get(t *testing.T, id string) upgrade.Invitation {
	t.Helper()
	inv, err := f.s.GetInvitation(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func move(inv upgrade.Invitation, to upgrade.InvitationStatus) wizard.Transition {
	return wizard.Transition{InvitationID: inv.ID, OperatorID: inv.OperatorID, To: to, At: time.Now(), Generation: inv.Generation}
}

func acquired(inv upgrade.Invitation, tenant string) wizard.Transition {
	t := move(inv, upgrade.InvitationTokenAcquired)
	t.TenantID, t.UPN, t.ObjectID = tenant, "admin@"+tenant, "oid-"+tenant
	return t
}

// completed is the wizard's completion, with its Authentication Completed
// (a new event id each time) as the wizard hands it in.
func completed(inv upgrade.Invitation, tenant string) wizard.Transition {
	t := move(inv, upgrade.InvitationAuthenticationComplete)
	t.TenantID, t.Granted = tenant, []string{"Organization.Read.All"}
	ms, err := upgrade.Announce(upgrade.AuthenticationCompletedEvent(inv, tenant))
	if err != nil {
		panic(err)
	}
	t.Events = ms
	return t
}

// Status changes are conditional on the current status, on the
// invitation's expiry and, for completion, on the recorded tenant.
func testTransitionConditions(t *testing.T, f fixture) {
	ctx := context.Background()
	tests := []struct {
		name    string
		from    upgrade.InvitationStatus
		t       func(inv upgrade.Invitation) wizard.Transition
		wantErr error
	}{
		{"from a state it may leave", upgrade.InvitationPending,
			func(inv upgrade.Invitation) wizard.Transition { return move(inv, upgrade.InvitationInProgress) }, nil},
		{"from a state it may not leave", upgrade.InvitationPending,
			func(inv upgrade.Invitation) wizard.Transition { return completed(inv, "tenant-a") }, wizard.ErrConflict},
		{"after the expiry", upgrade.InvitationPending, func(inv upgrade.Invitation) wizard.Transition {
			tr := move(inv, upgrade.InvitationInProgress)
			tr.At = inv.ExpiresAt
			return tr
		}, wizard.ErrConflict},
		{"with a link regenerated since", upgrade.InvitationPending, func(inv upgrade.Invitation) wizard.Transition {
			tr := move(inv, upgrade.InvitationInProgress)
			tr.Generation = inv.Generation - 1
			return tr
		}, wizard.ErrConflict},
		{"completion with a link regenerated since", upgrade.InvitationTokenAcquired, func(inv upgrade.Invitation) wizard.Transition {
			tr := completed(inv, "tenant-a")
			tr.Generation = inv.Generation + 1
			return tr
		}, wizard.ErrConflict},
		{"an unknown invitation", upgrade.InvitationPending, func(inv upgrade.Invitation) wizard.Transition {
			tr := move(inv, upgrade.InvitationInProgress)
			tr.InvitationID = id("nosuch")
			return tr
		}, wizard.ErrConflict},
		{"completion for the recorded tenant", upgrade.InvitationTokenAcquired,
			func(inv upgrade.Invitation) wizard.Transition { return completed(inv, "tenant-a") }, nil},
		{"completion for another tenant", upgrade.InvitationTokenAcquired,
			func(inv upgrade.Invitation) wizard.Transition { return completed(inv, "tenant-b") }, wizard.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := f.in(t, tt.from)
			tr := tt.t(inv)
			err := f.s.TransitionInvitation(ctx, tr)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			want := tr.To
			if tt.wantErr != nil {
				want = tt.from
			}
			if got := f.get(t, inv.ID).Status; got != want {
				t.Fatalf("status %s, want %s", got, want)
			}
			// A committed completion wrote its event, a refused one none.
			if len(tr.Events) > 0 {
				if in := storetest.InOutbox(t, f.s, tr.Events); in != (err == nil) {
					t.Fatalf("event in the outbox: %v, transition error %v", in, err)
				}
			}
		})
	}
	// A status set by another writer records no tenant: completing it
	// would prove nothing.
	t.Run("completion without a recorded tenant", func(t *testing.T) {
		inv := f.invitation(t)
		f.setStatus(t, f.s, inv.ID, upgrade.InvitationTokenAcquired)
		if err := f.s.TransitionInvitation(ctx, completed(inv, "")); !errors.Is(err, wizard.ErrConflict) {
			t.Fatalf("err = %v, want ErrConflict", err)
		}
	})
}

// Every move the table allows succeeds and every other is refused,
// changing nothing: the store's condition accepts exactly the states
// upgrade.InvitationMoves names.
func testTransitionsFollowTheMoves(t *testing.T, f fixture) {
	ctx := context.Background()
	for _, to := range upgrade.InvitationStatuses {
		for _, from := range upgrade.InvitationStatuses {
			t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
				inv := f.in(t, from)
				tr := move(inv, to)
				tr.TenantID = inv.TenantID
				err := f.s.TransitionInvitation(ctx, tr)
				allowed := upgrade.InvitationMoves.Allows(from, to)
				switch {
				case allowed && err != nil:
					t.Fatalf("refused: %v", err)
				case !allowed && !errors.Is(err, wizard.ErrConflict):
					t.Fatalf("err = %v, want ErrConflict", err)
				}
				want := from
				if allowed {
					want = to
				}
				if got := f.get(t, inv.ID).Status; got != want {
					t.Fatalf("status %s, want %s", got, want)
				}
			})
		}
	}
}

// A move to a state no move enters is an error, never a write.
func testTransitionToNoState(t *testing.T, f fixture) {
	inv := f.invitation(t)
	if err := f.s.TransitionInvitation(context.Background(), move(inv, "UNKNOWN")); err == nil {
		t.Fatal("moved to an unknown state")
	}
	if got := f.get(t, inv.ID).Status; got != upgrade.InvitationPending {
		t.Fatalf("status %s, want PENDING", got)
	}
}

// Of status changes racing from the same status exactly one wins.
func testConcurrentTransitionsOneWins(t *testing.T, f fixture) {
	ctx := context.Background()
	for round := range 3 {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			inv := f.in(t, upgrade.InvitationTokenAcquired)
			racers := []wizard.Transition{completed(inv, "tenant-a"), move(inv, upgrade.InvitationFailed),
				completed(inv, "tenant-a"), move(inv, upgrade.InvitationFailed)}
			errs := make([]error, len(racers))
			var wg sync.WaitGroup
			for i, tr := range racers {
				wg.Go(func() { errs[i] = f.s.TransitionInvitation(ctx, tr) })
			}
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Fatalf("two winners: %d and %d", winner, i)
				case err == nil:
					winner = i
				case !errors.Is(err, wizard.ErrConflict):
					t.Fatalf("racer %d: %v", i, err)
				}
			}
			if winner < 0 {
				t.Fatal("nobody won")
			}
			if got := f.get(t, inv.ID).Status; got != racers[winner].To {
				t.Fatalf("status %s, winner wanted %s", got, racers[winner].To)
			}
			// Only the winner's event, if it had one, is in the outbox.
			for i, tr := range racers {
				if len(tr.Events) > 0 && storetest.InOutbox(t, f.s, tr.Events) != (i == winner) {
					t.Fatalf("racer %d (winner %d): its event's presence does not match its outcome", i, winner)
				}
			}
		})
	}
}

// A sign-in records who signed in; completion records when and what was
// granted; the operator's status list follows every change.
func testTransitionRecordsWhoAndWhen(t *testing.T, f fixture) {
	ctx := context.Background()
	inv := f.invitation(t)
	steps := []wizard.Transition{move(inv, upgrade.InvitationInProgress), acquired(inv, "tenant-a"), completed(inv, "tenant-a")}
	for _, tr := range steps {
		if err := f.s.TransitionInvitation(ctx, tr); err != nil {
			t.Fatal(err)
		}
		for _, s := range []upgrade.InvitationStatus{upgrade.InvitationPending, upgrade.InvitationInProgress,
			upgrade.InvitationTokenAcquired, upgrade.InvitationAuthenticationComplete} {
			l, err := f.s.ListInvitations(ctx, operator, upgrade.InvitationFilter{Status: s, CustomerID: inv.CustomerID}, upgrade.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if listed := len(l.Items) == 1; listed != (s == tr.To) {
				t.Fatalf("after %s the %s list holds %d invitations", tr.To, s, len(l.Items))
			}
		}
	}
	got := f.get(t, inv.ID)
	if got.TenantID != "tenant-a" || got.AuthenticatedBy != "admin@tenant-a" || got.AuthenticatedByObjectID != "oid-tenant-a" ||
		got.AuthenticatedAt.IsZero() || !slices.Equal(got.GrantedPermissions, []string{"Organization.Read.All"}) {
		t.Fatalf("invitation %+v", got)
	}
}

// A state is stored once and taken once: of concurrent takers exactly one
// gets it, with everything it was stored with.
func testStateIsTakenOnce(t *testing.T, f fixture) {
	ctx := context.Background()
	hash := wizard.Hash(id("state"))
	exp := time.Now().Add(15 * time.Minute).UTC().Truncate(time.Second)
	st := wizard.State{Hash: hash, InvitationID: "inv", Purpose: wizard.PurposeSignIn, BindingHash: wizard.Hash("binding"),
		SealedVerifier: []byte("sealed-verifier"), TenantID: "tenant-a", ExpiresAt: exp}
	if err := f.s.PutState(ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := f.s.PutState(ctx, st); err == nil {
		t.Fatal("the same state was stored twice")
	}
	const n = 8
	got := make([]wizard.State, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = f.s.TakeState(ctx, hash) })
	}
	wg.Wait()
	won := 0
	for i := range n {
		switch {
		case errs[i] == nil:
			won++
			g := got[i]
			if g.Hash != hash || g.InvitationID != "inv" || g.Purpose != wizard.PurposeSignIn || g.BindingHash != st.BindingHash ||
				string(g.SealedVerifier) != "sealed-verifier" || g.TenantID != "tenant-a" || !g.ExpiresAt.Equal(exp) {
				t.Fatalf("took %+v", g)
			}
		case !errors.Is(errs[i], upgrade.ErrNotFound):
			t.Fatalf("taker %d: %v", i, errs[i])
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d takers got the state", won, n)
	}
	if _, err := f.s.TakeState(ctx, wizard.Hash("never issued")); !errors.Is(err, upgrade.ErrNotFound) {
		t.Fatalf("unknown state: %v, want ErrNotFound", err)
	}
}

// The device attempt's poll claim is a compare-and-set on the last poll
// time; a settled attempt cannot be claimed and drops its code.
func testClaimPollCompareAndSet(t *testing.T, f fixture) {
	ctx := context.Background()
	inv := f.invitation(t)
	if a, err := f.s.GetAttempt(ctx, inv.ID); err != nil || a.DeviceStarts != 0 || a.Redirects != 0 || a.Device != nil {
		t.Fatalf("attempt before any start: %+v (%v), want none", a, err)
	}
	if err := f.s.SettleDevice(ctx, inv.ID, time.Second, wizard.OutcomeDeclined); !errors.Is(err, wizard.ErrConflict) {
		t.Fatalf("settle without an attempt: %v, want ErrConflict", err)
	}
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	d := wizard.Device{SealedCode: []byte("sealed"), UserCode: "ABCD2345", VerificationURI: "https://login.example/devicelogin",
		Interval: 5 * time.Second, ExpiresAt: t0.Add(15 * time.Minute), LastPoll: t0}
	if err := f.s.StartDevice(ctx, inv.ID, d, 20); err != nil {
		t.Fatal(err)
	}
	a, err := f.s.GetAttempt(ctx, inv.ID)
	if err != nil || a.Device == nil || string(a.Device.SealedCode) != "sealed" || a.Device.UserCode != d.UserCode ||
		a.Device.VerificationURI != d.VerificationURI || a.Device.Interval != d.Interval || !a.Device.ExpiresAt.Equal(d.ExpiresAt) ||
		!a.Device.LastPoll.Equal(t0) || a.Device.Outcome != wizard.OutcomeNone {
		t.Fatalf("started attempt %+v (%v)", a.Device, err)
	}
	t1 := t0.Add(5 * time.Second)
	if ok, err := f.s.ClaimPoll(ctx, inv.ID, t0, t1); !ok || err != nil {
		t.Fatalf("first claim: %v, %v", ok, err)
	}
	if ok, err := f.s.ClaimPoll(ctx, inv.ID, t0, t1.Add(time.Second)); ok || err != nil {
		t.Fatalf("claim with a stale last poll: %v, %v", ok, err)
	}
	const n = 8
	wins := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ok, err := f.s.ClaimPoll(ctx, inv.ID, t1, t1.Add(5*time.Second+time.Duration(i)*time.Millisecond))
			if err != nil {
				t.Error(err)
			}
			wins[i] = ok
		})
	}
	wg.Wait()
	if c := len(slices.DeleteFunc(wins, func(w bool) bool { return !w })); c != 1 {
		t.Fatalf("%d of %d concurrent claims won", c, n)
	}
	a, err = f.s.GetAttempt(ctx, inv.ID)
	if err != nil || a.DeviceStarts != 1 || a.Device == nil || a.Device.LastPoll.Sub(t1) < 5*time.Second {
		t.Fatalf("attempt %+v (%v)", a, err)
	}
	if err := f.s.SettleDevice(ctx, inv.ID, 10*time.Second, wizard.OutcomeNone); err != nil {
		t.Fatal(err)
	}
	if a, err = f.s.GetAttempt(ctx, inv.ID); err != nil || a.Device.Interval != 10*time.Second || a.Device.SealedCode == nil {
		t.Fatalf("attempt slowed down %+v (%v): want the new interval and the code kept", a.Device, err)
	}
	if err := f.s.SettleDevice(ctx, inv.ID, 10*time.Second, wizard.OutcomeDeclined); err != nil {
		t.Fatal(err)
	}
	a, err = f.s.GetAttempt(ctx, inv.ID)
	if err != nil || a.Device.Outcome != wizard.OutcomeDeclined || a.Device.Interval != 10*time.Second || a.Device.SealedCode != nil {
		t.Fatalf("settled attempt %+v (%v)", a.Device, err)
	}
	if ok, err := f.s.ClaimPoll(ctx, inv.ID, a.Device.LastPoll, time.Now()); ok || err != nil {
		t.Fatalf("claimed a settled attempt: %v, %v", ok, err)
	}
}

// Starting a device attempt marks the invitation in the same write, so
// that opening the link knows from the invitation alone whether to read
// the attempt; a refused start marks nothing and counts nothing, and a
// new start replaces the attempt.
func testStartDeviceMarksTheInvitation(t *testing.T, f fixture) {
	ctx := context.Background()
	inv := f.invitation(t)
	d := wizard.Device{UserCode: "FIRST", Interval: 5 * time.Second, ExpiresAt: time.Now().Add(time.Minute), LastPoll: time.Now()}
	if inv.DeviceAttempt {
		t.Fatal("a new invitation has a device attempt")
	}
	if err := f.s.StartDevice(ctx, inv.ID, d, 2); err != nil {
		t.Fatal(err)
	}
	if !f.get(t, inv.ID).DeviceAttempt {
		t.Fatal("a start did not mark the invitation")
	}
	d.UserCode = "SECOND"
	if err := f.s.StartDevice(ctx, inv.ID, d, 2); err != nil {
		t.Fatal(err)
	}
	if a, err := f.s.GetAttempt(ctx, inv.ID); err != nil || a.DeviceStarts != 2 || a.Device == nil || a.Device.UserCode != "SECOND" {
		t.Fatalf("attempt after a second start %+v (%v)", a, err)
	}
	if err := f.s.StartDevice(ctx, inv.ID, d, 2); !errors.Is(err, wizard.ErrTooManyAttempts) {
		t.Fatalf("start over the limit: %v, want ErrTooManyAttempts", err)
	}
	missing := id("missing")
	if err := f.s.StartDevice(ctx, missing, d, 1); !errors.Is(err, wizard.ErrConflict) {
		t.Fatalf("start on a missing invitation: %v, want ErrConflict", err)
	}
	if a, err := f.s.GetAttempt(ctx, missing); err != nil || a.DeviceStarts != 0 || a.Device != nil {
		t.Fatalf("a refused start left %+v (%v)", a, err)
	}
}

// Starts and redirects are counted against their limit, each on its own.
func testAttemptCounters(t *testing.T, f fixture) {
	ctx := context.Background()
	inv := f.invitation(t)
	d := wizard.Device{UserCode: "A", Interval: 5 * time.Second, ExpiresAt: time.Now().Add(time.Minute), LastPoll: time.Now()}
	for i := range 2 {
		if err := f.s.StartDevice(ctx, inv.ID, d, 2); err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
	}
	if err := f.s.StartDevice(ctx, inv.ID, d, 2); !errors.Is(err, wizard.ErrTooManyAttempts) {
		t.Fatalf("third start: %v", err)
	}
	if err := f.s.CountRedirect(ctx, inv.ID, 1); err != nil {
		t.Fatalf("first redirect: %v", err)
	}
	if err := f.s.CountRedirect(ctx, inv.ID, 1); !errors.Is(err, wizard.ErrTooManyAttempts) {
		t.Fatalf("second redirect: %v", err)
	}
	if a, err := f.s.GetAttempt(ctx, inv.ID); err != nil || a.DeviceStarts != 2 || a.Redirects != 1 {
		t.Fatalf("attempt %+v (%v)", a, err)
	}
}

// The kept credential is what the token validation reads back; a second
// sign-in replaces it.
func testCredential(t *testing.T, f fixture) {
	ctx := context.Background()
	inv := f.invitation(t)
	if _, err := f.s.Credential(ctx, inv.ID); !errors.Is(err, upgrade.ErrNotFound) {
		t.Fatalf("credential before any sign-in: %v, want ErrNotFound", err)
	}
	// The device code way keeps a public refresh token, the sign-in a
	// confidential one: the validation redeems each its own way.
	for i, blob := range []string{"sealed-device", "sealed-signin"} {
		public := i == 0
		if err := f.s.SaveCredential(ctx, inv.ID, wizard.Credential{TenantID: "tenant-a", SealedRefresh: []byte(blob), At: time.Now(), Public: public}); err != nil {
			t.Fatal(err)
		}
		if got, err := f.s.Credential(ctx, inv.ID); err != nil || string(got.Sealed) != blob || got.Public != public {
			t.Fatalf("credential %q public %v (%v), want %q public %v", got.Sealed, got.Public, err, blob, public)
		}
	}
}

// A pending consent proof is recorded with its start, claimed by one of
// many concurrent requests, and replaced by a later consent's return; it
// counts no attempt.
func testClaimConfirmCompareAndSet(t *testing.T, f fixture) {
	ctx := context.Background()
	inv := f.invitation(t)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	if ok, err := f.s.ClaimConfirm(ctx, inv.ID, t0, t0); ok || err != nil {
		t.Fatalf("claim without a pending proof: %v, %v", ok, err)
	}
	if err := f.s.StartConfirm(ctx, inv.ID, t0); err != nil {
		t.Fatal(err)
	}
	a, err := f.s.GetAttempt(ctx, inv.ID)
	if err != nil || a.Confirm == nil || !a.Confirm.Since.Equal(t0) || !a.Confirm.LastTry.Equal(t0) || a.Redirects != 0 || a.DeviceStarts != 0 {
		t.Fatalf("started proof %+v (%v)", a, err)
	}
	t1 := t0.Add(2 * time.Second)
	const n = 8
	wins := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ok, err := f.s.ClaimConfirm(ctx, inv.ID, t0, t1.Add(time.Duration(i)*time.Millisecond))
			if err != nil {
				t.Error(err)
			}
			wins[i] = ok
		})
	}
	wg.Wait()
	if c := len(slices.DeleteFunc(wins, func(w bool) bool { return !w })); c != 1 {
		t.Fatalf("%d of %d concurrent claims won", c, n)
	}
	a, err = f.s.GetAttempt(ctx, inv.ID)
	if err != nil || a.Confirm == nil || !a.Confirm.Since.Equal(t0) || a.Confirm.LastTry.Sub(t1) < 0 || a.Confirm.LastTry.Sub(t1) >= n*time.Millisecond {
		t.Fatalf("after the claims: %+v (%v)", a.Confirm, err)
	}
	t2 := t0.Add(time.Minute)
	if err := f.s.StartConfirm(ctx, inv.ID, t2); err != nil {
		t.Fatal(err)
	}
	if a, err = f.s.GetAttempt(ctx, inv.ID); err != nil || !a.Confirm.Since.Equal(t2) || !a.Confirm.LastTry.Equal(t2) {
		t.Fatalf("a later return: %+v (%v)", a.Confirm, err)
	}
}
