package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/store/stale"
	"github.com/ocpro/upgrade/internal/sweep"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

// The helper itself: an eventually consistent read sees the item before
// its last write, a strongly consistent one the item as it is.
func TestStaleDB(t *testing.T) {
	t.Parallel()
	db, table := testenv.DynamoDB(t)
	s := stale.New(db)
	ctx := context.Background()
	k := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "X"}, "SK": &types.AttributeValueMemberS{Value: "A"}}
	for _, v := range []string{"one", "two"} {
		item := map[string]types.AttributeValue{"PK": k["PK"], "SK": k["SK"], "v": &types.AttributeValueMemberS{Value: v}}
		if _, err := s.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	read := func(consistent bool) string {
		out, err := s.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: k, ConsistentRead: aws.Bool(consistent)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Item == nil {
			return ""
		}
		return out.Item["v"].(*types.AttributeValueMemberS).Value
	}
	if got := read(false); got != "one" || s.Served() != 1 {
		t.Errorf("eventually consistent read = %q (%d stale), want the value before the last write", got, s.Served())
	}
	if got := read(true); got != "two" {
		t.Errorf("strongly consistent read = %q, want the last write", got)
	}
}

// invitationOnStaleReads is a store whose eventually consistent reads lag,
// with one live invitation "inv" of operator "op" and the operator's
// actions on it.
func invitationOnStaleReads(t *testing.T, now time.Time) (*store.Wizard, *upgrade.Actions, *link.Signer, func() map[string]types.AttributeValue) {
	t.Helper()
	db, table := testenv.DynamoDB(t)
	s := stale.New(db)
	w, err := store.NewWizard(s, table)
	if err != nil {
		t.Fatal(err)
	}
	seedInvitation(t, w, now)
	ctx := context.Background()
	signer, err := link.NewSigner(link.StaticKey(strings.Repeat("k", 32)), "https://portal.example.net")
	if err != nil {
		t.Fatal(err)
	}
	a, err := upgrade.NewActions(upgrade.ActionDeps{Store: w, Links: signer, Clock: fixed(now),
		Reminders: upgrade.ReminderPolicy{Offsets: upgrade.DefaultReminderOffsets}})
	if err != nil {
		t.Fatal(err)
	}
	raw := func() map[string]types.AttributeValue {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "INVITATION#inv"}, "SK": &types.AttributeValueMemberS{Value: "A"}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	return w, a, signer, raw
}

type fixed time.Time

func (f fixed) Now() time.Time { return time.Time(f) }

// opens says whether the wizard would open token now: the link's check as
// the wizard makes it, through the store.
func opens(t *testing.T, w *store.Wizard, s *link.Signer, token string, now time.Time) bool {
	t.Helper()
	var inv upgrade.Invitation
	_, err := s.Verify(context.Background(), token, func(ctx context.Context, id string) (int, bool, error) {
		i, err := w.GetInvitation(ctx, id)
		if errors.Is(err, upgrade.ErrNotFound) {
			return 0, false, nil
		}
		inv = i
		return i.Generation, err == nil, err
	})
	if err != nil && !errors.Is(err, link.ErrInvalid) {
		t.Fatal(err)
	}
	return err == nil && inv.Live(now)
}

// The operator's actions and the wizard act on what they read: an
// eventually consistent read that still shows the invitation before the
// last action must not revive a dead link or refuse a revoke.
func TestActionsOnStaleReads(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Second)
	w, a, signer, _ := invitationOnStaleReads(t, now)
	ctx := context.Background()
	first, err := signer.Token(ctx, "inv", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Regenerate(ctx, "op", "inv"); err != nil {
		t.Fatalf("regenerate: %v", err)
	}
	if opens(t, w, signer, first, now) {
		t.Error("the link of before the regenerate still opens the wizard")
	}
	if _, err := a.Regenerate(ctx, "op", "inv"); err != nil {
		t.Fatalf("regenerate right after a regenerate: %v", err)
	}
	inv, err := a.Revoke(ctx, "op", "inv")
	if err != nil {
		t.Fatalf("revoke right after a regenerate: %v", err)
	}
	for g := 1; g <= inv.Generation; g++ {
		tok, err := signer.Token(ctx, "inv", g)
		if err != nil {
			t.Fatal(err)
		}
		if opens(t, w, signer, tok, now) {
			t.Errorf("generation %d's link opens the wizard after the revoke", g)
		}
	}
}

// Revoke, regenerate, the expiry sweep and the wizard's sign-in race each
// other on stale reads, many times over: each either does its work or is
// refused cleanly, and the invitation ends in one consistent state.
func TestRaceOnStaleReads(t *testing.T) {
	t.Parallel()
	for round := range 8 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			t.Parallel()
			now := time.Now().UTC().Truncate(time.Second)
			w, a, signer, rawItem := invitationOnStaleReads(t, now)
			ctx := context.Background()
			pace, err := sweep.NewFixedPacer(0)
			if err != nil {
				t.Fatal(err)
			}
			// The sweep runs after the invitation's expiry.
			sw, err := sweep.New(w, pace, fixed(now.Add(2*time.Hour)), nil,
				sweep.Config{Reminders: upgrade.ReminderPolicy{Offsets: upgrade.DefaultReminderOffsets}})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			clean := func(what string, err error) {
				switch {
				case err == nil, errors.Is(err, wizard.ErrConflict):
				case fault.KindOf(err) == fault.Conflict, fault.KindOf(err) == fault.PreconditionFailed:
				default:
					t.Errorf("%s: %v", what, err)
				}
			}
			wg.Go(func() { _, err := a.Revoke(ctx, "op", "inv"); clean("revoke", err) })
			wg.Go(func() { _, err := a.Regenerate(ctx, "op", "inv"); clean("regenerate", err) })
			wg.Go(func() { _, err := sw.Run(ctx); clean("sweep", err) })
			wg.Go(func() {
				clean("sign-in", w.TransitionInvitation(ctx, wizard.Transition{InvitationID: "inv", OperatorID: "op", Generation: 1,
					To: upgrade.InvitationTokenAcquired, At: now, TenantID: "tid", UPN: "admin@contoso.example", ObjectID: "oid"}))
			})
			wg.Wait()

			inv, err := w.GetInvitationConsistent(ctx, "inv")
			if err != nil {
				t.Fatal(err)
			}
			raw := rawItem()
			if got := attr(raw, "GSI2PK"); got != "OP#op#INVITATIONS#STATUS#"+string(inv.Status) {
				t.Errorf("status %s filed under %q", inv.Status, got)
			}
			if upgrade.InvitationConcluded.Contains(inv.Status) && attr(raw, "DuePK") != "" {
				t.Errorf("%s invitation still due: %q", inv.Status, attr(raw, "DuePK"))
			}
			for g := 1; g <= inv.Generation; g++ {
				tok, err := signer.Token(ctx, "inv", g)
				if err != nil {
					t.Fatal(err)
				}
				if want := g == inv.Generation && inv.Live(now); opens(t, w, signer, tok, now) != want {
					t.Errorf("generation %d of %d (%s): opens = %v, want %v", g, inv.Generation, inv.Status, !want, want)
				}
			}
		})
	}
}

func attr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}
