package e2e

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/dynamolocal"
	"github.com/ocpro/upgrade/internal/config"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// sweepSchedule names the reminder sweep's schedule in template.yaml.
const sweepSchedule = "InvitationRemindersFunction.Sweep"

// tableStore is the service's store on the stack's DynamoDB Local, for
// moving an invitation's times into the past instead of waiting for them.
var tableStore = sync.OnceValues(func() (*store.Store, error) {
	db, err := dynamolocal.NewClient(context.Background(), env.DynamoURL)
	if err != nil {
		return nil, err
	}
	return store.New(db, env.TableName)
})

// reminderPolicy is the policy the stack's functions run with.
func reminderPolicy(t *testing.T) upgrade.ReminderPolicy {
	t.Helper()
	f := env.Template.Functions["InvitationRemindersFunction"]
	if f == nil {
		t.Fatal("template has no InvitationRemindersFunction")
	}
	r := config.NewReader(func(k string) string { return f.Environment[k] })
	policy := config.Reminders.Read(r)
	if err := r.Err(); err != nil || len(policy.Offsets) == 0 {
		t.Fatalf("reminder offsets %q: %v", f.Environment[config.Reminders.Name], err)
	}
	return policy
}

// rewriteInvitation changes an invitation in the table as time would have,
// and files it in the due index where the service's policy puts it, in one
// conditional write as the service makes them.
func rewriteInvitation(t *testing.T, id string, change func(*upgrade.Invitation)) upgrade.Invitation {
	t.Helper()
	st, err := tableStore()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before, err := st.GetInvitationConsistent(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	after := before
	change(&after)
	var due time.Time
	if step := reminderPolicy(t).Next(after); step.Action != upgrade.ActionNone {
		due = step.At
	}
	if err := st.UpdateInvitation(ctx, before, after, due); err != nil {
		t.Fatalf("rewrite invitation %s: %v", id, err)
	}
	return after
}

// backdateMail moves the last mail d into the past.
func backdateMail(d time.Duration) func(*upgrade.Invitation) {
	return func(inv *upgrade.Invitation) {
		inv.LastMailAt = inv.LastMailAt.Add(-d)
		inv.EmailSentAt = inv.EmailSentAt.Add(-d)
	}
}

// sweep runs the reminder sweep n times at once, as overlapping schedule
// firings and retries would, and waits for the mails it asked for.
func sweep(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = env.Bus.Trigger(ctx, sweepSchedule) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("sweep: %v", err)
		}
	}
	settleBus(t)
}

// sentInvitation creates an invitation for a new admin address and waits
// until its Welcome mail is sent and recorded.
func sentInvitation(t *testing.T, c *client) (id, admin string) {
	t.Helper()
	admin = adminAddress()
	id = inviteAdmin(t, c, admin, true)["id"].(string)
	waitForMails(t, admin, 1)
	waitForInvitation(t, c, id, "sent", func(i map[string]any) bool { return i["emailSent"] == true })
	return id, admin
}

// Two sweeps running at once send each due reminder exactly once, and a
// third finds nothing more due until the second reminder's time.
func TestSweepRemindsOnce(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-remind-"))
	first := reminderPolicy(t).Offsets[0]
	type pending struct{ id, admin string }
	var due []pending
	for range 3 {
		id, admin := sentInvitation(t, c)
		rewriteInvitation(t, id, backdateMail(first+time.Minute))
		due = append(due, pending{id, admin})
	}
	// One that is not due yet gets nothing.
	notDueID, notDueAdmin := sentInvitation(t, c)

	sweep(t, 2)
	for _, p := range due {
		mails := wantMailCount(t, p.admin, 2)
		if !strings.HasPrefix(mails[1].Subject, "Reminder:") {
			t.Errorf("second mail %q is not a reminder", mails[1].Subject)
		}
		got := getInvitation(t, c, p.id)
		wantLink(t, mails[1], got["authUrl"].(string))
		if got["remindersSent"] != 1.0 || got["lastMail"] != "reminder-1" || got["status"] != "PENDING" {
			t.Errorf("after the reminder: %v", got)
		}
	}
	wantMailCount(t, notDueAdmin, 1)

	sweep(t, 1)
	for _, p := range due {
		wantMailCount(t, p.admin, 2)
	}
	noDeadLetters(t, append([]string{notDueID}, due[0].id, due[1].id, due[2].id)...)
}

// An expired link becomes EXPIRED and gets no reminder, whether it expired
// before its reminder was due or the reminder was overdue when the sweep
// came (the service was down): the mail function refuses a dead link.
func TestSweepExpires(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-expire-"))
	first := reminderPolicy(t).Offsets[0]
	tests := []struct {
		name       string
		expiredAgo time.Duration
	}{
		{"expired before the reminder was due", first / 2},
		{"reminder overdue when the link expired", time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, admin := sentInvitation(t, c)
			authURL := getInvitation(t, c, id)["authUrl"].(string)
			rewriteInvitation(t, id, func(inv *upgrade.Invitation) {
				backdateMail(first + time.Hour)(inv)
				inv.ExpiresAt = time.Now().Add(-tc.expiredAgo)
			})
			// The overdue reminder takes one sweep to be refused and the
			// next to expire the link; three bound it.
			for range 3 {
				sweep(t, 1)
				if getInvitation(t, c, id)["status"] == "EXPIRED" {
					break
				}
			}
			got := getInvitation(t, c, id)
			if got["status"] != "EXPIRED" || got["remindersSent"] != 0.0 || got["authUrl"] != nil {
				t.Errorf("after the sweep: %v", got)
			}
			wantMailCount(t, admin, 1)
			if s := linkStatus(t, authURL); s == http.StatusOK {
				t.Errorf("expired link answers %d", s)
			}
			if r := c.do(http.MethodPost, "/v1/invitations/"+id+"/resend", nil); r.Status != http.StatusConflict {
				t.Errorf("resend of an expired invitation = %d %s", r.Status, r.Body)
			}
			list := must(t, c.do(http.MethodGet, "/v1/invitations?status=EXPIRED", nil), http.StatusOK)
			listed := false
			for _, it := range list["items"].([]any) {
				listed = listed || it.(map[string]any)["id"] == id
			}
			if !listed {
				t.Errorf("expired invitation not listed under EXPIRED: %v", list)
			}
			noDeadLetters(t, id)
		})
	}
}

// Nothing is sent after the administrator has started or finished, nor for
// a revoked link, however overdue the reminder.
func TestSweepSkipsStartedAndFinished(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-done-"))
	first := reminderPolicy(t).Offsets[0]
	tests := []struct {
		name   string
		status upgrade.InvitationStatus
	}{
		{"wizard started", upgrade.InvitationInProgress},
		{"token acquired", upgrade.InvitationTokenAcquired},
		{"authentication complete", upgrade.InvitationAuthenticationComplete},
		{"revoked", upgrade.InvitationRevoked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, admin := sentInvitation(t, c)
			rewriteInvitation(t, id, func(inv *upgrade.Invitation) {
				backdateMail(first + time.Minute)(inv)
				inv.Status = tc.status
			})
			sweep(t, 1)
			wantMailCount(t, admin, 1)
			if got := getInvitation(t, c, id); got["status"] != string(tc.status) || got["remindersSent"] != 0.0 {
				t.Errorf("after the sweep: %v", got)
			}
			noDeadLetters(t, id)
		})
	}
}
