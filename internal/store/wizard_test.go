package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	localkms "github.com/ocpro/upgrade/infra/kms"
	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/seal"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

// wizardStore is a Wizard store on a fresh table of DynamoDB Local, with
// one PENDING invitation "inv" of operator "op" that expires in an hour.
func wizardStore(t *testing.T) (*store.Wizard, *dynamodb.Client, string) {
	t.Helper()
	db, table := testenv.DynamoDB(t)
	w, err := store.NewWizard(db, table)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	c := upgrade.Customer{ID: "cust", OperatorID: "op", Name: "Contoso", Kind: upgrade.KindCustomer, License: upgrade.Essentials, CreatedAt: now}
	if err := w.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	u := upgrade.Upgrade{ID: "up", OperatorID: "op", CustomerID: c.ID, Status: upgrade.UpgradePendingAuthentication, CreatedAt: now,
		Service: upgrade.Service{ID: "svc", CustomerID: c.ID, FullName: "Teams", ShortName: "teams", License: upgrade.Pro,
			LicensedUsers: 10, Status: upgrade.ServicePendingAuthentication, CreatedAt: now},
		Invitation: upgrade.Invitation{ID: "inv", OperatorID: "op", CustomerID: c.ID, UpgradeID: "up", ServiceID: "svc",
			TokenID: "TOKINV", Status: upgrade.InvitationPending, Generation: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}}
	if _, _, err := w.CreateUpgrade(ctx, upgrade.Creation{Upgrade: u}); err != nil {
		t.Fatal(err)
	}
	return w, db, table
}

func transition(to upgrade.InvitationStatus) wizard.Transition {
	return wizard.Transition{InvitationID: "inv", OperatorID: "op", To: to, At: time.Now()}
}

// Status changes are conditional on the current status, on the
// invitation's expiry and, for completion, on the recorded tenant.
func TestTransitionConditions(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	tests := []struct {
		name    string
		before  []wizard.Transition
		t       wizard.Transition
		wantErr error
	}{
		{name: "from the current status", t: transition(upgrade.InvitationInProgress)},
		{name: "from another status", t: transition(upgrade.InvitationAuthenticationComplete), wantErr: wizard.ErrConflict},
		{name: "after the expiry", wantErr: wizard.ErrConflict, t: func() wizard.Transition {
			tr := transition(upgrade.InvitationInProgress)
			tr.At = time.Now().Add(2 * time.Hour)
			return tr
		}()},
		{name: "an unknown invitation", wantErr: wizard.ErrConflict, t: func() wizard.Transition {
			tr := transition(upgrade.InvitationInProgress)
			tr.InvitationID = "nosuch"
			return tr
		}()},
		{name: "completion for the recorded tenant",
			before: []wizard.Transition{acquired("tenant-a")}, t: completed("tenant-a")},
		{name: "completion for another tenant", wantErr: wizard.ErrConflict,
			before: []wizard.Transition{acquired("tenant-a")}, t: completed("tenant-b")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, _, _ := wizardStore(t)
			ctx := context.Background()
			for _, b := range tt.before {
				if err := w.TransitionInvitation(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			was, err := w.GetInvitation(ctx, "inv")
			if err != nil {
				t.Fatal(err)
			}
			err = w.TransitionInvitation(ctx, tt.t)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			inv, err := w.GetInvitation(ctx, "inv")
			if err != nil {
				t.Fatal(err)
			}
			want := tt.t.To
			if tt.wantErr != nil {
				want = was.Status
			}
			if inv.Status != want {
				t.Fatalf("status %s, want %s", inv.Status, want)
			}
		})
	}
}

func acquired(tenant string) wizard.Transition {
	tr := transition(upgrade.InvitationTokenAcquired)
	tr.TenantID, tr.UPN, tr.ObjectID = tenant, "admin@"+tenant, "oid-"+tenant
	return tr
}

func completed(tenant string) wizard.Transition {
	tr := transition(upgrade.InvitationAuthenticationComplete)
	tr.TenantID, tr.Granted = tenant, []string{"Organization.Read.All"}
	return tr
}

// Of two status changes racing from the same status exactly one wins.
func TestConcurrentTransitionsOneWins(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	for round := range 3 {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			t.Parallel()
			w, _, _ := wizardStore(t)
			ctx := context.Background()
			if err := w.TransitionInvitation(ctx, acquired("tenant-a")); err != nil {
				t.Fatal(err)
			}
			racers := []wizard.Transition{completed("tenant-a"), transition(upgrade.InvitationFailed),
				completed("tenant-a"), transition(upgrade.InvitationFailed)}
			errs := make([]error, len(racers))
			var wg sync.WaitGroup
			for i, tr := range racers {
				wg.Go(func() { errs[i] = w.TransitionInvitation(ctx, tr) })
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
			inv, err := w.GetInvitation(ctx, "inv")
			if err != nil || inv.Status != racers[winner].To {
				t.Fatalf("status %s, winner wanted %s (%v)", inv.Status, racers[winner].To, err)
			}
		})
	}
}

// The operator's status list (GSI2) follows every change, and a finished
// invitation leaves the sweep's DueWork index.
func TestTransitionRewritesStatusIndex(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	w, db, table := wizardStore(t)
	ctx := context.Background()
	steps := []wizard.Transition{transition(upgrade.InvitationInProgress), acquired("tenant-a"), completed("tenant-a")}
	for _, tr := range steps {
		if err := w.TransitionInvitation(ctx, tr); err != nil {
			t.Fatal(err)
		}
		for _, s := range []upgrade.InvitationStatus{upgrade.InvitationPending, upgrade.InvitationInProgress,
			upgrade.InvitationTokenAcquired, upgrade.InvitationAuthenticationComplete} {
			l, err := w.ListInvitations(ctx, "op", upgrade.InvitationFilter{Status: s}, upgrade.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if listed := len(l.Items) == 1; listed != (s == tr.To) {
				t.Fatalf("after %s the %s list holds %d invitations", tr.To, s, len(l.Items))
			}
		}
	}
	inv, err := w.GetInvitation(ctx, "inv")
	if err != nil || inv.TenantID != "tenant-a" || inv.AuthenticatedBy != "admin@tenant-a" || inv.AuthenticatedByObjectID != "oid-tenant-a" ||
		inv.AuthenticatedAt.IsZero() || !slices.Equal(inv.GrantedPermissions, []string{"Organization.Read.All"}) {
		t.Fatalf("invitation %+v (%v)", inv, err)
	}
	raw := item(t, db, table, "INVITATION#inv", "A")
	if _, due := raw["DuePK"]; due {
		t.Fatal("a completed invitation is still in the DueWork index")
	}
}

// item reads one raw item.
func item(t *testing.T, db *dynamodb.Client, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// A state is taken once: of concurrent takers exactly one gets it, and it
// is stored by hash with a TTL.
func TestTakeStateOnce(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	w, db, table := wizardStore(t)
	ctx := context.Background()
	hash := wizard.Hash("the-state")
	exp := time.Now().Add(15 * time.Minute).UTC().Truncate(time.Second)
	st := wizard.State{Hash: hash, InvitationID: "inv", Purpose: wizard.PurposeConsent, BindingHash: wizard.Hash("binding"),
		TenantID: "tenant-a", ExpiresAt: exp}
	if err := w.PutState(ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := w.PutState(ctx, st); err == nil {
		t.Fatal("the same state was stored twice")
	}
	raw := item(t, db, table, "STATE#"+hash, "A")
	if ttl, ok := raw["ttl"].(*types.AttributeValueMemberN); !ok || ttl.Value != fmt.Sprint(exp.Unix()) {
		t.Fatalf("ttl %v", raw["ttl"])
	}
	const n = 8
	got := make([]wizard.State, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = w.TakeState(ctx, hash) })
	}
	wg.Wait()
	won := 0
	for i := range n {
		switch {
		case errs[i] == nil:
			won++
			if got[i].InvitationID != "inv" || got[i].Purpose != wizard.PurposeConsent || got[i].BindingHash != st.BindingHash ||
				got[i].TenantID != "tenant-a" || !got[i].ExpiresAt.Equal(exp) {
				t.Fatalf("took %+v", got[i])
			}
		case !errors.Is(errs[i], upgrade.ErrNotFound):
			t.Fatalf("taker %d: %v", i, errs[i])
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d takers got the state", won, n)
	}
}

// The device attempt's poll claim is a compare-and-set on the last poll
// time, and a settled attempt cannot be claimed and drops its code.
func TestClaimPollCompareAndSet(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	w, db, table := wizardStore(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	d := wizard.Device{SealedCode: []byte("sealed"), UserCode: "ABCD2345", VerificationURI: "https://login.example/devicelogin",
		Interval: 5 * time.Second, ExpiresAt: t0.Add(15 * time.Minute), LastPoll: t0}
	if err := w.StartDevice(ctx, "inv", d, 20); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(5 * time.Second)
	if ok, err := w.ClaimPoll(ctx, "inv", t0, t1); !ok || err != nil {
		t.Fatalf("first claim: %v, %v", ok, err)
	}
	if ok, err := w.ClaimPoll(ctx, "inv", t0, t1.Add(time.Second)); ok || err != nil {
		t.Fatalf("claim with a stale last poll: %v, %v", ok, err)
	}
	const n = 8
	wins := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ok, err := w.ClaimPoll(ctx, "inv", t1, t1.Add(5*time.Second+time.Duration(i)*time.Millisecond))
			if err != nil {
				t.Error(err)
			}
			wins[i] = ok
		})
	}
	wg.Wait()
	if c := count(wins); c != 1 {
		t.Fatalf("%d of %d concurrent claims won", c, n)
	}
	a, err := w.GetAttempt(ctx, "inv")
	if err != nil || a.DeviceStarts != 1 || a.Device == nil || a.Device.LastPoll.Sub(t1) < 5*time.Second {
		t.Fatalf("attempt %+v (%v)", a, err)
	}
	if err := w.SettleDevice(ctx, "inv", 10*time.Second, wizard.OutcomeDeclined); err != nil {
		t.Fatal(err)
	}
	a, err = w.GetAttempt(ctx, "inv")
	if err != nil || a.Device.Outcome != wizard.OutcomeDeclined || a.Device.Interval != 10*time.Second || a.Device.SealedCode != nil {
		t.Fatalf("settled attempt %+v (%v)", a.Device, err)
	}
	if ok, err := w.ClaimPoll(ctx, "inv", a.Device.LastPoll, time.Now()); ok || err != nil {
		t.Fatalf("claimed a settled attempt: %v, %v", ok, err)
	}
	if raw := item(t, db, table, "INVITATION#inv", "WIZARD"); raw == nil {
		t.Fatal("no wizard item")
	}
}

func count(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

// Starting a device attempt marks the invitation in the same transaction,
// so that opening the link knows from the invitation alone whether to read
// the wizard record; a refused start marks nothing and counts nothing.
func TestStartDeviceMarksTheInvitation(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	w, db, table := wizardStore(t)
	ctx := context.Background()
	d := wizard.Device{UserCode: "A", Interval: 5 * time.Second, ExpiresAt: time.Now().Add(time.Minute), LastPoll: time.Now()}
	if inv, err := w.GetInvitation(ctx, "inv"); err != nil || inv.DeviceAttempt {
		t.Fatalf("new invitation: device attempt %v (%v), want false", inv.DeviceAttempt, err)
	}
	if err := w.StartDevice(ctx, "inv", d, 1); err != nil {
		t.Fatal(err)
	}
	if inv, err := w.GetInvitation(ctx, "inv"); err != nil || !inv.DeviceAttempt {
		t.Fatalf("after a start: device attempt %v (%v), want true", inv.DeviceAttempt, err)
	}
	if err := w.StartDevice(ctx, "inv", d, 1); !errors.Is(err, wizard.ErrTooManyAttempts) {
		t.Fatalf("start over the limit: %v, want ErrTooManyAttempts", err)
	}
	if err := w.StartDevice(ctx, "missing", d, 1); !errors.Is(err, wizard.ErrConflict) {
		t.Fatalf("start on a missing invitation: %v, want ErrConflict", err)
	}
	if raw := item(t, db, table, "INVITATION#missing", "WIZARD"); raw != nil {
		t.Errorf("a refused start left a wizard record: %v", raw)
	}
}

// Starts and redirects are counted against their limit, each on its own.
func TestAttemptCounters(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	w, _, _ := wizardStore(t)
	ctx := context.Background()
	d := wizard.Device{UserCode: "A", Interval: 5 * time.Second, ExpiresAt: time.Now().Add(time.Minute), LastPoll: time.Now()}
	for i := range 2 {
		if err := w.StartDevice(ctx, "inv", d, 2); err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
	}
	if err := w.StartDevice(ctx, "inv", d, 2); !errors.Is(err, wizard.ErrTooManyAttempts) {
		t.Fatalf("third start: %v", err)
	}
	if err := w.CountRedirect(ctx, "inv", 1); err != nil {
		t.Fatalf("first redirect: %v", err)
	}
	if err := w.CountRedirect(ctx, "inv", 1); !errors.Is(err, wizard.ErrTooManyAttempts) {
		t.Fatalf("second redirect: %v", err)
	}
	if a, err := w.GetAttempt(ctx, "inv"); err != nil || a.DeviceStarts != 2 || a.Redirects != 1 {
		t.Fatalf("attempt %+v (%v)", a, err)
	}
}

// The kept refresh token reaches DynamoDB sealed: no attribute of any item
// holds it, and it opens again only under its own context.
func TestCredentialIsStoredSealed(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	w, db, table := wizardStore(t)
	ctx := context.Background()
	sealer := newSealer(t)
	refresh := "1.AXEArefresh-token-that-must-never-be-stored-in-plain-text"
	encCtx := wizard.CredentialContext("tenant-a", "inv")
	blob, err := sealer.Seal(ctx, []byte(refresh), encCtx)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	if err := w.SaveCredential(ctx, "inv", wizard.Credential{TenantID: "tenant-a", SealedRefresh: blob, At: at}); err != nil {
		t.Fatal(err)
	}
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range out.Items {
		if pk, _ := it["PK"].(*types.AttributeValueMemberS); pk != nil && pk.Value == "INVITATION#inv" {
			if sk, _ := it["SK"].(*types.AttributeValueMemberS); sk != nil && sk.Value == "CREDENTIAL" {
				found = true
			}
		}
		for name, v := range it {
			if holds(v, refresh) {
				t.Fatalf("attribute %s holds the refresh token in plain text", name)
			}
		}
	}
	if !found {
		t.Fatal("no credential item")
	}
	c, err := w.GetCredential(ctx, "inv")
	if err != nil || c.TenantID != "tenant-a" || !c.At.Equal(at) {
		t.Fatalf("credential %+v (%v)", c, err)
	}
	if plain, err := sealer.Open(ctx, c.SealedRefresh, encCtx); err != nil || string(plain) != refresh {
		t.Fatalf("open: %q, %v", plain, err)
	}
	if _, err := sealer.Open(ctx, c.SealedRefresh, wizard.CredentialContext("tenant-b", "inv")); !errors.Is(err, seal.ErrOpen) {
		t.Fatalf("opened under another tenant: %v", err)
	}
	if _, err := w.GetCredential(ctx, "other"); !errors.Is(err, upgrade.ErrNotFound) {
		t.Fatalf("missing credential: %v", err)
	}
}

// holds reports whether an attribute value contains s, in text or bytes,
// at any depth.
func holds(v types.AttributeValue, s string) bool {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return strings.Contains(v.Value, s)
	case *types.AttributeValueMemberB:
		return bytes.Contains(v.Value, []byte(s))
	case *types.AttributeValueMemberM:
		for _, e := range v.Value {
			if holds(e, s) {
				return true
			}
		}
	case *types.AttributeValueMemberL:
		for _, e := range v.Value {
			if holds(e, s) {
				return true
			}
		}
	case *types.AttributeValueMemberSS:
		return slices.ContainsFunc(v.Value, func(e string) bool { return strings.Contains(e, s) })
	}
	return false
}

// newSealer is the real Sealer over the real KMS client, talking to the
// local KMS stand-in, which enforces the encryption context as AWS does.
func newSealer(t *testing.T) *seal.Sealer {
	t.Helper()
	const keyARN = "arn:aws:kms:eu-west-1:000000000000:key/store-test"
	h, err := localkms.New(keyARN, bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := kms.New(kms.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	s, err := seal.New(client, keyARN)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
