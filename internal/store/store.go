package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	TransactGetItems(ctx context.Context, in *dynamodb.TransactGetItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// transactAttempts bounds retries of a create transaction that DynamoDB
// cancelled because another transaction touched the same items at once
// (TransactionConflict); the retry then sees the other's outcome.
const transactAttempts = 5

// maxTransactGet is the most items one TransactGetItems may read.
const maxTransactGet = 100

// Store is the DynamoDB upgrade.Store.
type Store struct {
	db    API
	table string
}

var _ upgrade.Store = (*Store)(nil)

// New returns a Store on table.
func New(db API, table string) (*Store, error) {
	if db == nil {
		return nil, errors.New("store: nil DynamoDB client")
	}
	if table == "" {
		return nil, errors.New("store: empty table name")
	}
	return &Store{db: busyAware{db}, table: table}, nil
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}
}

// get reads one item into out; found is false when there is none.
func (s *Store) get(ctx context.Context, pk string, out any) (found bool, err error) {
	return s.read(ctx, pk, false, out)
}

// read is get with the choice of a strongly consistent read.
func (s *Store) read(ctx context.Context, pk string, consistent bool, out any) (found bool, err error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk, skMain),
		ConsistentRead: aws.Bool(consistent)})
	if err != nil {
		return false, fmt.Errorf("get %s: %w", pk, err)
	}
	if res.Item == nil {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return false, fmt.Errorf("decode %s: %w", pk, err)
	}
	return true, nil
}

// CreateCustomer implements upgrade.Store.
func (s *Store) CreateCustomer(ctx context.Context, c upgrade.Customer) error {
	item, err := attributevalue.MarshalMap(toCustomerRecord(c))
	if err != nil {
		return fmt.Errorf("encode customer: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if err != nil {
		return fmt.Errorf("put customer: %w", err)
	}
	return nil
}

// GetCustomer implements upgrade.Store with one strongly consistent read:
// an upgrade started right after its customer was created must find it.
func (s *Store) GetCustomer(ctx context.Context, operatorID, id string) (upgrade.Customer, error) {
	var r customerRecord
	found, err := s.read(ctx, customerPK(operatorID, id), true, &r)
	if err != nil {
		return upgrade.Customer{}, err
	}
	if !found {
		return upgrade.Customer{}, upgrade.ErrNotFound
	}
	return r.domain(), nil
}

// ListCustomers implements upgrade.Store.
func (s *Store) ListCustomers(ctx context.Context, operatorID string, p upgrade.Page) (upgrade.List[upgrade.Customer], error) {
	return list(ctx, s, gsi1, opKey(operatorID, "CUSTOMERS"), p, nil, customerRecord.domain)
}

// GetUpgrade implements upgrade.Store.
func (s *Store) GetUpgrade(ctx context.Context, operatorID, id string) (upgrade.Upgrade, error) {
	var r upgradeRecord
	found, err := s.get(ctx, upgradePK(operatorID, id), &r)
	if err != nil {
		return upgrade.Upgrade{}, err
	}
	if !found {
		return upgrade.Upgrade{}, upgrade.ErrNotFound
	}
	return r.domain(), nil
}

// ListUpgrades implements upgrade.Store.
func (s *Store) ListUpgrades(ctx context.Context, operatorID string, p upgrade.Page) (upgrade.List[upgrade.Upgrade], error) {
	return list(ctx, s, gsi1, opKey(operatorID, "UPGRADES"), p, nil, upgradeRecord.domain)
}

// GetInvitation implements upgrade.Store with one GetItem.
func (s *Store) GetInvitation(ctx context.Context, id string) (upgrade.Invitation, error) {
	var r invitationRecord
	// Strongly consistent: the wizard and the operator's actions act on
	// what they read, and a replica that has not seen the last regenerate
	// or revoke would open a dead link or refuse a revoke.
	found, err := s.read(ctx, invitationPK(id), true, &r)
	if err != nil {
		return upgrade.Invitation{}, err
	}
	if !found {
		return upgrade.Invitation{}, upgrade.ErrNotFound
	}
	return r.domain(), nil
}

// ListInvitations implements upgrade.Store; see the package documentation for
// which filter becomes the key condition.
func (s *Store) ListInvitations(ctx context.Context, operatorID string, f upgrade.InvitationFilter, p upgrade.Page) (upgrade.List[upgrade.Invitation], error) {
	keep := func(i upgrade.Invitation) bool {
		return i.OperatorID == operatorID &&
			(f.Status == "" || i.Status == f.Status) &&
			(f.CustomerID == "" || i.CustomerID == f.CustomerID) &&
			(f.TokenID == "" || i.TokenID == f.TokenID)
	}
	switch {
	case f.TokenID != "":
		return s.invitationByTokenID(ctx, operatorID, f.TokenID, p, keep)
	case f.CustomerID != "":
		return s.customerInvitations(ctx, operatorID, f.CustomerID, p, keep)
	case f.Status != "":
		return list(ctx, s, gsi2, invitationStatusPK(operatorID, f.Status), p, nil, invitationRecord.domain)
	}
	return list(ctx, s, gsi1, opKey(operatorID, "INVITATIONS"), p, nil, invitationRecord.domain)
}

// invitationByTokenID answers a token id search: at most one invitation,
// so there is never a next page.
func (s *Store) invitationByTokenID(ctx context.Context, op, tokenID string, p upgrade.Page, keep func(upgrade.Invitation) bool) (upgrade.List[upgrade.Invitation], error) {
	if p.Cursor != "" {
		return upgrade.List[upgrade.Invitation]{}, upgrade.ErrBadCursor
	}
	var claim claimRecord
	found, err := s.get(ctx, tokenIDPK(op, tokenID), &claim)
	if err != nil || !found {
		return upgrade.List[upgrade.Invitation]{}, err
	}
	inv, err := s.GetInvitation(ctx, claim.Ref)
	if errors.Is(err, upgrade.ErrNotFound) {
		return upgrade.List[upgrade.Invitation]{}, nil
	}
	if err != nil {
		return upgrade.List[upgrade.Invitation]{}, err
	}
	var l upgrade.List[upgrade.Invitation]
	if keep(inv) {
		l.Items = []upgrade.Invitation{inv}
	}
	return l, nil
}

// customerInvitations pages through the customer's invitation references
// and fetches the invitations they name in one TransactGetItems per batch.
func (s *Store) customerInvitations(ctx context.Context, op, customerID string, p upgrade.Page, keep func(upgrade.Invitation) bool) (upgrade.List[upgrade.Invitation], error) {
	resolve := func(ctx context.Context, refs []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
		if len(refs) == 0 {
			return nil, nil
		}
		gets := make([]types.TransactGetItem, 0, len(refs))
		for _, ref := range refs {
			var r claimRecord
			if err := attributevalue.UnmarshalMap(ref, &r); err != nil {
				return nil, fmt.Errorf("decode invitation reference: %w", err)
			}
			gets = append(gets, types.TransactGetItem{Get: &types.Get{TableName: aws.String(s.table), Key: key(invitationPK(r.Ref), skMain)}})
		}
		out, err := s.db.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: gets})
		if err != nil {
			return nil, fmt.Errorf("get invitations of customer: %w", err)
		}
		var kept []map[string]types.AttributeValue
		for i, resp := range out.Responses {
			if resp.Item == nil {
				continue
			}
			var r invitationRecord
			if err := attributevalue.UnmarshalMap(resp.Item, &r); err != nil {
				return nil, fmt.Errorf("decode invitation: %w", err)
			}
			if keep(r.domain()) {
				// The page cursor must stay on the reference's key.
				merged := maps(resp.Item, refs[i])
				kept = append(kept, merged)
			}
		}
		return kept, nil
	}
	return list(ctx, s, customerRefs, customerPK(op, customerID), p, resolve, invitationRecord.domain)
}

// maps returns item with the key attributes of ref laid over it.
func maps(item, ref map[string]types.AttributeValue) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		out[k] = v
	}
	out["PK"], out["SK"] = ref["PK"], ref["SK"]
	return out
}

// CreateUpgrade implements upgrade.Store with one TransactWriteItems.
func (s *Store) CreateUpgrade(ctx context.Context, n upgrade.Creation) (upgrade.Upgrade, bool, error) {
	in, err := s.createUpgradeInput(n)
	if err != nil {
		return upgrade.Upgrade{}, false, err
	}
	for attempt := 1; ; attempt++ {
		_, err = s.db.TransactWriteItems(ctx, in)
		if err == nil {
			u := n.Upgrade
			u.Invitation.AuthURL = ""
			return u, false, nil
		}
		var tc *types.TransactionCanceledException
		if !errors.As(err, &tc) || fault.KindOf(err) == fault.Unavailable {
			return upgrade.Upgrade{}, false, fmt.Errorf("create upgrade: %w", err)
		}
		u, replayed, err, retry := s.cancelled(ctx, n, tc.CancellationReasons)
		if !retry {
			return u, replayed, err
		}
		if attempt == transactAttempts {
			return upgrade.Upgrade{}, false, fault.Transient(fmt.Errorf("create upgrade: still conflicting after %d attempts: %w", attempt, tc), busyDetail)
		}
		// Jittered backoff so that racing requests do not collide again.
		select {
		case <-ctx.Done():
			return upgrade.Upgrade{}, false, ctx.Err()
		case <-time.After(time.Duration(attempt*20+rand.IntN(30)) * time.Millisecond):
		}
	}
}

// The positions of the items in the create transaction.
const (
	txCustomer = iota
	txShortName
	txTokenID
	txService
	txUpgrade
	txInvitation
	txCustomerRef
	txIdempotency
)

func (s *Store) createUpgradeInput(n upgrade.Creation) (*dynamodb.TransactWriteItemsInput, error) {
	u := n.Upgrade
	op := u.OperatorID
	svc := toServiceRecord(u.Service)
	svc.PK, svc.SK, svc.Type, svc.OperatorID = servicePK(op, svc.ID), skMain, typeService, op
	inv := toInvitationRecord(u.Invitation).withKeys()
	up := toUpgradeRecord(u)
	ref := claimRecord{PK: customerPK(op, u.CustomerID), SK: "INVITATION#" + sortKey(inv.CreatedAt, inv.ID), Type: typeInvitationRef, Ref: inv.ID}

	puts := []any{
		txShortName:   claimRecord{PK: shortNamePK(op, svc.ShortName), SK: skMain, Type: typeShortName, Ref: svc.ID},
		txTokenID:     claimRecord{PK: tokenIDPK(op, inv.TokenID), SK: skMain, Type: typeTokenID, Ref: inv.ID},
		txService:     svc,
		txUpgrade:     up.withKeys(),
		txInvitation:  inv,
		txCustomerRef: ref,
	}
	if n.IdempotencyKey != "" {
		puts = append(puts, idempotencyRecord{PK: idempotencyPK(op, n.IdempotencyKey), SK: skMain, Type: typeIdempotency,
			RequestHash: n.RequestHash, Response: up, TTL: n.IdempotencyExpiresAt.Unix()})
	}
	tx := txn{table: s.table}
	cust := newExpr()
	cust.exists()
	cust.compare("LicenseRank", "<", u.Service.License.Rank())
	// ReservedUsers <= room because condition expressions cannot add.
	cust.compare("ReservedUsers", "<=", upgrade.MaxUsersPerCustomer-u.Service.LicensedUsers)
	cust.increase("ReservedUsers", u.Service.LicensedUsers)
	tx.update(cust, customerPK(op, u.CustomerID), skMain).ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	for _, p := range puts[txShortName:] {
		fresh := newExpr()
		fresh.absent()
		tx.put(p, fresh).ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	}
	// Invitation Created, last: a replayed or refused create writes no
	// event, and the positions above stay where cancelled reads them.
	tx.outbox(n.Events)
	return tx.input()
}

// cancelled maps the reasons of a cancelled create transaction to the
// domain's errors. retry says another transaction got in the way and the
// whole write should be tried again.
func (s *Store) cancelled(ctx context.Context, n upgrade.Creation, reasons []types.CancellationReason) (u upgrade.Upgrade, replayed bool, err error, retry bool) {
	failed := func(i int) (map[string]types.AttributeValue, bool) {
		if i >= len(reasons) || aws.ToString(reasons[i].Code) != "ConditionalCheckFailed" {
			return nil, false
		}
		return reasons[i].Item, true
	}
	// The idempotency record wins: a retried request must get its first
	// answer even though its short name is now "taken" by itself.
	if _, ok := failed(txIdempotency); ok && n.IdempotencyKey != "" {
		u, replayed, err = s.replay(ctx, n)
		return u, replayed, err, false
	}
	if old, ok := failed(txCustomer); ok {
		svc := n.Upgrade.Service
		return upgrade.Upgrade{}, false, customerRefusal(old, svc.License, svc.LicensedUsers), false
	}
	if _, ok := failed(txShortName); ok {
		return upgrade.Upgrade{}, false, upgrade.ErrShortNameTaken, false
	}
	if _, ok := failed(txTokenID); ok {
		return upgrade.Upgrade{}, false, upgrade.ErrTokenIDTaken, false
	}
	if slices.ContainsFunc(reasons, func(r types.CancellationReason) bool {
		return aws.ToString(r.Code) == "TransactionConflict"
	}) {
		return upgrade.Upgrade{}, false, nil, true
	}
	var codes []string
	for _, r := range reasons {
		codes = append(codes, aws.ToString(r.Code))
	}
	return upgrade.Upgrade{}, false, fmt.Errorf("create upgrade cancelled: %v", codes), false
}

// replay reads the idempotency record once: the same request gets the
// stored response, another request an error.
func (s *Store) replay(ctx context.Context, n upgrade.Creation) (upgrade.Upgrade, bool, error) {
	var r idempotencyRecord
	pk := idempotencyPK(n.Upgrade.OperatorID, n.IdempotencyKey)
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk, skMain), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return upgrade.Upgrade{}, false, fmt.Errorf("get idempotency record: %w", err)
	}
	if res.Item == nil {
		// Expired and deleted between the write and this read: a fresh
		// attempt is safe, but rare enough to report rather than loop.
		return upgrade.Upgrade{}, false, fmt.Errorf("idempotency record vanished")
	}
	if err := attributevalue.UnmarshalMap(res.Item, &r); err != nil {
		return upgrade.Upgrade{}, false, fmt.Errorf("decode idempotency record: %w", err)
	}
	if r.RequestHash != n.RequestHash {
		return upgrade.Upgrade{}, false, upgrade.ErrIdempotencyKeyReused
	}
	return r.Response.domain(), true, nil
}

// index describes one way to list: which index, which key attributes the
// cursor holds, and which attribute holds the partition.
type index struct {
	name     string // "" for the base table
	pk, sk   string
	skPrefix string // begins_with condition on sk, if any
	keyAttrs []string
}

var (
	gsi1         = index{name: "GSI1", pk: "GSI1PK", sk: "GSI1SK", keyAttrs: []string{"PK", "SK", "GSI1PK", "GSI1SK"}}
	gsi2         = index{name: "GSI2", pk: "GSI2PK", sk: "GSI2SK", keyAttrs: []string{"PK", "SK", "GSI2PK", "GSI2SK"}}
	customerRefs = index{pk: "PK", sk: "SK", skPrefix: "INVITATION#", keyAttrs: []string{"PK", "SK"}}
)

// resolver turns a batch of queried items into the items to return, for
// lists whose index holds references.
type resolver func(ctx context.Context, items []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error)

// list queries one partition newest first and returns exactly one page: it
// asks for one item more than the page so that nextCursor is absent on the
// last page, and keeps querying while a resolver drops items.
func list[R any, T any](ctx context.Context, s *Store, ix index, partition string, p upgrade.Page, resolve resolver, toDomain func(R) T) (upgrade.List[T], error) {
	limit := p.Limit
	if limit <= 0 {
		limit = upgrade.DefaultPageSize
	}
	start, err := decodeCursor(p.Cursor, ix, partition)
	if err != nil {
		return upgrade.List[T]{}, err
	}
	e := newExpr()
	e.compare(ix.pk, "=", partition)
	if ix.skPrefix != "" {
		e.beginsWith(ix.sk, ix.skPrefix)
	}
	q, err := e.query(s.table, ix.name)
	if err != nil {
		return upgrade.List[T]{}, err
	}
	var items []map[string]types.AttributeValue
	for len(items) <= limit {
		want := limit + 1 - len(items)
		if resolve != nil {
			want = min(want, maxTransactGet)
		}
		in := *q
		in.ScanIndexForward, in.Limit, in.ExclusiveStartKey = aws.Bool(false), aws.Int32(int32(want)), start
		out, err := s.db.Query(ctx, &in)
		if err != nil {
			return upgrade.List[T]{}, fmt.Errorf("query %s: %w", ix.pk, err)
		}
		got := out.Items
		if resolve != nil {
			if got, err = resolve(ctx, got); err != nil {
				return upgrade.List[T]{}, err
			}
		}
		items = append(items, got...)
		if out.LastEvaluatedKey == nil {
			break
		}
		start = out.LastEvaluatedKey
	}
	var l upgrade.List[T]
	if len(items) > limit {
		items = items[:limit]
		if l.NextCursor, err = encodeCursor(items[limit-1], ix); err != nil {
			return upgrade.List[T]{}, err
		}
	}
	for _, item := range items {
		var r R
		if err := attributevalue.UnmarshalMap(item, &r); err != nil {
			return upgrade.List[T]{}, fmt.Errorf("decode list item: %w", err)
		}
		l.Items = append(l.Items, toDomain(r))
	}
	return l, nil
}

func encodeCursor(item map[string]types.AttributeValue, ix index) (string, error) {
	k := make(map[string]string, len(ix.keyAttrs))
	for _, a := range ix.keyAttrs {
		v, ok := item[a].(*types.AttributeValueMemberS)
		if !ok {
			return "", fmt.Errorf("list item lacks key attribute %s", a)
		}
		k[a] = v.Value
	}
	b, err := json.Marshal(k)
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// decodeCursor accepts only a cursor of this list: exactly the index's key
// attributes, on the list's own partition.
func decodeCursor(cursor string, ix index, partition string) (map[string]types.AttributeValue, error) {
	if cursor == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, upgrade.ErrBadCursor
	}
	var k map[string]string
	if err := json.Unmarshal(raw, &k); err != nil || len(k) != len(ix.keyAttrs) || k[ix.pk] != partition {
		return nil, upgrade.ErrBadCursor
	}
	start := make(map[string]types.AttributeValue, len(k))
	for _, a := range ix.keyAttrs {
		v, ok := k[a]
		if !ok || v == "" {
			return nil, upgrade.ErrBadCursor
		}
		start[a] = &types.AttributeValueMemberS{Value: v}
	}
	return start, nil
}
