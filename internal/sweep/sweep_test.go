package sweep_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/sweep"
	"github.com/ocpro/upgrade/internal/upgrade"
)

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// recorder is the DynamoDB store, remembering in order the events of the
// writes that committed; checkOutbox holds them to what the table's
// outbox has.
type recorder struct {
	*store.Store
	mu       sync.Mutex
	requests []upgrade.MailRequest
	expired  []string
	ids      []string
}

func (r *recorder) UpdateInvitation(ctx context.Context, before, after upgrade.Invitation, due time.Time, events ...event.Message) error {
	err := r.Store.UpdateInvitation(ctx, before, after, due, events...)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range events {
		r.ids = append(r.ids, m.ID)
		var req event.InvitationMailRequested
		var exp event.InvitationExpired
		switch {
		case req.Type().Is(m.Source, m.DetailType):
			if err := event.Decode(m.Detail, &req); err != nil {
				return err
			}
			r.requests = append(r.requests, upgrade.MailRequest{InvitationID: req.InvitationID, OperatorID: req.OperatorID,
				Generation: req.Generation, Mail: upgrade.MailKind(req.Mail)})
		case exp.Type().Is(m.Source, m.DetailType):
			if err := event.Decode(m.Detail, &exp); err != nil {
				return err
			}
			r.expired = append(r.expired, exp.InvitationID)
		}
	}
	return nil
}

// checkOutbox fails t unless the table's outbox holds exactly the events
// of the committed writes: none of a write that lost, none twice.
func (r *recorder) checkOutbox(t *testing.T, db *dynamodb.Client, table string) {
	t.Helper()
	var got []string
	// A test may scan: it must see every item, whatever its key.
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			it, ok, err := store.DecodeOutboxItem(item)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				got = append(got, it.Message.ID)
			}
		}
	}
	r.mu.Lock()
	want := slices.Clone(r.ids)
	r.mu.Unlock()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the outbox holds %d events %v, the committed writes announced %d %v", len(got), got, len(want), want)
	}
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

	pub := &recorder{Store: st}
	pace, perr := sweep.NewFixedPacer(0)
	if perr != nil {
		t.Fatal(perr)
	}
	run := func() sweep.Result {
		s, err := sweep.New(pub, pace, fixedClock(now), nil, sweep.Config{Reminders: policy, PageSize: 3})
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
	pub.checkOutbox(t, db, table)
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
		pace sweep.Pacer
	}{
		{"no store", nil, pace},
		{"no pacer", &store.Store{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := sweep.New(tt.st, tt.pace, fixedClock(time.Now()), nil, sweep.Config{}); err == nil {
				t.Error("accepted")
			}
		})
	}
}
