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
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// faulty passes calls to DynamoDB Local until it is told to fail the next
// calls of one operation with a given error.
type faulty struct {
	*dynamodb.Client
	mu     sync.Mutex
	op     string
	errs   []error
	calls  map[string]int
	passed map[string]int
}

func (f *faulty) failNext(op string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op, f.errs = op, errs
}

func (f *faulty) inject(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if op == f.op && len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return err
	}
	f.passed[op]++
	return nil
}

func (f *faulty) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := f.inject("GetItem"); err != nil {
		return nil, err
	}
	return f.Client.GetItem(ctx, in, o...)
}

func (f *faulty) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if err := f.inject("TransactWriteItems"); err != nil {
		return nil, err
	}
	return f.Client.TransactWriteItems(ctx, in, o...)
}

func (f *faulty) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if err := f.inject("Query"); err != nil {
		return nil, err
	}
	return f.Client.Query(ctx, in, o...)
}

func cancelled(codes ...string) error {
	var reasons []types.CancellationReason
	for _, c := range codes {
		reasons = append(reasons, types.CancellationReason{Code: aws.String(c)})
	}
	return &types.TransactionCanceledException{Message: aws.String("Transaction cancelled"), CancellationReasons: reasons}
}

func fixture(t *testing.T) (*faulty, *store.Store, upgrade.Customer) {
	t.Helper()
	testenv.Integration(t)
	db, table := testenv.DynamoDB(t)
	f := &faulty{Client: db, calls: map[string]int{}, passed: map[string]int{}}
	s, err := store.New(f, table)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	c := upgrade.Customer{ID: "c-" + strings.ToLower(t.Name()), OperatorID: "op-fault", Name: "Contoso", Kind: upgrade.KindCustomer,
		License: upgrade.Essentials, CreatedAt: now}
	if err := s.CreateCustomer(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return f, s, c
}

func pending(c upgrade.Customer, n int) upgrade.Creation {
	now := time.Now().UTC()
	suffix := string(rune('a' + n))
	u := upgrade.Upgrade{ID: "u" + suffix, OperatorID: c.OperatorID, CustomerID: c.ID, Status: upgrade.UpgradePendingAuthentication, CreatedAt: now}
	u.Service = upgrade.Service{ID: "s" + suffix, CustomerID: c.ID, FullName: "Contoso Calling", ShortName: "contoso-" + suffix,
		License: upgrade.Pro, LicensedUsers: 10, Status: upgrade.ServicePendingAuthentication, CreatedAt: now}
	u.Invitation = upgrade.Invitation{ID: "i" + suffix, OperatorID: c.OperatorID, CustomerID: c.ID, UpgradeID: u.ID, ServiceID: u.Service.ID,
		TokenID: "TOKEN" + strings.ToUpper(suffix), Status: upgrade.InvitationPending, AdminEmail: "admin@contoso.example",
		SendInvitation: true, Generation: 1, CreatedAt: now, ExpiresAt: now.Add(168 * time.Hour)}
	return upgrade.Creation{Upgrade: u}
}

// What the store answers when DynamoDB fails a create transaction, each
// case with the caller-visible outcome: a busy database is Unavailable (503
// and a retry), never Internal, and a failed write leaves nothing behind.
func TestCreateUpgradeUnderFaults(t *testing.T) {
	t.Parallel()
	throttled := &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
	limit := &types.RequestLimitExceeded{Message: aws.String("account limit")}
	cases := []struct {
		name      string
		errs      []error
		wantKind  fault.Kind
		wantOK    bool
		wantCalls int
	}{
		{"throttled after the SDK's retries", []error{throttled}, fault.Unavailable, false, 1},
		{"account request limit", []error{limit}, fault.Unavailable, false, 1},
		{"cancelled by throttling", []error{cancelled("None", "ThrottlingError", "None")}, fault.Unavailable, false, 1},
		{"one conflict, then through", []error{cancelled("TransactionConflict", "None")}, 0, true, 2},
		{"four conflicts, then through", []error{cancelled("TransactionConflict"), cancelled("TransactionConflict"), cancelled("TransactionConflict"), cancelled("TransactionConflict")}, 0, true, 5},
		{"conflicting every time", []error{cancelled("TransactionConflict"), cancelled("TransactionConflict"), cancelled("TransactionConflict"), cancelled("TransactionConflict"), cancelled("TransactionConflict")}, fault.Unavailable, false, 5},
		{"cancelled for an unknown reason", []error{cancelled("ValidationError")}, fault.Internal, false, 1},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, s, c := fixture(t)
			n := pending(c, i)
			f.failNext("TransactWriteItems", tc.errs...)
			_, _, err := s.CreateUpgrade(context.Background(), n)
			if got := f.calls["TransactWriteItems"]; got != tc.wantCalls {
				t.Errorf("%d transaction attempts, want %d", got, tc.wantCalls)
			}
			if tc.wantOK {
				if err != nil {
					t.Fatalf("CreateUpgrade: %v", err)
				}
				if _, err := s.GetUpgrade(context.Background(), c.OperatorID, n.Upgrade.ID); err != nil {
					t.Fatalf("the upgrade is not there after the retries: %v", err)
				}
				return
			}
			if err == nil || fault.KindOf(err) != tc.wantKind {
				t.Fatalf("err = %v (kind %v), want kind %v", err, fault.KindOf(err), tc.wantKind)
			}
			if _, err := s.GetUpgrade(context.Background(), c.OperatorID, n.Upgrade.ID); !errors.Is(err, upgrade.ErrNotFound) {
				t.Fatalf("a failed create left the upgrade behind: %v", err)
			}
			// The short name is still free: the same request goes through
			// once DynamoDB answers again.
			if _, _, err := s.CreateUpgrade(context.Background(), n); err != nil {
				t.Fatalf("the retry after the fault: %v", err)
			}
		})
	}
}

// Reads that DynamoDB throttles are Unavailable too, and a condition that
// fails is never mistaken for load.
func TestReadsUnderFaults(t *testing.T) {
	t.Parallel()
	f, s, c := fixture(t)
	f.failNext("GetItem", &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")})
	if _, err := s.GetCustomer(context.Background(), c.OperatorID, c.ID); fault.KindOf(err) != fault.Unavailable {
		t.Fatalf("throttled GetItem: %v (kind %v), want Unavailable", err, fault.KindOf(err))
	}
	f.failNext("Query", &types.InternalServerError{Message: aws.String("internal")})
	if _, err := s.ListCustomers(context.Background(), c.OperatorID, upgrade.Page{Limit: 10}); fault.KindOf(err) != fault.Unavailable {
		t.Fatalf("Query answered 500: %v (kind %v), want Unavailable", err, fault.KindOf(err))
	}
	if _, err := s.GetCustomer(context.Background(), c.OperatorID, c.ID); err != nil {
		t.Fatalf("after the faults: %v", err)
	}
	n := pending(c, 0)
	if _, _, err := s.CreateUpgrade(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	taken := n
	taken.Upgrade.ID, taken.Upgrade.Service.ID, taken.Upgrade.Invitation.ID, taken.Upgrade.Invitation.TokenID = "u2", "s2", "i2", "TOKEN2"
	if _, _, err := s.CreateUpgrade(context.Background(), taken); !errors.Is(err, upgrade.ErrShortNameTaken) {
		t.Fatalf("a taken short name: %v, want ErrShortNameTaken", err)
	}
}
