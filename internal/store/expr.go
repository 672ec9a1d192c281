package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// expr builds the expressions of one DynamoDB request (update, condition,
// key condition) with a placeholder for every attribute name and value, so
// that no expression spells a value or trips over a reserved word. It is
// the one way this package writes expressions.
type expr struct {
	set, add, remove, cond []string
	names                  map[string]string
	values                 map[string]types.AttributeValue
	err                    error
}

func newExpr() *expr {
	return &expr{names: map[string]string{}, values: map[string]types.AttributeValue{}}
}

// name returns the placeholder of an attribute path; "Device.Outcome" names
// the map attribute Device and its key Outcome.
func (e *expr) name(path string) string {
	parts := strings.Split(path, ".")
	for i, attr := range parts {
		parts[i] = "#" + attr
		e.names[parts[i]] = attr
	}
	return strings.Join(parts, ".")
}

// value returns the placeholder of v, marshalled as the records are; an
// AttributeValue is taken as it is (a string set, say).
func (e *expr) value(v any) string {
	ph := ":v" + strconv.Itoa(len(e.values))
	av, ok := v.(types.AttributeValue)
	if !ok {
		var err error
		if av, err = attributevalue.Marshal(v); err != nil && e.err == nil {
			e.err = fmt.Errorf("encode %T: %w", v, err)
		}
	}
	e.values[ph] = av
	return ph
}

// put sets attr to v, or removes it when v is its zero value, so that the
// item looks as if written from a record with omitempty.
func (e *expr) put(attr string, v any, zero bool) {
	if zero {
		e.remove = append(e.remove, e.name(attr))
		return
	}
	e.set = append(e.set, e.name(attr)+" = "+e.value(v))
}

// increase adds n to the number attr (ADD creates it at n).
func (e *expr) increase(attr string, n int) {
	e.add = append(e.add, e.name(attr)+" "+e.value(n))
}

// is adds the condition that attr equals v, or is absent when v is zero.
func (e *expr) is(attr string, v any, zero bool) {
	if zero {
		e.cond = append(e.cond, "attribute_not_exists("+e.name(attr)+")")
		return
	}
	e.cond = append(e.cond, e.name(attr)+" = "+e.value(v))
}

// compare adds the condition "attr op v", op being one of = <> < <= > >=.
func (e *expr) compare(attr, op string, v any) {
	e.cond = append(e.cond, e.name(attr)+" "+op+" "+e.value(v))
}

// beginsWith adds the condition that the string attr begins with prefix.
func (e *expr) beginsWith(attr, prefix string) {
	e.cond = append(e.cond, "begins_with("+e.name(attr)+", "+e.value(prefix)+")")
}

// exists adds the condition that the item exists, absent that it does not.
func (e *expr) exists() { e.cond = append(e.cond, "attribute_exists(PK)") }
func (e *expr) absent() { e.cond = append(e.cond, "attribute_not_exists(PK)") }

// oneOf adds the condition that attr holds one of values. An empty set can
// hold nothing, and DynamoDB refuses an empty IN list, so it is an error.
func oneOf[S ~string](e *expr, attr string, values []S) {
	if len(values) == 0 {
		if e.err == nil {
			e.err = fmt.Errorf("condition on %s: no value can match an empty set", attr)
		}
		return
	}
	ph := make([]string, len(values))
	for i, v := range values {
		ph[i] = e.value(string(v))
	}
	e.cond = append(e.cond, e.name(attr)+" IN ("+strings.Join(ph, ", ")+")")
}

// updateExpression joins the SET, ADD and REMOVE clauses.
func (e *expr) updateExpression() *string {
	var parts []string
	if len(e.set) > 0 {
		parts = append(parts, "SET "+strings.Join(e.set, ", "))
	}
	if len(e.add) > 0 {
		parts = append(parts, "ADD "+strings.Join(e.add, ", "))
	}
	if len(e.remove) > 0 {
		parts = append(parts, "REMOVE "+strings.Join(e.remove, ", "))
	}
	if len(parts) == 0 {
		return nil
	}
	return aws.String(strings.Join(parts, " "))
}

// condition joins the conditions with AND; nil when there is none.
func (e *expr) condition() *string {
	if len(e.cond) == 0 {
		return nil
	}
	return aws.String(strings.Join(e.cond, " AND "))
}

// attributeNames and attributeValues are nil when empty: DynamoDB refuses
// an empty map.
func (e *expr) attributeNames() map[string]string {
	if len(e.names) == 0 {
		return nil
	}
	return e.names
}

func (e *expr) attributeValues() map[string]types.AttributeValue {
	if len(e.values) == 0 {
		return nil
	}
	return e.values
}

// updateItem is the UpdateItem of the item pk/sk.
func (e *expr) updateItem(table, pk, sk string) (*dynamodb.UpdateItemInput, error) {
	if e.err != nil {
		return nil, e.err
	}
	return &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: key(pk, sk),
		UpdateExpression: e.updateExpression(), ConditionExpression: e.condition(),
		ExpressionAttributeNames: e.attributeNames(), ExpressionAttributeValues: e.attributeValues()}, nil
}

// txn collects the actions of one TransactWriteItems on one table,
// keeping the first error. infra/template's policy test follows method
// names, so conditionCheck is named apart from expr's methods: a function
// that never checks a condition in a transaction is not credited with
// dynamodb:ConditionCheckItem.
type txn struct {
	table string
	items []types.TransactWriteItem
	err   error
}

func (t *txn) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

// update adds e's change of the item pk/sk and returns the action, for
// the caller to ask for the old item on a failed condition.
func (t *txn) update(e *expr, pk, sk string) *types.Update {
	t.fail(e.err)
	u := &types.Update{TableName: aws.String(t.table), Key: key(pk, sk),
		UpdateExpression: e.updateExpression(), ConditionExpression: e.condition(),
		ExpressionAttributeNames: e.attributeNames(), ExpressionAttributeValues: e.attributeValues()}
	t.items = append(t.items, types.TransactWriteItem{Update: u})
	return u
}

// conditionCheck adds e's conditions on the item pk/sk, changing nothing.
func (t *txn) conditionCheck(e *expr, pk, sk string) {
	t.fail(e.err)
	t.items = append(t.items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(t.table),
		Key: key(pk, sk), ConditionExpression: e.condition(), ExpressionAttributeNames: e.attributeNames(),
		ExpressionAttributeValues: e.attributeValues()}})
}

// put adds the item record, marshalled, under e's conditions (nil: none),
// and returns the action.
func (t *txn) put(record any, e *expr) *types.Put {
	item, err := attributevalue.MarshalMap(record)
	if err != nil {
		t.fail(fmt.Errorf("encode %T: %w", record, err))
	}
	p := &types.Put{TableName: aws.String(t.table), Item: item}
	if e != nil {
		t.fail(e.err)
		p.ConditionExpression, p.ExpressionAttributeNames, p.ExpressionAttributeValues = e.condition(), e.attributeNames(), e.attributeValues()
	}
	t.items = append(t.items, types.TransactWriteItem{Put: p})
	return p
}

// delete adds the deletion of the item pk/sk under e's conditions.
func (t *txn) delete(e *expr, pk, sk string) {
	t.fail(e.err)
	t.items = append(t.items, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(t.table), Key: key(pk, sk),
		ConditionExpression: e.condition(), ExpressionAttributeNames: e.attributeNames(),
		ExpressionAttributeValues: e.attributeValues()}})
}

// input is the TransactWriteItems of the actions added.
func (t *txn) input() (*dynamodb.TransactWriteItemsInput, error) {
	if t.err != nil {
		return nil, t.err
	}
	return &dynamodb.TransactWriteItemsInput{TransactItems: t.items}, nil
}

// query is a Query of the table or of index ("" for the table) whose key
// condition is the conditions.
func (e *expr) query(table, index string) (*dynamodb.QueryInput, error) {
	if e.err != nil {
		return nil, e.err
	}
	in := &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: e.condition(),
		ExpressionAttributeNames: e.attributeNames(), ExpressionAttributeValues: e.attributeValues()}
	if index != "" {
		in.IndexName = aws.String(index)
	}
	return in, nil
}

// conditionFailed returns the old item of the transaction's i-th action
// when its condition failed.
func conditionFailed(err error, i int) (map[string]types.AttributeValue, bool) {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) || i >= len(tc.CancellationReasons) {
		return nil, false
	}
	r := tc.CancellationReasons[i]
	return r.Item, aws.ToString(r.Code) == "ConditionalCheckFailed"
}

// conflicted reports whether a transaction was cancelled because another
// one touched the same items at once.
func conflicted(err error) bool {
	var tc *types.TransactionCanceledException
	return errors.As(err, &tc) && slices.ContainsFunc(tc.CancellationReasons, func(r types.CancellationReason) bool {
		return aws.ToString(r.Code) == "TransactionConflict"
	})
}

// transact writes items, retrying when DynamoDB cancelled the transaction
// only because another one touched the same items.
func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem) error {
	var err error
	for attempt := 0; attempt < transactAttempts; attempt++ {
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil || !conflicted(err) {
			return err
		}
	}
	return err
}

// isConditionFailed reports whether a single write lost its condition.
func isConditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

// update runs e's change of the item pk/sk as one UpdateItem. A failed
// condition returns lost (nil when losing is fine); any other failure is
// wrapped with what.
func (s *Store) update(ctx context.Context, e *expr, pk, sk string, lost error, what string) error {
	in, err := e.updateItem(s.table, pk, sk)
	if err == nil {
		_, err = s.db.UpdateItem(ctx, in)
	}
	if isConditionFailed(err) {
		return lost
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
