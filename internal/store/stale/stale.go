// Package stale is a test helper: a DynamoDB client that serves eventually
// consistent reads the way DynamoDB may, with the item as it was before its
// last write. DynamoDB Local is always consistent, so without it no test
// sees the window in which a replica lags, and code that acts on an
// eventually consistent read looks correct when it is not.
//
// Lag is modelled at its worst and deterministically: every eventually
// consistent GetItem of an item written through the DB returns the item as
// it was before the latest write (no item, if the write created it).
// Strongly consistent reads, transactions and writes see the truth. Query
// is passed through; an index is never read consistently anyway, and the
// code must already treat what it lists as a hint.
package stale

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/internal/store"
)

// Client is the DynamoDB client the DB wraps: what the store and the wizard
// store call.
type Client = store.WizardAPI

// DB is a Client whose eventually consistent reads lag one write behind.
type DB struct {
	Client
	// mu orders each write with the read of what it replaces, so that the
	// value kept as stale is the one the write overwrote.
	mu     sync.Mutex
	before map[string]map[string]types.AttributeValue
	served atomic.Int64
}

// New wraps c.
func New(c Client) *DB {
	return &DB{Client: c, before: map[string]map[string]types.AttributeValue{}}
}

// Served returns how many stale items eventually consistent reads got.
func (d *DB) Served() int64 { return d.served.Load() }

func id(table string, key map[string]types.AttributeValue) string {
	s := table
	for _, k := range []string{"PK", "SK"} {
		if v, ok := key[k].(*types.AttributeValueMemberS); ok {
			s += "\x00" + v.Value
		}
	}
	return s
}

// GetItem serves a strongly consistent read from the table, an eventually
// consistent one from before the item's last write.
func (d *DB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if !aws.ToBool(in.ConsistentRead) {
		d.mu.Lock()
		item, ok := d.before[id(aws.ToString(in.TableName), in.Key)]
		d.mu.Unlock()
		if ok {
			d.served.Add(1)
			return &dynamodb.GetItemOutput{Item: item}, nil
		}
	}
	return d.Client.GetItem(ctx, in, opts...)
}

// written runs write and, when it succeeds, keeps what the items at keys
// held before it.
func (d *DB) written(ctx context.Context, table string, keys []map[string]types.AttributeValue, write func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := make([]map[string]types.AttributeValue, len(keys))
	for i, k := range keys {
		out, err := d.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: k, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return err
		}
		old[i] = out.Item
	}
	if err := write(); err != nil {
		return err
	}
	for i, k := range keys {
		d.before[id(table, k)] = old[i]
	}
	return nil
}

// PutItem implements Client.
func (d *DB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (out *dynamodb.PutItemOutput, err error) {
	key := map[string]types.AttributeValue{"PK": in.Item["PK"], "SK": in.Item["SK"]}
	err = d.written(ctx, aws.ToString(in.TableName), []map[string]types.AttributeValue{key}, func() error {
		out, err = d.Client.PutItem(ctx, in, opts...)
		return err
	})
	return out, err
}

// UpdateItem implements Client.
func (d *DB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (out *dynamodb.UpdateItemOutput, err error) {
	err = d.written(ctx, aws.ToString(in.TableName), []map[string]types.AttributeValue{in.Key}, func() error {
		out, err = d.Client.UpdateItem(ctx, in, opts...)
		return err
	})
	return out, err
}

// DeleteItem implements Client.
func (d *DB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (out *dynamodb.DeleteItemOutput, err error) {
	err = d.written(ctx, aws.ToString(in.TableName), []map[string]types.AttributeValue{in.Key}, func() error {
		out, err = d.Client.DeleteItem(ctx, in, opts...)
		return err
	})
	return out, err
}

// TransactWriteItems implements Client. Items of one table only, as the
// service writes them.
func (d *DB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (out *dynamodb.TransactWriteItemsOutput, err error) {
	var table string
	var keys []map[string]types.AttributeValue
	for _, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			table = aws.ToString(it.Put.TableName)
			keys = append(keys, map[string]types.AttributeValue{"PK": it.Put.Item["PK"], "SK": it.Put.Item["SK"]})
		case it.Update != nil:
			table = aws.ToString(it.Update.TableName)
			keys = append(keys, it.Update.Key)
		case it.Delete != nil:
			table = aws.ToString(it.Delete.TableName)
			keys = append(keys, it.Delete.Key)
		}
	}
	err = d.written(ctx, table, keys, func() error {
		out, err = d.Client.TransactWriteItems(ctx, in, opts...)
		return err
	})
	return out, err
}
