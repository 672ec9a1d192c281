package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/notify"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/sweep"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

// errCrash is what the caller sees when it dies, or its connection does,
// right after DynamoDB committed its write: the write is done, the caller
// learns nothing of it.
var errCrash = errors.New("crash right after the commit")

// crashing passes every call to DynamoDB Local; armed, the next write
// (TransactWriteItems, UpdateItem or PutItem) is committed and then
// answered with errCrash, as if the function died before it saw the
// answer.
type crashing struct {
	*dynamodb.Client
	mu    sync.Mutex
	armed bool
	hits  int
}

func (c *crashing) arm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = true
}

// after turns a committed write's answer into errCrash when armed.
func (c *crashing) after(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || !c.armed {
		return err
	}
	c.armed = false
	c.hits++
	return errCrash
}

func (c *crashing) crashed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits
}

func (c *crashing) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	out, err := c.Client.TransactWriteItems(ctx, in, o...)
	return out, c.after(err)
}

func (c *crashing) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := c.Client.UpdateItem(ctx, in, o...)
	return out, c.after(err)
}

func (c *crashing) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	out, err := c.Client.PutItem(ctx, in, o...)
	return out, c.after(err)
}

// crashWorld is the DynamoDB store on a crashing client, seeded with
// customer "cust", upgrade "up" and the PENDING invitation "inv" of "op"
// to admin@contoso.example, whose link lives a week.
type crashWorld struct {
	db    *crashing
	table string
	w     *store.Wizard
	now   time.Time
}

func newCrashWorld(t *testing.T) crashWorld {
	t.Helper()
	testenv.Integration(t)
	raw, table := testenv.DynamoDB(t)
	db := &crashing{Client: raw}
	w, err := store.NewWizard(db, table)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	ctx := context.Background()
	c := upgrade.Customer{ID: "cust", OperatorID: "op", Name: "Contoso", Kind: upgrade.KindCustomer, License: upgrade.Essentials, CreatedAt: now}
	if err := w.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	u := upgrade.Upgrade{ID: "up", OperatorID: "op", CustomerID: c.ID, Status: upgrade.UpgradePendingAuthentication, CreatedAt: now,
		Service: upgrade.Service{ID: "svc", CustomerID: c.ID, FullName: "Teams", ShortName: "teams", License: upgrade.Pro,
			LicensedUsers: 10, Status: upgrade.ServicePendingAuthentication, CreatedAt: now},
		Invitation: upgrade.Invitation{ID: "inv", OperatorID: "op", CustomerID: c.ID, UpgradeID: "up", ServiceID: "svc",
			TokenID: "TOKINV", Status: upgrade.InvitationPending, AdminEmail: "admin@contoso.example", SendInvitation: true,
			Generation: 1, CreatedAt: now, ExpiresAt: now.Add(upgrade.DefaultInvitationTTL)}}
	if _, _, err := w.CreateUpgrade(ctx, upgrade.Creation{Upgrade: u}); err != nil {
		t.Fatal(err)
	}
	return crashWorld{db: db, table: table, w: w, now: now}
}

// outbox reads every outbox item of the table (a test may scan).
func (c crashWorld) outbox(t *testing.T) []event.Message {
	t.Helper()
	var ms []event.Message
	p := dynamodb.NewScanPaginator(c.db.Client, &dynamodb.ScanInput{TableName: aws.String(c.table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			it, ok, err := store.DecodeOutboxItem(item)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				if it.Expires.Before(time.Now().Add(store.OutboxTTL-time.Hour)) || it.Expires.After(time.Now().Add(store.OutboxTTL+time.Hour)) {
					t.Errorf("outbox item %s expires at %v, want a day from now", it.Message.ID, it.Expires)
				}
				ms = append(ms, it.Message)
			}
		}
	}
	return ms
}

// one fails t unless the outbox holds exactly one event, of d's type, and
// returns it decoded into d.
func (c crashWorld) one(t *testing.T, d event.Detail) event.Message {
	t.Helper()
	ms := c.outbox(t)
	if len(ms) != 1 {
		t.Fatalf("the outbox holds %d events, want 1: %+v", len(ms), ms)
	}
	if !d.Type().Is(ms[0].Source, ms[0].DetailType) {
		t.Fatalf("the outbox holds a %s / %s, want a %s", ms[0].Source, ms[0].DetailType, d.Type().DetailType)
	}
	if err := event.Decode(ms[0].Detail, d); err != nil {
		t.Fatal(err)
	}
	if ms[0].ID == "" || event.IdempotencyKey(ms[0].Source, "envelope", ms[0].Detail) != ms[0].ID {
		t.Errorf("event %s does not carry its id in its detail: %s", ms[0].ID, ms[0].Detail)
	}
	return ms[0]
}

func (c crashWorld) invitation(t *testing.T) upgrade.Invitation {
	t.Helper()
	inv, err := c.w.GetInvitation(context.Background(), "inv")
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// mailed settles the seeded invitation's Welcome mail at at, as the mail
// function does, with no event.
func (c crashWorld) mailed(t *testing.T, at time.Time, edit func(*upgrade.Invitation)) upgrade.Invitation {
	t.Helper()
	before := c.invitation(t)
	after := upgrade.MailSettled(before, upgrade.MailWelcome, at)
	if edit != nil {
		edit(&after)
	}
	if err := c.w.UpdateInvitation(context.Background(), before, after, policy.Next(after).At); err != nil {
		t.Fatal(err)
	}
	return c.invitation(t)
}

type at time.Time

func (a at) Now() time.Time { return time.Time(a) }

var policy = upgrade.ReminderPolicy{Offsets: upgrade.DefaultReminderOffsets}

func signer(t *testing.T) *link.Signer {
	t.Helper()
	s, err := link.NewSigner(link.StaticKey(strings.Repeat("k", 32)), "https://portal.example.net")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCommittedChangeKeepsItsEventThroughACrash kills the caller right
// after each state change that announces an event commits (the write is
// done, the caller sees an error): the event is in the table's outbox all
// the same, written by the same transaction, and the pipe will carry it.
// The caller's retry, or the next run, changes nothing and writes no
// second event: the change's own condition refuses it.
func TestCommittedChangeKeepsItsEventThroughACrash(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	ctx := context.Background()

	t.Run("create upgrade", func(t *testing.T) {
		t.Parallel()
		c := newCrashWorld(t)
		p, err := upgrade.NewPortal(upgrade.Deps{Store: c.w.Store, Links: signer(t), Clock: at(c.now), IDs: upgrade.RandomIDs{}})
		if err != nil {
			t.Fatal(err)
		}
		in := upgrade.StartUpgradeInput{ServiceFullName: "Contoso Calling", ServiceShortName: "contoso2", LicenseType: string(upgrade.Pro),
			LicensedUsers: 5, AdminEmail: "admin@contoso.example", SendInvitation: true, IdempotencyKey: "create-1"}
		c.db.arm()
		if _, _, err := p.StartUpgrade(ctx, "op", "cust", in); err == nil || c.db.crashed() != 1 {
			t.Fatalf("StartUpgrade through a crash = %v", err)
		}
		var d event.InvitationCreated
		c.one(t, &d)
		if _, err := c.w.GetInvitation(ctx, d.InvitationID); err != nil || d.OperatorID != "op" || d.CustomerID != "cust" {
			t.Fatalf("event %+v of an invitation not stored (%v)", d, err)
		}
		// The portal's client retries with the same Idempotency-Key.
		u, replayed, err := p.StartUpgrade(ctx, "op", "cust", in)
		if err != nil || !replayed || u.Invitation.ID != d.InvitationID {
			t.Fatalf("retry = %+v, replayed %v, %v", u.Invitation.ID, replayed, err)
		}
		c.one(t, &event.InvitationCreated{})
	})

	t.Run("resend", func(t *testing.T) {
		t.Parallel()
		c := newCrashWorld(t)
		c.mailed(t, c.now.Add(-time.Hour), nil)
		a, err := upgrade.NewActions(upgrade.ActionDeps{Store: c.w.Store, Links: signer(t), Clock: at(c.now), Reminders: policy})
		if err != nil {
			t.Fatal(err)
		}
		c.db.arm()
		if _, err := a.Resend(ctx, "op", "inv"); err == nil {
			t.Fatal("Resend through a crash succeeded")
		}
		var d event.InvitationMailRequested
		c.one(t, &d)
		if inv := c.invitation(t); d.Mail != string(upgrade.ResendMail(1)) || inv.MailWanted != upgrade.ResendMail(1) || inv.ResendCount != 1 {
			t.Fatalf("event %+v, invitation wants %q after %d resends", d, inv.MailWanted, inv.ResendCount)
		}
		// The operator clicks again: too soon, nothing new.
		if _, err := a.Resend(ctx, "op", "inv"); fault.KindOf(err) != fault.TooManyRequests {
			t.Fatalf("retry = %v, want too many requests", err)
		}
		c.one(t, &event.InvitationMailRequested{})
	})

	t.Run("regenerate", func(t *testing.T) {
		t.Parallel()
		c := newCrashWorld(t)
		c.mailed(t, c.now.Add(-time.Hour), nil)
		a, err := upgrade.NewActions(upgrade.ActionDeps{Store: c.w.Store, Links: signer(t), Clock: at(c.now), Reminders: policy})
		if err != nil {
			t.Fatal(err)
		}
		before := c.invitation(t)
		c.db.arm()
		if _, err := a.Regenerate(ctx, "op", "inv"); err == nil {
			t.Fatal("Regenerate through a crash succeeded")
		}
		var d event.InvitationMailRequested
		c.one(t, &d)
		after := c.invitation(t)
		if after.Generation != 2 || d.Generation != 2 || d.Mail != string(upgrade.MailWelcome) {
			t.Fatalf("event %+v, generation %d", d, after.Generation)
		}
		// The same write again, as a retry of the lost answer would make it.
		again, err := upgrade.Announce(upgrade.MailRequestedEvent(upgrade.MailRequest{InvitationID: "inv", OperatorID: "op", Generation: 2,
			Mail: upgrade.MailWelcome}))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.w.UpdateInvitation(ctx, before, after, time.Time{}, again...); !errors.Is(err, upgrade.ErrChanged) {
			t.Fatalf("the same write again = %v, want ErrChanged", err)
		}
		c.one(t, &event.InvitationMailRequested{})
	})

	for _, tc := range []struct {
		name   string
		detail func() event.Detail
		edit   func(*upgrade.Invitation)
	}{
		// A Welcome mail settled 30 hours ago: the first reminder is due.
		{"sweep reminder", func() event.Detail { return &event.InvitationMailRequested{} }, nil},
		// Both reminders sent, the link past its expiry: it expires.
		{"sweep expiry", func() event.Detail { return &event.InvitationExpired{} }, func(i *upgrade.Invitation) { i.RemindersSent = 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCrashWorld(t)
			when := c.now.Add(30 * time.Hour)
			if tc.edit != nil {
				when = c.now.Add(upgrade.DefaultInvitationTTL + time.Hour)
			}
			c.mailed(t, c.now.Add(-time.Minute), tc.edit)
			pace, err := sweep.NewFixedPacer(0)
			if err != nil {
				t.Fatal(err)
			}
			s, err := sweep.New(c.w.Store, pace, at(when), nil, sweep.Config{Reminders: policy})
			if err != nil {
				t.Fatal(err)
			}
			c.db.arm()
			if _, err := s.Run(ctx); err == nil || c.db.crashed() != 1 {
				t.Fatalf("sweep through a crash = %v (crashes %d)", err, c.db.crashed())
			}
			c.one(t, tc.detail())
			// The next run, at the same time, finds the work done.
			res, err := s.Run(ctx)
			if err != nil || res.Requested+res.Expired != 0 {
				t.Fatalf("next run = %+v, %v", res, err)
			}
			c.one(t, tc.detail())
		})
	}

	t.Run("wizard completion", func(t *testing.T) {
		t.Parallel()
		c := newCrashWorld(t)
		if err := c.w.TransitionInvitation(ctx, acquired(contoso)); err != nil {
			t.Fatal(err)
		}
		complete := func() wizard.Transition {
			tr := transition(upgrade.InvitationAuthenticationComplete)
			tr.TenantID, tr.Granted = contoso, []string{"Organization.Read.All"}
			ms, err := upgrade.Announce(upgrade.AuthenticationCompletedEvent(c.invitation(t), contoso))
			if err != nil {
				t.Fatal(err)
			}
			tr.Events = ms
			return tr
		}
		c.db.arm()
		if err := c.w.TransitionInvitation(ctx, complete()); !errors.Is(err, errCrash) {
			t.Fatalf("completion through a crash = %v", err)
		}
		var d event.AuthenticationCompleted
		c.one(t, &d)
		if d.TenantID != contoso || d.InvitationID != "inv" || d.UpgradeID != "up" || c.invitation(t).Status != upgrade.InvitationAuthenticationComplete {
			t.Fatalf("event %+v", d)
		}
		if err := c.w.TransitionInvitation(ctx, complete()); !errors.Is(err, wizard.ErrConflict) {
			t.Fatalf("completion again = %v, want ErrConflict", err)
		}
		c.one(t, &event.AuthenticationCompleted{})
	})

	t.Run("staff confirm the tenant", func(t *testing.T) {
		t.Parallel()
		c := newCrashWorld(t)
		awaiting(t, c.w, fabrikam)
		r, err := upgrade.NewReview(c.w.Store, at(c.now), nil)
		if err != nil {
			t.Fatal(err)
		}
		c.db.arm()
		if _, err := r.ConfirmTenant(ctx, "op", "inv"); err == nil {
			t.Fatal("ConfirmTenant through a crash succeeded")
		}
		var d event.AuthenticationCompleted
		c.one(t, &d)
		if d.TenantID != fabrikam || c.invitation(t).Status != upgrade.InvitationAuthenticationComplete {
			t.Fatalf("event %+v", d)
		}
		if _, err := r.ConfirmTenant(ctx, "op", "inv"); fault.KindOf(err) != fault.PreconditionFailed {
			t.Fatalf("confirm again = %v, want precondition failed", err)
		}
		c.one(t, &event.AuthenticationCompleted{})
	})

	t.Run("resume", func(t *testing.T) {
		t.Parallel()
		c := newCrashWorld(t)
		if err := c.w.TransitionInvitation(ctx, acquired(contoso)); err != nil {
			t.Fatal(err)
		}
		tr := transition(upgrade.InvitationAuthenticationComplete)
		tr.TenantID = contoso
		if err := c.w.TransitionInvitation(ctx, tr); err != nil {
			t.Fatal(err)
		}
		u, err := c.w.GetUpgrade(ctx, "op", "up")
		if err != nil {
			t.Fatal(err)
		}
		completion := func() upgrade.Completion {
			svc := u.Service
			svc.Status = upgrade.ServiceActive
			ms, err := upgrade.Announce(upgrade.ServiceUpgradedEvent(u, svc, contoso))
			if err != nil {
				t.Fatal(err)
			}
			return upgrade.Completion{OperatorID: "op", UpgradeID: "up", Service: svc, PreviousUsers: svc.LicensedUsers, At: c.now,
				SIP: upgrade.SIPConnection{ID: "sip-" + upgrade.RandomIDs{}.NewID(), ServiceID: svc.ID, CustomerID: "cust", Name: svc.ShortName,
					FQDN: upgrade.SIPFQDN(svc.ShortName, "sip.example.net"), Port: upgrade.SIPPort, Transport: upgrade.SIPTransportTLS,
					Status: upgrade.SIPStatusActive, CreatedAt: c.now},
				M365: upgrade.M365Connection{OperatorID: "op", CustomerID: "cust", TenantID: contoso, InvitationID: "inv", ConsentedAt: c.now,
					Access: upgrade.AccessUnknown},
				Validation: upgrade.Validation{At: c.now, TenantID: contoso, Application: upgrade.CheckResult{Passed: true}},
				Events:     ms}
		}
		c.db.arm()
		if err := c.w.CompleteUpgrade(ctx, completion()); !errors.Is(err, errCrash) {
			t.Fatalf("completion through a crash = %v", err)
		}
		var d event.ServiceUpgraded
		c.one(t, &d)
		if d.UpgradeID != "up" || d.ServiceID != "svc" || d.TenantID != contoso || d.LicenseType != string(upgrade.Pro) {
			t.Fatalf("event %+v", d)
		}
		if err := c.w.CompleteUpgrade(ctx, completion()); !errors.Is(err, upgrade.ErrStateChanged) {
			t.Fatalf("completion again = %v, want ErrStateChanged", err)
		}
		c.one(t, &event.ServiceUpgraded{})
	})

	t.Run("test mail", func(t *testing.T) {
		t.Parallel()
		c := newCrashWorld(t)
		m, err := event.NewMessage(notify.TestMailRequestedEvent(notify.TestMail{OperatorID: "op", To: "staff@operator.example"}))
		if err != nil {
			t.Fatal(err)
		}
		c.db.arm()
		if err := c.w.PutEvent(ctx, m); !errors.Is(err, errCrash) {
			t.Fatalf("PutEvent through a crash = %v", err)
		}
		// The SDK or the caller tries the same write again: it is there.
		if err := c.w.PutEvent(ctx, m); err != nil {
			t.Fatalf("PutEvent again = %v", err)
		}
		var d event.TestMailRequested
		if got := c.one(t, &d); got.ID != m.ID || d.To != "staff@operator.example" {
			t.Fatalf("event %+v", got)
		}
	})
}
