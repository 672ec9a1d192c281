package quota

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoAPI is the part of the DynamoDB client Dynamo uses.
type DynamoAPI interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Dynamo counts in the service's table, one item per key and window:
// PK QUOTA#<key>, SK W#<window start in Unix seconds>, with the table's
// ttl attribute set so that DynamoDB deletes old windows.
type Dynamo struct {
	db    DynamoAPI
	table string
}

var _ Counter = (*Dynamo)(nil)

// NewDynamo returns a Dynamo on table.
func NewDynamo(db DynamoAPI, table string) (*Dynamo, error) {
	if db == nil {
		return nil, errors.New("quota: nil DynamoDB client")
	}
	if table == "" {
		return nil, errors.New("quota: empty table name")
	}
	return &Dynamo{db: db, table: table}, nil
}

// Add implements Counter with one conditional UpdateItem: the count goes
// up only while it is below the limit, so concurrent callers in any number
// of containers never get past it together.
func (d *Dynamo) Add(ctx context.Context, key string, start time.Time, limit int, expires time.Time) (bool, error) {
	_, err := d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(d.table),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "QUOTA#" + key},
			"SK": &types.AttributeValueMemberS{Value: "W#" + strconv.FormatInt(start.Unix(), 10)},
		},
		UpdateExpression:         aws.String("ADD #n :one SET #ttl = :ttl"),
		ConditionExpression:      aws.String("attribute_not_exists(#n) OR #n < :limit"),
		ExpressionAttributeNames: map[string]string{"#n": "uses", "#ttl": "ttl"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one":   &types.AttributeValueMemberN{Value: "1"},
			":limit": &types.AttributeValueMemberN{Value: strconv.Itoa(limit)},
			":ttl":   &types.AttributeValueMemberN{Value: strconv.FormatInt(expires.Unix(), 10)},
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	return err == nil, err
}
