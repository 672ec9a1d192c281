package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// Outbox reads back an event a change handed the store, by its id: every
// store keeps the events of the changes it commits in its outbox, in the
// same atomic step, and only those.
type Outbox interface {
	OutboxMessage(ctx context.Context, id string) (event.Message, bool, error)
}

// Announce is a one-event outbox batch of d with a new event id.
func Announce(t *testing.T, d event.Detail) []event.Message {
	t.Helper()
	ms, err := upgrade.Announce(d)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// InOutbox reports whether the store s holds the events ms in its outbox,
// all of them as they were handed in (true) or none of them (false); a
// part, or an event that changed on the way, fails t.
func InOutbox(t *testing.T, s any, ms []event.Message) bool {
	t.Helper()
	o, ok := s.(Outbox)
	if !ok {
		t.Fatalf("%T keeps no readable outbox (OutboxMessage)", s)
	}
	found := 0
	for _, m := range ms {
		got, ok, err := o.OutboxMessage(context.Background(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			continue
		}
		found++
		if got.ID != m.ID || got.Source != m.Source || got.DetailType != m.DetailType || !bytes.Equal(got.Detail, m.Detail) {
			t.Errorf("outbox holds %+v, the change handed in %+v", got, m)
		}
	}
	if found != 0 && found != len(ms) {
		t.Fatalf("the outbox holds %d of a change's %d events", found, len(ms))
	}
	return len(ms) > 0 && found == len(ms)
}

// testUpdateInvitationAnnounces: a committed conditional update of an
// invitation writes its events; the same update again, whose "before" is
// now stale (as a retry after a lost answer is), is refused and writes
// none.
func testUpdateInvitationAnnounces(t *testing.T, s upgrade.Store) {
	st, ok := s.(upgrade.InvitationStore)
	if !ok {
		t.Fatalf("%T has no UpdateInvitation", s)
	}
	ctx := context.Background()
	c := mustCustomer(t, s, customer(ID("op"), base))
	u := mustUpgrade(t, s, newUpgrade(c, ID("upd"), 1, upgrade.Pro))
	before, err := s.GetInvitation(ctx, u.Invitation.ID)
	if err != nil {
		t.Fatal(err)
	}
	after := before
	after.ResendCount++
	after.MailWanted, after.MailRequestedAt = upgrade.ResendMail(1), base.Add(time.Hour)
	req := upgrade.MailRequest{InvitationID: before.ID, OperatorID: before.OperatorID, Generation: before.Generation, Mail: after.MailWanted}
	first := Announce(t, upgrade.MailRequestedEvent(req))
	if err := st.UpdateInvitation(ctx, before, after, base.Add(25*time.Hour), first...); err != nil {
		t.Fatal(err)
	}
	if !InOutbox(t, s, first) {
		t.Error("the committed update's event is not in the outbox")
	}
	again := Announce(t, upgrade.MailRequestedEvent(req))
	if err := st.UpdateInvitation(ctx, before, after, base.Add(25*time.Hour), again...); !errors.Is(err, upgrade.ErrChanged) {
		t.Fatalf("the same update again = %v, want ErrChanged", err)
	}
	if InOutbox(t, s, again) {
		t.Error("a refused update wrote its event")
	}
	got, err := s.GetInvitation(ctx, before.ID)
	if err != nil || got.ResendCount != 1 || got.MailWanted != upgrade.ResendMail(1) {
		t.Errorf("invitation %+v (%v), want one resend", got, err)
	}
}
