package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/upgrade"
)

var (
	upgradeStatuses = []upgrade.UpgradeStatus{upgrade.UpgradePendingAuthentication, upgrade.UpgradeReadyToResume,
		upgrade.UpgradeCompleted, upgrade.UpgradeCancelled}
	serviceStatuses = []upgrade.ServiceStatus{upgrade.ServicePendingAuthentication, upgrade.ServiceActive, upgrade.ServiceCancelled}
)

// stateTable is a table and a way to put the records of a fresh upgrade,
// of a fresh customer, in any state, written as the items are kept.
type stateTable struct {
	st    *store.Store
	db    *dynamodb.Client
	table string
	n     int
}

func newStateTable(t *testing.T) *stateTable {
	t.Helper()
	db, table := testenv.DynamoDB(t)
	st, err := store.New(db, table)
	if err != nil {
		t.Fatal(err)
	}
	return &stateTable{st: st, db: db, table: table}
}

// records are the states to put a new upgrade's records in.
type records struct {
	upgrade    upgrade.UpgradeStatus
	service    upgrade.ServiceStatus
	invitation upgrade.InvitationStatus
}

// upgradeIn creates a customer with an upgrade of one user and puts its upgrade, service
// and invitation in the states of r. Subtests call it one at a time.
func (s *stateTable) upgradeIn(t *testing.T, r records) upgrade.Upgrade {
	t.Helper()
	ctx := context.Background()
	s.n++
	id := fmt.Sprintf("up%d", s.n)
	now := time.Now().UTC()
	c := upgrade.Customer{ID: "cust" + id, OperatorID: "op", Name: "Contoso", Kind: upgrade.KindCustomer, License: upgrade.Essentials,
		CreatedAt: now}
	if err := s.st.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	u := upgrade.Upgrade{ID: id, OperatorID: "op", CustomerID: c.ID, Status: upgrade.UpgradePendingAuthentication, CreatedAt: now,
		Service: upgrade.Service{ID: "svc" + id, CustomerID: c.ID, FullName: "Teams", ShortName: "teams" + id, License: upgrade.Pro,
			LicensedUsers: 1, Status: upgrade.ServicePendingAuthentication, CreatedAt: now},
		Invitation: upgrade.Invitation{ID: "inv" + id, OperatorID: "op", CustomerID: c.ID, UpgradeID: id, ServiceID: "svc" + id,
			TokenID: "TOK" + id, Status: upgrade.InvitationPending, Generation: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
			MailWanted: upgrade.MailWelcome, MailRequestedAt: now}}
	if _, _, err := s.st.CreateUpgrade(ctx, upgrade.Creation{Upgrade: u}); err != nil {
		t.Fatal(err)
	}
	s.set(t, "OP#op#UPGRADE#"+id, "SET #s = :s, #svc.#s = :svc", map[string]string{"#svc": "Service"},
		map[string]types.AttributeValue{":s": str(string(r.upgrade)), ":svc": str(string(r.service))})
	s.set(t, "OP#op#SERVICE#svc"+id, "SET #s = :s", nil, map[string]types.AttributeValue{":s": str(string(r.service))})
	s.set(t, "INVITATION#inv"+id, "SET #s = :s, TenantID = :t", nil,
		map[string]types.AttributeValue{":s": str(string(r.invitation)), ":t": str("tenant")})
	u.Status, u.Service.Status, u.Invitation.Status = r.upgrade, r.service, r.invitation
	return u
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// set writes an item's status behind the store's back.
func (s *stateTable) set(t *testing.T, pk, expr string, names map[string]string, values map[string]types.AttributeValue) {
	t.Helper()
	all := map[string]string{"#s": "Status"}
	for k, v := range names {
		all[k] = v
	}
	_, err := s.db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(s.table),
		Key:              map[string]types.AttributeValue{"PK": str(pk), "SK": str("A")},
		UpdateExpression: aws.String(expr), ExpressionAttributeNames: all, ExpressionAttributeValues: values})
	if err != nil {
		t.Fatal(err)
	}
}

// The conditions the store writes accept exactly the states the domain's
// sets and moves name: every state of each record is tried against each
// write that changes it or depends on it.
func TestConditionsAcceptExactlyTheirStates(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	s := newStateTable(t)
	ctx := context.Background()
	waiting := records{upgrade.UpgradePendingAuthentication, upgrade.ServicePendingAuthentication, upgrade.InvitationAuthenticationComplete}

	for _, from := range upgradeStatuses {
		t.Run("resume completes an upgrade "+string(from), func(t *testing.T) {
			r := waiting
			r.upgrade = from
			u := s.upgradeIn(t, r)
			err := s.st.CompleteUpgrade(ctx, completion(u))
			want(t, err, upgrade.UpgradeMoves.Allows(from, upgrade.UpgradeCompleted), upgrade.ErrStateChanged)
		})
		t.Run("cancel ends an upgrade "+string(from), func(t *testing.T) {
			r := waiting
			r.upgrade = from
			u := s.upgradeIn(t, r)
			err := s.st.CancelUpgrade(ctx, "op", u.ID, time.Now())
			want(t, err, upgrade.UpgradeMoves.Allows(from, upgrade.UpgradeCancelled), upgrade.ErrStateChanged)
		})
		t.Run("consent makes ready an upgrade "+string(from), func(t *testing.T) {
			r := waiting
			r.upgrade = from
			u := s.upgradeIn(t, r)
			if err := s.st.MarkReadyToResume(ctx, "op", u.ID); err != nil {
				t.Fatal(err)
			}
			got, err := s.st.GetUpgrade(ctx, "op", u.ID)
			wantStatus := from
			if upgrade.UpgradeMoves.Allows(from, upgrade.UpgradeReadyToResume) {
				wantStatus = upgrade.UpgradeReadyToResume
			}
			if err != nil || got.Status != wantStatus {
				t.Fatalf("upgrade %s (%v), want %s", got.Status, err, wantStatus)
			}
		})
	}
	for _, from := range serviceStatuses {
		t.Run("resume activates a service "+string(from), func(t *testing.T) {
			r := waiting
			r.service = from
			u := s.upgradeIn(t, r)
			err := s.st.CompleteUpgrade(ctx, completion(u))
			want(t, err, upgrade.ServiceMoves.Allows(from, upgrade.ServiceActive), upgrade.ErrStateChanged)
		})
		t.Run("cancel ends a service "+string(from), func(t *testing.T) {
			r := waiting
			r.service = from
			u := s.upgradeIn(t, r)
			err := s.st.CancelUpgrade(ctx, "op", u.ID, time.Now())
			if upgrade.ServiceMoves.Allows(from, upgrade.ServiceCancelled) {
				want(t, err, true, nil)
			} else if err == nil {
				t.Fatal("cancelled a service that had ended")
			}
		})
	}
	for _, from := range upgrade.InvitationStatuses {
		t.Run("resume needs an invitation "+string(from), func(t *testing.T) {
			r := waiting
			r.invitation = from
			u := s.upgradeIn(t, r)
			err := s.st.CompleteUpgrade(ctx, completion(u))
			want(t, err, upgrade.InvitationResumable.Contains(from), upgrade.ErrStateChanged)
		})
		t.Run("cancel revokes an invitation "+string(from), func(t *testing.T) {
			r := waiting
			r.invitation = from
			u := s.upgradeIn(t, r)
			if err := s.st.CancelUpgrade(ctx, "op", u.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
			inv, err := s.st.GetInvitation(ctx, u.Invitation.ID)
			wantStatus := from
			if upgrade.InvitationMoves.Allows(from, upgrade.InvitationRevoked) {
				wantStatus = upgrade.InvitationRevoked
			}
			if err != nil || inv.Status != wantStatus {
				t.Fatalf("invitation %s (%v), want %s", inv.Status, err, wantStatus)
			}
		})
		t.Run("a mail is claimed for an invitation "+string(from), func(t *testing.T) {
			r := waiting
			r.invitation = from
			u := s.upgradeIn(t, r)
			now := time.Now()
			err := s.st.ClaimMail(ctx, u.Invitation.ID, 1, upgrade.MailWelcome, now, now.Add(upgrade.MailLease))
			want(t, err, upgrade.InvitationMailable.Contains(from), upgrade.ErrChanged)
		})
	}
}

// want checks that err is nil when ok, and refusal otherwise.
func want(t *testing.T, err error, ok bool, refusal error) {
	t.Helper()
	switch {
	case ok && err != nil:
		t.Fatalf("refused: %v", err)
	case !ok && !errors.Is(err, refusal):
		t.Fatalf("err = %v, want %v", err, refusal)
	}
}
