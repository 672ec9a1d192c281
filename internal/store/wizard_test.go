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
	"github.com/ocpro/upgrade/internal/wizard/wizardtest"
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
	seedInvitation(t, w, time.Now().UTC())
	return w, db, table
}

// seedInvitation creates customer "cust", upgrade "up" and the PENDING
// invitation "inv" of operator "op", which expires an hour after now.
func seedInvitation(t *testing.T, w *store.Wizard, now time.Time) {
	t.Helper()
	ctx := context.Background()
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
}

// TestWizardContract runs the wizard store's contract against DynamoDB
// Local, the same suite the in-memory store the wizard's tests use passes.
func TestWizardContract(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	type tableClient struct {
		db    *dynamodb.Client
		table string
	}
	var clients sync.Map // *store.Wizard -> tableClient
	wizardtest.Run(t, func(t *testing.T) wizardtest.Store {
		db, table := testenv.DynamoDB(t)
		w, err := store.NewWizard(db, table)
		if err != nil {
			t.Fatal(err)
		}
		clients.Store(w, tableClient{db: db, table: table})
		return w
	}, func(t *testing.T, s wizardtest.Store, invitationID string, status upgrade.InvitationStatus) {
		// Another writer's status change, as it is kept: the status and
		// the status index together.
		v, _ := clients.Load(s)
		tc := v.(tableClient)
		inv, err := s.GetInvitation(context.Background(), invitationID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tc.db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(tc.table),
			Key:              map[string]types.AttributeValue{"PK": str("INVITATION#" + invitationID), "SK": str("A")},
			UpdateExpression: aws.String("SET #s = :s, GSI2PK = :gsi2"), ExpressionAttributeNames: map[string]string{"#s": "Status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(string(status)),
				":gsi2": str("OP#" + inv.OperatorID + "#INVITATIONS#STATUS#" + string(status))}})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func transition(to upgrade.InvitationStatus) wizard.Transition {
	return wizard.Transition{InvitationID: "inv", OperatorID: "op", To: to, At: time.Now(), Generation: 1}
}

func acquired(tenant string) wizard.Transition {
	tr := transition(upgrade.InvitationTokenAcquired)
	tr.TenantID, tr.UPN, tr.ObjectID = tenant, "admin@"+tenant, "oid-"+tenant
	return tr
}

// An invitation the wizard concluded (AUTHENTICATION_COMPLETE, FAILED)
// leaves the sweep's DueWork index; one still in progress stays.
func TestConcludedInvitationLeavesTheDueIndex(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	for _, to := range upgrade.InvitationStatuses {
		if !upgrade.InvitationMoves.Allows(upgrade.InvitationTokenAcquired, to) {
			continue
		}
		t.Run(string(to), func(t *testing.T) {
			t.Parallel()
			w, db, table := wizardStore(t)
			ctx := context.Background()
			if err := w.TransitionInvitation(ctx, acquired("tenant-a")); err != nil {
				t.Fatal(err)
			}
			tr := transition(to)
			tr.TenantID = "tenant-a"
			if err := w.TransitionInvitation(ctx, tr); err != nil {
				t.Fatal(err)
			}
			_, due := item(t, db, table, "INVITATION#inv", "A")["DuePK"]
			if concluded := upgrade.InvitationConcluded.Contains(to); due == concluded {
				t.Fatalf("%s: in the DueWork index %v, concluded %v", to, due, concluded)
			}
		})
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

// A state is kept by its hash alone, with a TTL at its expiry.
func TestStateIsKeptByHashWithTTL(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	w, db, table := wizardStore(t)
	hash := wizard.Hash("the-state")
	exp := time.Now().Add(15 * time.Minute).UTC().Truncate(time.Second)
	st := wizard.State{Hash: hash, InvitationID: "inv", Purpose: wizard.PurposeConsent, BindingHash: wizard.Hash("binding"),
		TenantID: "tenant-a", ExpiresAt: exp}
	if err := w.PutState(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	raw := item(t, db, table, "STATE#"+hash, "A")
	if ttl, ok := raw["ttl"].(*types.AttributeValueMemberN); !ok || ttl.Value != fmt.Sprint(exp.Unix()) {
		t.Fatalf("ttl %v", raw["ttl"])
	}
	if holds(&types.AttributeValueMemberM{Value: raw}, "the-state") {
		t.Fatal("the state itself is stored")
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
	encCtx := upgrade.CredentialContext("tenant-a", "inv")
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
	if _, err := sealer.Open(ctx, c.SealedRefresh, upgrade.CredentialContext("tenant-b", "inv")); !errors.Is(err, seal.ErrOpen) {
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
