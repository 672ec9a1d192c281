package bench

import (
	"fmt"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/infra/testenv"
)

// metrics records what Report reports.
type metrics map[string]float64

func (m metrics) ReportMetric(n float64, unit string) { m[unit] = n }

func item(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: pk},
		"SK": &types.AttributeValueMemberS{Value: sk},
	}
}

func TestDynamoCounterAgainstDynamoDBLocal(t *testing.T) {
	t.Parallel()
	base, table := testenv.DynamoDB(t)
	counter := NewDynamoCounter()
	client := dynamodb.New(base.Options(), counter.Options())
	ctx := t.Context()

	// Setup through the same client, then forgotten, as a benchmark does.
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("p#0", "s")}); err != nil {
		t.Fatal(err)
	}
	counter.Reset()
	if got := counter.RoundTrips(); got != 0 {
		t.Fatalf("RoundTrips after Reset = %d", got)
	}

	for i := range 2 {
		if _, err := client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(table), Item: item(fmt.Sprintf("p#%d", i+1), "a")}},
			{Put: &types.Put{TableName: aws.String(table), Item: item(fmt.Sprintf("p#%d", i+1), "b")}},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: item("p#0", "s")}); err != nil {
		t.Fatal(err)
	}
	// A caller's own choice of capacity reporting is kept.
	out, err := client.Query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(table),
		KeyConditionExpression: aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: "p#1"},
		},
		ReturnConsumedCapacity: types.ReturnConsumedCapacityNone,
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.ConsumedCapacity != nil {
		t.Errorf("the counter asked for capacity on a call that declined it")
	}
	// A call that DynamoDB refuses is still a round trip.
	_, err = client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table + "-absent"), Key: item("x", "y")})
	if err == nil {
		t.Fatal("GetItem on a missing table succeeded")
	}

	wantCalls := map[string]int{"TransactWriteItems": 2, "GetItem": 2, "Query": 1}
	if got := counter.Calls(); !maps.Equal(got, wantCalls) {
		t.Errorf("Calls() = %v, want %v", got, wantCalls)
	}
	// DynamoDB's pricing rules, which DynamoDB Local follows: an item up
	// to 1 KB written in a transaction costs 2 units, so two transactions
	// of two puts cost 8; an eventually consistent read of an item up to
	// 4 KB costs half a unit. The refused call and the Query that declined
	// reporting add nothing.
	if got := counter.WriteCapacity(); got != 8 {
		t.Errorf("WriteCapacity() = %v, want 8", got)
	}
	if got := counter.ReadCapacity(); got != 0.5 {
		t.Errorf("ReadCapacity() = %v, want 0.5", got)
	}

	m := metrics{}
	counter.Report(m, 5)
	if m["rtt/op"] != 1 {
		t.Errorf("rtt/op = %v, want 5 round trips over 5 operations = 1", m["rtt/op"])
	}
	if m["wcu/op"] != counter.WriteCapacity()/5 || m["rcu/op"] != counter.ReadCapacity()/5 {
		t.Errorf("capacity per op = %v, want the totals over 5", m)
	}
}

func TestDynamoCounterCapacityKinds(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name        string
		op          string
		caps        []types.ConsumedCapacity
		read, write float64
	}{
		{"total of a read", "GetItem", []types.ConsumedCapacity{{CapacityUnits: f(0.5)}}, 0.5, 0},
		{"total of a write", "UpdateItem", []types.ConsumedCapacity{{CapacityUnits: f(1)}}, 0, 1},
		{"transaction per table", "TransactWriteItems", []types.ConsumedCapacity{{CapacityUnits: f(2)}, {CapacityUnits: f(4)}}, 0, 6},
		{"split units win over the operation", "TransactGetItems",
			[]types.ConsumedCapacity{{CapacityUnits: f(3), ReadCapacityUnits: f(2), WriteCapacityUnits: f(1)}}, 2, 1},
		{"nothing reported", "Query", nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := NewDynamoCounter()
			c.add(tt.op, tt.caps)
			if c.ReadCapacity() != tt.read || c.WriteCapacity() != tt.write {
				t.Errorf("read, write = %v, %v; want %v, %v", c.ReadCapacity(), c.WriteCapacity(), tt.read, tt.write)
			}
		})
	}
}

func TestDynamoCounterReportWithoutOperations(t *testing.T) {
	t.Parallel()
	m := metrics{}
	NewDynamoCounter().Report(m, 0)
	if len(m) != 0 {
		t.Errorf("Report with no operations reported %v", m)
	}
}
