package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/upgrade/storetest"
)

// TestFinishContract runs the contract of finishing an upgrade and of the
// M365 connections against DynamoDB Local, the same suite the in-memory
// store passes.
func TestFinishContract(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	var clients sync.Map // *store.Store -> tableClient
	type tableClient struct {
		db    *dynamodb.Client
		table string
	}
	storetest.RunFinish(t, func(t *testing.T) storetest.FinishStore {
		db, table := testenv.DynamoDB(t)
		s, err := store.New(db, table)
		if err != nil {
			t.Fatal(err)
		}
		clients.Store(s, tableClient{db: db, table: table})
		return s
	}, func(t *testing.T, s storetest.FinishStore, inv upgrade.Invitation, tenantID string) {
		// The consent wizard's store method needs a whole sign-in; the
		// contract only needs the invitation's state, written as it is kept.
		v, _ := clients.Load(s)
		tc := v.(tableClient)
		_, err := tc.db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(tc.table),
			Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "INVITATION#" + inv.ID},
				"SK": &types.AttributeValueMemberS{Value: "A"}},
			UpdateExpression:         aws.String("SET #s = :c, TenantID = :t"),
			ExpressionAttributeNames: map[string]string{"#s": "Status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":c": &types.AttributeValueMemberS{Value: string(upgrade.InvitationAuthenticationComplete)},
				":t": &types.AttributeValueMemberS{Value: tenantID}}})
		if err != nil {
			t.Fatal(err)
		}
	})
}
