package idempotency

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoAPI is the part of the DynamoDB client Dynamo uses: only PutItem
// and UpdateItem, so a function needs no other permission for it.
type DynamoAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Dynamo keeps records in the service's table, one item per key:
// PK IDEM#<scope>#<sha256(key)>, SK A, with the table's ttl attribute set
// to the record's expiry so that DynamoDB deletes it in the end.
type Dynamo struct {
	db    DynamoAPI
	table string
}

var _ Persistence = (*Dynamo)(nil)

// NewDynamo returns a Dynamo on table.
func NewDynamo(db DynamoAPI, table string) (*Dynamo, error) {
	if db == nil {
		return nil, errors.New("idempotency: nil DynamoDB client")
	}
	if table == "" {
		return nil, errors.New("idempotency: empty table name")
	}
	return &Dynamo{db: db, table: table}, nil
}

// NewOnTable returns a Guard that keeps its records in table: what every
// function wires, since the records live beside the data they protect.
func NewOnTable(db DynamoAPI, table string, cfg Config) (*Guard, error) {
	d, err := NewDynamo(db, table)
	if err != nil {
		return nil, err
	}
	return New(d, cfg)
}

// The item's attributes.
const (
	attrPK          = "PK"
	attrSK          = "SK"
	attrStatus      = "idemStatus"
	attrPayloadHash = "payloadHash"
	attrAttempt     = "attempt"
	attrTTL         = "ttl"
	attrInProgress  = "inProgressExpiry"
	attrResult      = "result"
	skRecord        = "A"
)

func recordKey(scope, keyHash string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: "IDEM#" + scope + "#" + keyHash},
		attrSK: &types.AttributeValueMemberS{Value: skRecord},
	}
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// Acquire implements Persistence with one conditional PutItem. The expiry
// is compared in seconds (DynamoDB's TTL unit) and the in-progress expiry
// in milliseconds.
func (d *Dynamo) Acquire(ctx context.Context, rec Record, now time.Time) (Record, error) {
	item := recordKey(rec.Scope, rec.KeyHash)
	item[attrStatus] = str(string(rec.Status))
	item[attrPayloadHash] = str(rec.PayloadHash)
	item[attrAttempt] = str(rec.Attempt)
	item[attrTTL] = num(rec.ExpiresAt.Unix())
	item[attrInProgress] = num(rec.InProgressUntil.UnixMilli())
	_, err := d.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.table),
		Item:      item,
		ConditionExpression: aws.String("attribute_not_exists(PK) OR #ttl <= :nowS OR " +
			"(#status = :inProgress AND #ipx <= :nowMs)"),
		ExpressionAttributeNames: map[string]string{"#ttl": attrTTL, "#status": attrStatus, "#ipx": attrInProgress},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":nowS": num(now.Unix()), ":nowMs": num(now.UnixMilli()), ":inProgress": str(string(InProgress)),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		old, derr := decodeRecord(ccf.Item)
		if derr != nil {
			return Record{}, derr
		}
		old.Scope, old.KeyHash = rec.Scope, rec.KeyHash
		return old, ErrExists
	}
	if err != nil {
		return Record{}, fmt.Errorf("put record: %w", err)
	}
	return Record{}, nil
}

// Complete implements Persistence.
func (d *Dynamo) Complete(ctx context.Context, rec Record) error {
	result := rec.Result
	if result == nil {
		result = []byte{} // DynamoDB accepts an empty binary outside keys
	}
	return d.update(ctx, rec, "SET #status = :completed, #result = :result",
		map[string]types.AttributeValue{":completed": str(string(Completed)), ":result": &types.AttributeValueMemberB{Value: result}},
		map[string]string{"#status": attrStatus, "#result": attrResult})
}

// Release implements Persistence by moving the in-progress expiry to zero,
// which frees the key for the next Acquire with UpdateItem alone (no
// DeleteItem permission needed).
func (d *Dynamo) Release(ctx context.Context, rec Record) error {
	return d.update(ctx, rec, "SET #ipx = :zero",
		map[string]types.AttributeValue{":zero": num(0), ":inProgress": str(string(InProgress))},
		map[string]string{"#ipx": attrInProgress, "#status": attrStatus})
}

// update applies expr if rec's attempt still owns the record (and, for a
// release, the record is still in progress).
func (d *Dynamo) update(ctx context.Context, rec Record, expr string, values map[string]types.AttributeValue, names map[string]string) error {
	cond := "#attempt = :attempt"
	if _, ok := values[":inProgress"]; ok {
		cond += " AND #status = :inProgress"
	}
	names["#attempt"] = attrAttempt
	values[":attempt"] = str(rec.Attempt)
	_, err := d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       recordKey(rec.Scope, rec.KeyHash),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ErrNotOwner
	}
	if err != nil {
		return fmt.Errorf("update record: %w", err)
	}
	return nil
}

// decodeRecord reads the attributes Acquire compares.
func decodeRecord(item map[string]types.AttributeValue) (Record, error) {
	if item == nil {
		// DynamoDB always returns the old item with ALL_OLD; without it
		// the outcome is unknown, so the caller must retry.
		return Record{}, errors.New("idempotency: conditional write failed without the existing record")
	}
	var r Record
	if v, ok := item[attrStatus].(*types.AttributeValueMemberS); ok {
		r.Status = Status(v.Value)
	}
	if v, ok := item[attrPayloadHash].(*types.AttributeValueMemberS); ok {
		r.PayloadHash = v.Value
	}
	if v, ok := item[attrAttempt].(*types.AttributeValueMemberS); ok {
		r.Attempt = v.Value
	}
	if v, ok := item[attrResult].(*types.AttributeValueMemberB); ok {
		r.Result = v.Value
	}
	if v, ok := item[attrTTL].(*types.AttributeValueMemberN); ok {
		s, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return Record{}, fmt.Errorf("idempotency: record ttl %q: %w", v.Value, err)
		}
		r.ExpiresAt = time.Unix(s, 0)
	}
	if v, ok := item[attrInProgress].(*types.AttributeValueMemberN); ok {
		ms, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return Record{}, fmt.Errorf("idempotency: record in-progress expiry %q: %w", v.Value, err)
		}
		r.InProgressUntil = time.UnixMilli(ms)
	}
	return r, nil
}
