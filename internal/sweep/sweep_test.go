package sweep_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/sweep"
	"github.com/ocpro/upgrade/internal/upgrade"
)

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// recorder is a Publisher that remembers what it was asked to publish.
type recorder struct {
	mu       sync.Mutex
	requests []upgrade.MailRequest
	expired  []string
}

func (r *recorder) InvitationMailRequested(_ context.Context, m upgrade.MailRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, m)
	return nil
}

func (r *recorder) InvitationExpired(_ context.Context, inv upgrade.Invitation) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expired = append(r.expired, inv.ID)
	return nil
}

var policy = upgrade.ReminderPolicy{Offsets: upgrade.DefaultReminderOffsets}

// seed stores an invitation through the store's own create transaction and
// then moves it to the state given.
func seed(t *testing.T, st *store.Store, n int, at time.Time, edit func(*upgrade.Invitation)) upgrade.Invitation {
	t.Helper()
	ctx := t.Context()
	op := "op-sweep"
	cust := upgrade.Customer{ID: fmt.Sprintf("c%d", n), OperatorID: op, Name: "Contoso", Kind: upgrade.KindCustomer,
		License: upgrade.Essentials, CreatedAt: at}
	if err := st.CreateCustomer(ctx, cust); err != nil {
		t.Fatal(err)
	}
	inv := upgrade.Invitation{ID: fmt.Sprintf("inv%d", n), OperatorID: op, CustomerID: cust.ID, UpgradeID: fmt.Sprintf("u%d", n),
		ServiceID: fmt.Sprintf("s%d", n), TokenID: fmt.Sprintf("T%d", n), Status: upgrade.InvitationPending,
		AdminEmail: "it@contoso.example", SendInvitation: true, Generation: 1, CreatedAt: at, ExpiresAt: at.Add(upgrade.DefaultInvitationTTL),
		MailWanted: upgrade.MailWelcome, MailRequestedAt: at}
	u := upgrade.Upgrade{ID: inv.UpgradeID, OperatorID: op, CustomerID: cust.ID, Status: upgrade.UpgradePendingAuthentication,
		Service: upgrade.Service{ID: inv.ServiceID, CustomerID: cust.ID, FullName: "Calling", ShortName: fmt.Sprintf("sn%d", n),
			License: upgrade.Pro, LicensedUsers: 1, Status: upgrade.ServicePendingAuthentication, CreatedAt: at},
		Invitation: inv, CreatedAt: at}
	if _, _, err := st.CreateUpgrade(ctx, upgrade.Creation{Upgrade: u}); err != nil {
		t.Fatal(err)
	}
	after := inv
	edit(&after)
	var due time.Time
	if s := policy.Next(after); s.Action != upgrade.ActionNone {
		due = s.At
	}
	if err := st.UpdateInvitation(ctx, inv, after, due); err != nil {
		t.Fatal(err)
	}
	return after
}

// TestConcurrentSweepsRemindOnce runs two sweeps at once over due, expired
// and completed invitations: each due reminder is requested exactly once,
// the expired link expires once, and nothing else is touched.
func TestConcurrentSweepsRemindOnce(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	db, table := testenv.DynamoDB(t)
	st, err := store.New(db, table)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	created := now.Add(-30 * time.Hour)
	sent := func(i *upgrade.Invitation) {
		*i = upgrade.MailSettled(*i, upgrade.MailWelcome, created.Add(time.Minute))
	}
	const due = 20
	var ids []string
	for n := range due {
		ids = append(ids, seed(t, st, n, created, sent).ID)
	}
	fresh := seed(t, st, 100, now.Add(-time.Hour), func(i *upgrade.Invitation) {
		*i = upgrade.MailSettled(*i, upgrade.MailWelcome, now.Add(-time.Hour))
	})
	expired := seed(t, st, 101, now.Add(-8*24*time.Hour), func(i *upgrade.Invitation) {
		*i = upgrade.MailSettled(*i, upgrade.MailWelcome, now.Add(-8*24*time.Hour))
		i.RemindersSent = 2
	})
	completed := seed(t, st, 102, created, func(i *upgrade.Invitation) {
		sent(i)
		i.Status = upgrade.InvitationAuthenticationComplete
	})
	lostWelcome := seed(t, st, 103, now.Add(-10*time.Minute), func(*upgrade.Invitation) {})

	pub := &recorder{}
	pace, perr := sweep.NewFixedPacer(0)
	if perr != nil {
		t.Fatal(perr)
	}
	run := func() sweep.Result {
		s, err := sweep.New(st, pub, pace, fixedClock(now), nil, sweep.Config{Reminders: policy, PageSize: 3})
		if err != nil {
			t.Error(err)
			return sweep.Result{}
		}
		res, err := s.Run(t.Context())
		if err != nil {
			t.Error(err)
		}
		return res
	}
	var wg sync.WaitGroup
	results := make([]sweep.Result, 2)
	for i := range results {
		wg.Go(func() { results[i] = run() })
	}
	wg.Wait()

	got := map[string][]upgrade.MailKind{}
	for _, r := range pub.requests {
		got[r.InvitationID] = append(got[r.InvitationID], r.Mail)
	}
	for _, id := range ids {
		if k := got[id]; len(k) != 1 || k[0] != upgrade.ReminderMail(1) {
			t.Errorf("%s: requests %v, want exactly one reminder-1", id, k)
		}
	}
	if k := got[lostWelcome.ID]; len(k) != 1 || k[0] != upgrade.MailWelcome {
		t.Errorf("lost Welcome mail: requests %v, want one welcome", k)
	}
	for _, id := range []string{fresh.ID, expired.ID, completed.ID} {
		if k := got[id]; len(k) != 0 {
			t.Errorf("%s: requests %v, want none", id, k)
		}
	}
	if len(pub.expired) != 1 || pub.expired[0] != expired.ID {
		t.Errorf("expired events %v, want [%s]", pub.expired, expired.ID)
	}
	inv, err := st.GetInvitationConsistent(t.Context(), expired.ID)
	if err != nil || inv.Status != upgrade.InvitationExpired {
		t.Errorf("expired invitation = %v, %v; want EXPIRED", inv.Status, err)
	}
	if !results[0].Complete || !results[1].Complete {
		t.Errorf("results %+v: want both complete", results)
	}

	// A third sweep right after finds nothing to request: the claims moved
	// every entry to the grace time.
	before := len(pub.requests)
	run()
	if len(pub.requests) != before {
		t.Errorf("a later sweep requested %d more mails", len(pub.requests)-before)
	}
}

func TestNewChecksDependencies(t *testing.T) {
	t.Parallel()
	pace, perr := sweep.NewFixedPacer(0)
	if perr != nil {
		t.Fatal(perr)
	}
	tests := []struct {
		name string
		st   sweep.Store
		pub  sweep.Publisher
		pace sweep.Pacer
	}{
		{"no store", nil, &recorder{}, pace},
		{"no publisher", &store.Store{}, nil, pace},
		{"no pacer", &store.Store{}, &recorder{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := sweep.New(tt.st, tt.pub, tt.pace, fixedClock(time.Now()), nil, sweep.Config{}); err == nil {
				t.Error("accepted")
			}
		})
	}
}
