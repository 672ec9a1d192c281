package bench

import (
	"context"
	"maps"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// dynamoServiceID is the SDK's service id of DynamoDB, which tells its calls
// apart when the counter is installed on a shared aws.Config.
const dynamoServiceID = "DynamoDB"

// writeOperations consume write capacity; every other operation reads.
var writeOperations = map[string]bool{
	"PutItem": true, "UpdateItem": true, "DeleteItem": true,
	"BatchWriteItem": true, "TransactWriteItems": true,
}

// DynamoCounter counts the DynamoDB round trips of a client, per operation
// name, and sums the capacity the responses say they consumed. Retries
// count as round trips of their own: each is a request DynamoDB serves.
//
// DynamoDB only reports consumed capacity when asked, so the counter asks
// for TOTAL on every call that leaves ReturnConsumedCapacity unset; that
// changes the response, not what the call does. A benchmark that reports
// the figures per operation can use Report:
//
//	c := bench.NewDynamoCounter()
//	client := dynamodb.NewFromConfig(cfg, c.Options())
//	b.ResetTimer(); c.Reset()
//	for b.Loop() { ... }
//	c.Report(b, b.N)
//
// It is safe for concurrent use.
type DynamoCounter struct {
	mu    sync.Mutex
	calls map[string]int
	read  float64
	write float64
}

// NewDynamoCounter returns a counter with nothing counted.
func NewDynamoCounter() *DynamoCounter {
	return &DynamoCounter{calls: map[string]int{}}
}

// Options returns the client option that installs the counter on a
// dynamodb.Client.
func (c *DynamoCounter) Options() func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, c.APIOption)
	}
}

// APIOption installs the counter on a middleware stack; pass it to
// config.WithAPIOptions to count every DynamoDB client built from that
// config. Calls of other services pass through uncounted.
func (c *DynamoCounter) APIOption(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("bench.DynamoCapacity", c.capacity), middleware.After); err != nil {
		return err
	}
	// The deserialize step runs once per attempt, after the retryer, so it
	// sees every request that went over the wire.
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("bench.DynamoRoundTrips", c.roundTrip), middleware.After)
}

func (c *DynamoCounter) roundTrip(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	if awsmiddleware.GetServiceID(ctx) == dynamoServiceID {
		op := awsmiddleware.GetOperationName(ctx)
		c.mu.Lock()
		c.calls[op]++
		c.mu.Unlock()
	}
	return next.HandleDeserialize(ctx, in)
}

func (c *DynamoCounter) capacity(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	if awsmiddleware.GetServiceID(ctx) != dynamoServiceID {
		return next.HandleInitialize(ctx, in)
	}
	askForCapacity(in.Parameters)
	out, md, err := next.HandleInitialize(ctx, in)
	if err == nil {
		c.add(awsmiddleware.GetOperationName(ctx), consumed(out.Result))
	}
	return out, md, err
}

// askForCapacity sets ReturnConsumedCapacity to TOTAL on inputs that have
// the field and leave it unset.
func askForCapacity(params any) {
	set := func(v *types.ReturnConsumedCapacity) {
		if *v == "" {
			*v = types.ReturnConsumedCapacityTotal
		}
	}
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		set(&in.ReturnConsumedCapacity)
	case *dynamodb.PutItemInput:
		set(&in.ReturnConsumedCapacity)
	case *dynamodb.UpdateItemInput:
		set(&in.ReturnConsumedCapacity)
	case *dynamodb.DeleteItemInput:
		set(&in.ReturnConsumedCapacity)
	case *dynamodb.QueryInput:
		set(&in.ReturnConsumedCapacity)
	case *dynamodb.ScanInput:
		set(&in.ReturnConsumedCapacity)
	case *dynamodb.BatchGetItemInput:
		set(&in.ReturnConsumedCapacity)
	case *dynamodb.BatchWriteItemInput:
		set(&in.ReturnConsumedCapacity)
	case *dynamodb.TransactGetItemsInput:
		set(&in.ReturnConsumedCapacity)
	case *dynamodb.TransactWriteItemsInput:
		set(&in.ReturnConsumedCapacity)
	case *dynamodb.ExecuteStatementInput:
		set(&in.ReturnConsumedCapacity)
	}
}

// consumed returns the capacity an output reports, if any.
func consumed(result any) []types.ConsumedCapacity {
	one := func(c *types.ConsumedCapacity) []types.ConsumedCapacity {
		if c == nil {
			return nil
		}
		return []types.ConsumedCapacity{*c}
	}
	switch out := result.(type) {
	case *dynamodb.GetItemOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.PutItemOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.UpdateItemOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.DeleteItemOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.QueryOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.ScanOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.ExecuteStatementOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.BatchGetItemOutput:
		return out.ConsumedCapacity
	case *dynamodb.BatchWriteItemOutput:
		return out.ConsumedCapacity
	case *dynamodb.TransactGetItemsOutput:
		return out.ConsumedCapacity
	case *dynamodb.TransactWriteItemsOutput:
		return out.ConsumedCapacity
	}
	return nil
}

// add sums capacities. DynamoDB splits read and write units only when asked
// for INDEXES; with TOTAL the operation says which kind they were.
func (c *DynamoCounter) add(op string, caps []types.ConsumedCapacity) {
	var read, write float64
	for _, cc := range caps {
		if cc.ReadCapacityUnits != nil || cc.WriteCapacityUnits != nil {
			read += deref(cc.ReadCapacityUnits)
			write += deref(cc.WriteCapacityUnits)
			continue
		}
		if writeOperations[op] {
			write += deref(cc.CapacityUnits)
		} else {
			read += deref(cc.CapacityUnits)
		}
	}
	c.mu.Lock()
	c.read += read
	c.write += write
	c.mu.Unlock()
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

// Calls returns the round trips per operation name ("GetItem",
// "TransactWriteItems", ...) since the counter was made or reset.
func (c *DynamoCounter) Calls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.calls)
}

// RoundTrips returns the round trips of all operations together.
func (c *DynamoCounter) RoundTrips() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.calls {
		n += v
	}
	return n
}

// ReadCapacity returns the read capacity units consumed.
func (c *DynamoCounter) ReadCapacity() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read
}

// WriteCapacity returns the write capacity units consumed.
func (c *DynamoCounter) WriteCapacity() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.write
}

// Reset forgets everything counted so far, for example what a benchmark's
// setup did.
func (c *DynamoCounter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = map[string]int{}
	c.read, c.write = 0, 0
}

// MetricReporter is what Report needs of a *testing.B.
type MetricReporter interface {
	ReportMetric(n float64, unit string)
}

// Report reports the counts divided by n operations as rtt/op, rcu/op and
// wcu/op, the custom metrics the bench table shows next to ns/op; pass b
// and b.N.
func (c *DynamoCounter) Report(r MetricReporter, n int) {
	if n <= 0 {
		return
	}
	ops := float64(n)
	r.ReportMetric(float64(c.RoundTrips())/ops, "rtt/op")
	r.ReportMetric(c.ReadCapacity()/ops, "rcu/op")
	r.ReportMetric(c.WriteCapacity()/ops, "wcu/op")
}
