package sweep_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/sweep"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// TestDeadlineMidSweepLeavesNothingHalfDone cuts a sweep off with its
// context deadline (the Lambda timeout) while it is paced through many due
// reminders. Every invitation is then in one of two states: claimed with
// its request in the outbox (one write does both), or not touched; a
// claim without its request, which a sweep that published after its write
// could leave, cannot happen. The next sweep requests exactly the
// untouched ones; a sweep after the mail request grace requests nothing
// more; in all, each reminder is requested once, and the table's outbox
// holds exactly the committed requests.
func TestDeadlineMidSweepLeavesNothingHalfDone(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	db, table := testenv.DynamoDB(t)
	st, err := store.New(db, table)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	created := now.Add(-30 * time.Hour)
	const due = 40
	var ids []string
	for n := range due {
		ids = append(ids, seed(t, st, n, created, func(i *upgrade.Invitation) {
			*i = upgrade.MailSettled(*i, upgrade.MailWelcome, created.Add(time.Minute))
		}).ID)
	}
	reminder := upgrade.ReminderMail(1)

	pub := &recorder{Store: st}
	// run sweeps at "at" under ctx, paced at rate mails per second.
	run := func(ctx context.Context, at time.Time, rate float64) (sweep.Result, error) {
		pace, err := sweep.NewFixedPacer(rate)
		if err != nil {
			t.Fatal(err)
		}
		s, err := sweep.New(pub, pace, fixedClock(at), nil, sweep.Config{Reminders: policy, PageSize: 7, Margin: time.Nanosecond})
		if err != nil {
			t.Fatal(err)
		}
		return s.Run(ctx)
	}
	// settle plays the mail function: the published requests are sent.
	settle := func(reqs []upgrade.MailRequest, at time.Time) {
		for _, r := range reqs {
			inv, err := st.GetInvitationConsistent(t.Context(), r.InvitationID)
			if err != nil {
				t.Fatal(err)
			}
			after := upgrade.MailSettled(inv, r.Mail, at)
			if err := st.UpdateInvitation(t.Context(), inv, after, policy.Next(after).At); err != nil {
				t.Fatal(err)
			}
		}
	}
	published := func(from int) ([]upgrade.MailRequest, []string) {
		pub.mu.Lock()
		defer pub.mu.Unlock()
		reqs := slices.Clone(pub.requests[from:])
		var got []string
		for _, r := range reqs {
			got = append(got, r.InvitationID)
		}
		slices.Sort(got)
		return reqs, got
	}

	// Run 1: 40 reminders at 20 per second need 2 s; the deadline is 1 s.
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	res, err := run(ctx, now, 20)
	cancel()
	if res.Complete {
		t.Fatalf("the first sweep completed (%+v); the deadline did not cut it off", res)
	}
	reqs1, got1 := published(0)
	var claimedUnpublished, untouched []string
	for _, id := range ids {
		inv, err := st.GetInvitationConsistent(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		claimed := inv.MailWanted == reminder && inv.MailRequestedAt.Equal(now)
		_, wasPublished := slices.BinarySearch(got1, id)
		switch {
		case wasPublished && !claimed:
			t.Errorf("%s: published without a claim (wanted %q at %v)", id, inv.MailWanted, inv.MailRequestedAt)
		case claimed && !wasPublished:
			claimedUnpublished = append(claimedUnpublished, id)
		case !claimed && !wasPublished:
			if inv.MailWanted != "" || inv.RemindersSent != 0 {
				t.Errorf("%s: half-done: wanted %q, reminders sent %d", id, inv.MailWanted, inv.RemindersSent)
			}
			untouched = append(untouched, id)
		}
	}
	t.Logf("cut off after %d published, %d claimed but unpublished (error %v), %d untouched",
		len(got1), len(claimedUnpublished), err, len(untouched))
	if len(untouched) == 0 {
		t.Fatal("nothing was left for the next sweep; the deadline came too late")
	}
	if len(claimedUnpublished) != 0 {
		t.Errorf("%v claimed without their request in the outbox", claimedUnpublished)
	}
	settle(reqs1, now.Add(time.Second))
	slices.Sort(untouched)

	// Run 2, a minute later: exactly the untouched ones.
	before := len(pub.requests)
	if res, err := run(t.Context(), now.Add(time.Minute), 0); err != nil || !res.Complete {
		t.Fatalf("second sweep: %+v, %v", res, err)
	}
	reqs2, got2 := published(before)
	if !slices.Equal(got2, untouched) {
		t.Errorf("second sweep requested %v, want the untouched %v", got2, untouched)
	}
	settle(reqs2, now.Add(time.Minute+time.Second))

	// Run 3, after the grace: exactly the claimed but unpublished ones.
	before = len(pub.requests)
	if res, err := run(t.Context(), now.Add(upgrade.MailRequestGrace+2*time.Minute), 0); err != nil || !res.Complete {
		t.Fatalf("third sweep: %+v, %v", res, err)
	}
	_, got3 := published(before)
	slices.Sort(claimedUnpublished)
	if !slices.Equal(got3, claimedUnpublished) {
		t.Errorf("third sweep requested %v, want the claimed but unpublished %v", got3, claimedUnpublished)
	}

	count := map[string]int{}
	for _, r := range pub.requests {
		if r.Mail != reminder {
			t.Errorf("%s: requested %s, want %s", r.InvitationID, r.Mail, reminder)
		}
		count[r.InvitationID]++
	}
	for _, id := range ids {
		if count[id] != 1 {
			t.Errorf("%s: requested %d times in all, want 1", id, count[id])
		}
	}
	pub.checkOutbox(t, db, table)
}
