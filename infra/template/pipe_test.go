package template

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ocpro/upgrade/internal/store"
)

// TestOutboxPipeReadsWhatTheStoreWrites holds the EventOutbox pipe to the
// store's outbox items: the table streams new images, the filter keeps the
// inserts of keys starting with the store's prefix, and the input template
// and the dynamic Source and DetailType name the attributes the store
// writes (internal/store's constants, the one source of their names). The
// pipe delivers to the bus the rules listen on, and a batch that fails
// every retry goes to the dead-letter queue, which has an alarm.
func TestOutboxPipeReadsWhatTheStoreWrites(t *testing.T) {
	t.Parallel()
	tp := load(t)
	pipe, ok := tp.Resources["EventOutbox"]
	if !ok || pipe.Type != "AWS::Pipes::Pipe" {
		t.Fatalf("EventOutbox = %+v, want an AWS::Pipes::Pipe", pipe)
	}
	table := tp.Resources["Table"]
	if v := str(dig(table.Properties, "StreamSpecification", "StreamViewType")); v != "NEW_IMAGE" && v != "NEW_AND_OLD_IMAGES" {
		t.Errorf("the table streams %q; the pipe reads new images", v)
	}
	if ttl := str(dig(table.Properties, "TimeToLiveSpecification", "AttributeName")); ttl != store.AttrTTL {
		t.Errorf("the table's TTL attribute is %q, the outbox item's %q", ttl, store.AttrTTL)
	}
	p := pipe.Properties
	if src, want := str(p["Source"]), "arn:aws:dynamodb:eu-west-1:000000000000:table/local-table/stream/"+LocalStreamLabel; src != want {
		t.Errorf("Source = %q, want the table's stream %q", src, want)
	}
	if len(tp.Buses) != 1 {
		t.Fatalf("buses %v, want the service's one", tp.Buses)
	}
	bus := "arn:aws:events:eu-west-1:000000000000:event-bus/" + tp.Buses[0]
	if got := str(p["Target"]); got != bus {
		t.Errorf("Target = %q, want the bus %q", got, bus)
	}
	for _, r := range tp.Rules {
		if r.Bus != "default" && r.Bus != tp.Buses[0] {
			t.Errorf("rule %s of %s listens on %q, not the pipe's bus", r.Event, r.Function, r.Bus)
		}
	}

	stream := dig(p, "SourceParameters", "DynamoDBStreamParameters")
	if pos := str(dig(stream, "StartingPosition")); pos != "TRIM_HORIZON" {
		t.Errorf("StartingPosition = %q; LATEST would skip what was written before the pipe started", pos)
	}
	if n := num(dig(stream, "MaximumRetryAttempts"), -1); n < 0 {
		t.Errorf("MaximumRetryAttempts = %d: a poison batch would block its shard for the stream's 24 hours", n)
	}
	dlq := "arn:aws:sqs:eu-west-1:000000000000:DeadLetterQueue"
	if got := str(dig(stream, "DeadLetterConfig", "Arn")); got != dlq {
		t.Errorf("dead-letter target %q, want %q", got, dlq)
	}
	if dim := str(dig(list(dig(tp.Resources["DeadLetterQueueAlarm"].Properties, "Dimensions"))[0], "Value")); dim != "DeadLetterQueue" {
		t.Errorf("the dead-letter queue's alarm watches %q", dim)
	}

	filters := list(dig(p, "SourceParameters", "FilterCriteria", "Filters"))
	if len(filters) != 1 {
		t.Fatalf("%d filters, want one", len(filters))
	}
	var pattern any
	if err := json.Unmarshal([]byte(str(dig(filters[0], "Pattern"))), &pattern); err != nil {
		t.Fatalf("filter pattern: %v", err)
	}
	want := map[string]any{
		"eventName": []any{"INSERT"},
		"dynamodb":  map[string]any{"Keys": map[string]any{"PK": map[string]any{"S": []any{map[string]any{"prefix": store.OutboxKeyPrefix}}}}},
	}
	if !reflect.DeepEqual(pattern, want) {
		t.Errorf("filter pattern %v, want %v: inserts of outbox keys only (TTL deletes are REMOVE records)", pattern, want)
	}

	image := func(attr string) string { return "$.dynamodb.NewImage." + attr + ".S" }
	target := dig(p, "TargetParameters")
	if got, want := str(dig(target, "InputTemplate")), "<"+image(store.AttrDetail)+">"; got != want {
		t.Errorf("InputTemplate = %q, want %q: the detail is the item's detail text", got, want)
	}
	if got := str(dig(target, "EventBridgeEventBusParameters", "Source")); got != image(store.AttrSource) {
		t.Errorf("Source parameter = %q, want %q", got, image(store.AttrSource))
	}
	if got := str(dig(target, "EventBridgeEventBusParameters", "DetailType")); got != image(store.AttrDetailType) {
		t.Errorf("DetailType parameter = %q, want %q", got, image(store.AttrDetailType))
	}
}

// TestOutboxPipeRoleIsLeast holds the pipe's role to what it does: read
// the table's stream, put on the bus, send to the dead-letter queue, and
// nothing else; only EventBridge Pipes of this account may assume it.
func TestOutboxPipeRoleIsLeast(t *testing.T) {
	t.Parallel()
	tp := load(t)
	if got := str(tp.Resources["EventOutbox"].Properties["RoleArn"]); got != "arn:aws:local:eu-west-1:000000000000:EventOutboxRole" {
		t.Fatalf("the pipe's role is %q, want EventOutboxRole", got)
	}
	role := tp.Resources["EventOutboxRole"]
	trust := list(dig(role.Properties, "AssumeRolePolicyDocument", "Statement"))
	if len(trust) != 1 || str(dig(trust[0], "Principal", "Service")) != "pipes.amazonaws.com" ||
		str(dig(trust[0], "Condition", "StringEquals", "aws:SourceAccount")) != "000000000000" {
		t.Errorf("trust policy %v, want pipes.amazonaws.com of this account alone", trust)
	}
	stream := "arn:aws:dynamodb:eu-west-1:000000000000:table/local-table/stream/" + LocalStreamLabel
	want := map[string]string{
		"dynamodb:DescribeStream":   stream,
		"dynamodb:GetRecords":       stream,
		"dynamodb:GetShardIterator": stream,
		"dynamodb:ListStreams":      "*",
		"events:PutEvents":          "arn:aws:events:eu-west-1:000000000000:event-bus/" + tp.Buses[0],
		"sqs:SendMessage":           "arn:aws:sqs:eu-west-1:000000000000:DeadLetterQueue",
	}
	got := map[string]string{}
	for _, pol := range list(role.Properties["Policies"]) {
		for _, st := range list(dig(pol, "PolicyDocument", "Statement")) {
			if str(dig(st, "Effect")) != "Allow" {
				continue
			}
			res := strs(dig(st, "Resource"))
			acts := strs(dig(st, "Action"))
			for _, a := range acts {
				if _, twice := got[a]; twice || len(res) != 1 {
					t.Errorf("%s granted twice or on %v", a, res)
				}
				got[a] = res[0]
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the pipe's role grants %v, want exactly %v", got, want)
	}
}

// TestNoFunctionPublishesToTheBus: every event goes through the outbox, so
// no function links the EventBridge client or is granted PutEvents (the
// grant alone would also fail TestPoliciesMatchTheCode, which this keeps
// from passing vacuously should that test change).
func TestNoFunctionPublishesToTheBus(t *testing.T) {
	t.Parallel()
	tp := load(t)
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	for id, fn := range tp.Functions {
		for _, st := range fn.Policies {
			if slices.Contains(st.Actions, "events:PutEvents") {
				t.Errorf("%s is granted events:PutEvents; events go through the table's outbox", id)
			}
		}
		out, err := exec.Command("go", "list", "-C", root, "-deps", fn.Dir()).Output()
		if err != nil {
			t.Fatalf("%s: go list: %v", id, err)
		}
		if strings.Contains(string(out), "github.com/aws/aws-sdk-go-v2/service/eventbridge\n") {
			t.Errorf("%s links the EventBridge client", id)
		}
	}
	// The check above reads real import lists: make sure one is there.
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "functions", "upgraderequests", "main.go"), nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	var dynamo bool
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		dynamo = dynamo || p == "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	}
	if !dynamo {
		t.Fatal("functions/upgraderequests/main.go does not import the DynamoDB client; the import check reads the wrong files")
	}
}
