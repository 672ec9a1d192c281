package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// waiting creates a customer and an upgrade whose invitation is
// AUTHENTICATION_COMPLETE, as the wizard leaves it.
func waiting(t *testing.T, db *dynamodb.Client, st *store.Store, n int) []upgrade.Upgrade {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	c := upgrade.Customer{ID: "cust", OperatorID: "op", Name: "Contoso", Kind: upgrade.KindCustomer, License: upgrade.Essentials, CreatedAt: now}
	if err := st.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	var ups []upgrade.Upgrade
	for i := range n {
		id := fmt.Sprintf("up%d", i)
		u := upgrade.Upgrade{ID: id, OperatorID: "op", CustomerID: c.ID, Status: upgrade.UpgradePendingAuthentication, CreatedAt: now,
			Service: upgrade.Service{ID: "svc" + id, CustomerID: c.ID, FullName: "Teams", ShortName: "teams" + id, License: upgrade.Pro,
				LicensedUsers: 100, Status: upgrade.ServicePendingAuthentication, CreatedAt: now},
			Invitation: upgrade.Invitation{ID: "inv" + id, OperatorID: "op", CustomerID: c.ID, UpgradeID: id, ServiceID: "svc" + id,
				TokenID: "TOK" + id, Status: upgrade.InvitationPending, Generation: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}}
		if _, _, err := st.CreateUpgrade(ctx, upgrade.Creation{Upgrade: u}); err != nil {
			t.Fatal(err)
		}
		_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(tableOf(t, st)),
			Key:              map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "INVITATION#inv" + id}, "SK": &types.AttributeValueMemberS{Value: "A"}},
			UpdateExpression: aws.String("SET #s = :c, TenantID = :t"), ExpressionAttributeNames: map[string]string{"#s": "Status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":c": &types.AttributeValueMemberS{Value: string(upgrade.InvitationAuthenticationComplete)},
				":t": &types.AttributeValueMemberS{Value: "tenant"}}})
		if err != nil {
			t.Fatal(err)
		}
		ups = append(ups, u)
	}
	return ups
}

var tables sync.Map

func tableOf(t *testing.T, st *store.Store) string {
	v, _ := tables.Load(st)
	return v.(string)
}

func completion(u upgrade.Upgrade) upgrade.Completion {
	svc := u.Service
	svc.Status = upgrade.ServiceActive
	return upgrade.Completion{OperatorID: "op", UpgradeID: u.ID, Service: svc, PreviousUsers: svc.LicensedUsers, At: time.Now(),
		SIP:        upgrade.SIPConnection{ID: "sip" + u.ID, ServiceID: svc.ID, CustomerID: u.CustomerID, Name: svc.ShortName, FQDN: svc.ShortName + ".sip.example", Port: 5061, Transport: "TLS", Status: "ACTIVE"},
		M365:       upgrade.M365Connection{OperatorID: "op", CustomerID: u.CustomerID, TenantID: "tenant", InvitationID: u.Invitation.ID},
		Validation: upgrade.Validation{At: time.Now(), TenantID: "tenant", Application: upgrade.CheckResult{Passed: true}}}
}

// Of a resume and a cancel racing on the same upgrade exactly one wins,
// and the loser changes nothing.
func TestResumeRacingCancel(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	for round := range 5 {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			t.Parallel()
			db, table := testenv.DynamoDB(t)
			st, err := store.New(db, table)
			if err != nil {
				t.Fatal(err)
			}
			tables.Store(st, table)
			u := waiting(t, db, st, 1)[0]
			ctx := context.Background()
			var wg sync.WaitGroup
			var completeErr, cancelErr error
			wg.Add(2)
			go func() { defer wg.Done(); completeErr = st.CompleteUpgrade(ctx, completion(u)) }()
			go func() { defer wg.Done(); cancelErr = st.CancelUpgrade(ctx, "op", u.ID, time.Now()) }()
			wg.Wait()
			if (completeErr == nil) == (cancelErr == nil) {
				t.Fatalf("complete = %v, cancel = %v: want exactly one winner", completeErr, cancelErr)
			}
			for _, err := range []error{completeErr, cancelErr} {
				if err != nil && !errors.Is(err, upgrade.ErrStateChanged) {
					t.Fatalf("loser failed with %v, want ErrStateChanged", err)
				}
			}
			got, err1 := st.GetUpgrade(ctx, "op", u.ID)
			svc, err2 := st.GetService(ctx, "op", u.Service.ID)
			c, err3 := st.GetCustomer(ctx, "op", u.CustomerID)
			inv, err4 := st.GetInvitation(ctx, u.Invitation.ID)
			if err := errors.Join(err1, err2, err3, err4); err != nil {
				t.Fatal(err)
			}
			if completeErr == nil {
				if got.Status != upgrade.UpgradeCompleted || svc.Status != upgrade.ServiceActive || len(svc.SIPConnections) != 1 ||
					c.License != upgrade.Pro || c.LicensedUsers != 100 || c.ReservedUsers != 100 || inv.Status != upgrade.InvitationAuthenticationComplete {
					t.Fatalf("after resume won: upgrade %s, service %s with %d SIP, customer %+v, invitation %s", got.Status, svc.Status, len(svc.SIPConnections), c, inv.Status)
				}
				return
			}
			if got.Status != upgrade.UpgradeCancelled || svc.Status != upgrade.ServiceCancelled || len(svc.SIPConnections) != 0 ||
				c.License != upgrade.Essentials || c.ReservedUsers != 0 || inv.Status != upgrade.InvitationRevoked {
				t.Fatalf("after cancel won: upgrade %s, service %s with %d SIP, customer %+v, invitation %s", got.Status, svc.Status, len(svc.SIPConnections), c, inv.Status)
			}
		})
	}
}

// A cancelled upgrade frees its short name, and the user limit counts the
// users it no longer reserves.
func TestCancelFreesShortNameAndUsers(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	db, table := testenv.DynamoDB(t)
	st, err := store.New(db, table)
	if err != nil {
		t.Fatal(err)
	}
	tables.Store(st, table)
	ups := waiting(t, db, st, 2)
	ctx := context.Background()
	if err := st.CancelUpgrade(ctx, "op", ups[0].ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := st.CancelUpgrade(ctx, "op", ups[0].ID, time.Now()); !errors.Is(err, upgrade.ErrStateChanged) {
		t.Fatalf("second cancel = %v, want ErrStateChanged", err)
	}
	c, err := st.GetCustomer(ctx, "op", "cust")
	if err != nil {
		t.Fatal(err)
	}
	if c.ReservedUsers != 100 {
		t.Fatalf("reserved = %d, want 100", c.ReservedUsers)
	}
	again := ups[0]
	again.ID, again.Service.ID, again.Invitation.ID, again.Invitation.TokenID = "again", "svcagain", "invagain", "TOKAGAIN"
	again.Invitation.UpgradeID, again.Invitation.ServiceID = "again", "svcagain"
	if _, _, err := st.CreateUpgrade(ctx, upgrade.Creation{Upgrade: again}); err != nil {
		t.Fatalf("short name of a cancelled upgrade not freed: %v", err)
	}
	// 200 users are reserved (ups[1] and again); completing ups[1] with 401
	// would make 501.
	comp := completion(ups[1])
	comp.Service.LicensedUsers = 401
	if err := st.CompleteUpgrade(ctx, comp); !errors.As(err, new(*upgrade.UserLimitError)) {
		t.Fatalf("complete beyond 500 = %v, want UserLimitError", err)
	}
	comp.Service.LicensedUsers = 300
	if err := st.CompleteUpgrade(ctx, comp); err != nil {
		t.Fatal(err)
	}
	if err := st.CompleteUpgrade(ctx, comp); !errors.Is(err, upgrade.ErrStateChanged) {
		t.Fatalf("second complete = %v, want ErrStateChanged", err)
	}
	if c, err = st.GetCustomer(ctx, "op", "cust"); err != nil {
		t.Fatal(err)
	}
	if c.License != upgrade.Pro || c.LicensedUsers != 300 || c.ReservedUsers != 400 {
		t.Fatalf("customer = %+v", c)
	}
}
