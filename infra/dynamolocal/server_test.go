package dynamolocal_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/ocpro/upgrade/infra/dynamolocal"
	"github.com/ocpro/upgrade/infra/template"
	"github.com/ocpro/upgrade/infra/testenv"
)

// installDir is where make deps put DynamoDB Local.
func installDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(testenv.CacheDir(t), "dynamodb")
}

// start runs a DynamoDB Local of the test's own and stops it after the test.
func start(t *testing.T, opts dynamolocal.Options) *dynamolocal.Server {
	t.Helper()
	testenv.Integration(t)
	if opts.Dir == "" {
		opts.Dir = installDir(t)
	}
	s, err := dynamolocal.Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStartRefusesWhatCannotRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		opts dynamolocal.Options
		want string
	}{
		{"no jar", dynamolocal.Options{Dir: dir}, "run `make deps`"},
		{"no java", dynamolocal.Options{Dir: installDir(t), Java: filepath.Join(dir, "no-such-java")}, "needs Java 17"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.opts.Java == "" {
				// The jar check must come first and need no Java.
				tt.opts.Java = filepath.Join(dir, "no-such-java")
			} else {
				testenv.Integration(t) // needs the jar installed
			}
			_, err := dynamolocal.Start(t.Context(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start error = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestStartServesAndCloseStops(t *testing.T) {
	t.Parallel()
	s := start(t, dynamolocal.Options{})
	host, _, err := net.SplitHostPort(strings.TrimPrefix(s.Endpoint(), "http://"))
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("Endpoint = %q, want http://127.0.0.1:port", s.Endpoint())
	}
	client, err := dynamolocal.NewClient(t.Context(), s.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.ListTables(t.Context(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables: %v", err)
	}

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Close waits for the process, so the port is closed at once.
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.Endpoint(), "http://"), time.Second)
	if err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Close", s.Endpoint())
	}
}

func TestStartOnTakenPortFails(t *testing.T) {
	t.Parallel()
	testenv.Integration(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	_, err = dynamolocal.Start(t.Context(), dynamolocal.Options{Dir: installDir(t), Port: port})
	if err == nil || !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Fatalf("Start on taken port %d: error = %v, want one naming the port", port, err)
	}
}

func TestDBPathKeepsDataAcrossRestarts(t *testing.T) {
	t.Parallel()
	testenv.Integration(t)
	data := t.TempDir()
	tables := []template.Table{{
		LogicalID: "Kept", Name: "kept",
		Attributes: []template.Attribute{{Name: "PK", Type: "S"}},
		Key:        []template.KeyElement{{Name: "PK", KeyType: "HASH"}},
	}}

	first := start(t, dynamolocal.Options{DBPath: data})
	client, err := dynamolocal.NewClient(t.Context(), first.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	if err := dynamolocal.CreateTables(t.Context(), client, tables, nil); err != nil {
		t.Fatalf("CreateTables: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second := start(t, dynamolocal.Options{DBPath: data})
	client, err = dynamolocal.NewClient(t.Context(), second.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String("kept")}); err != nil {
		t.Fatalf("table kept in %s is gone after a restart: %v", data, err)
	}
}

func TestNewClientNeedsEndpoint(t *testing.T) {
	t.Parallel()
	if _, err := dynamolocal.NewClient(context.Background(), ""); err == nil {
		t.Fatal("NewClient with no endpoint: got no error")
	}
}

// The test binary's shared server, through testenv, serves the table tests.
func TestCreateTablesFromTemplate(t *testing.T) {
	t.Parallel()
	testenv.Integration(t)
	tmpl, err := template.Load(filepath.Join(testenv.RepoRoot(t), "template.yaml"), template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, dynamolocal.Options{})
	client, err := dynamolocal.NewClient(t.Context(), s.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	name := func(id string) string { return "local-" + id }

	if err := dynamolocal.CreateTables(t.Context(), client, tmpl.Tables, name); err != nil {
		t.Fatalf("CreateTables: %v", err)
	}
	if err := dynamolocal.CreateTables(t.Context(), client, tmpl.Tables, name); err != nil {
		t.Fatalf("CreateTables again, on existing tables: %v", err)
	}

	for _, want := range tmpl.Tables {
		t.Run(want.LogicalID, func(t *testing.T) {
			got, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name(want.LogicalID))})
			if err != nil {
				t.Fatal(err)
			}
			d := got.Table
			if d.TableStatus != types.TableStatusActive {
				t.Errorf("status = %s, want ACTIVE", d.TableStatus)
			}
			if d.BillingModeSummary == nil || d.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
				t.Errorf("billing = %+v, want PAY_PER_REQUEST", d.BillingModeSummary)
			}
			if g, w := keys(d.KeySchema), keysOf(want.Key); g != w {
				t.Errorf("key = %s, want %s", g, w)
			}
			indexes := map[string]types.GlobalSecondaryIndexDescription{}
			for _, ix := range d.GlobalSecondaryIndexes {
				indexes[aws.ToString(ix.IndexName)] = ix
			}
			if len(indexes) != len(want.Indexes) {
				t.Errorf("%d indexes, want %d", len(indexes), len(want.Indexes))
			}
			for _, wix := range want.Indexes {
				ix, ok := indexes[wix.Name]
				if !ok {
					t.Errorf("index %s missing", wix.Name)
					continue
				}
				if g, w := keys(ix.KeySchema), keysOf(wix.Key); g != w {
					t.Errorf("index %s key = %s, want %s", wix.Name, g, w)
				}
				if g := string(ix.Projection.ProjectionType); g != wix.ProjectionType {
					t.Errorf("index %s projection = %s, want %s", wix.Name, g, wix.ProjectionType)
				}
			}

			ttl, err := client.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name(want.LogicalID))})
			if err != nil {
				t.Fatal(err)
			}
			gotStatus, gotAttr := ttl.TimeToLiveDescription.TimeToLiveStatus, aws.ToString(ttl.TimeToLiveDescription.AttributeName)
			if want.TTLAttribute == "" {
				if gotStatus == types.TimeToLiveStatusEnabled {
					t.Errorf("TTL enabled on %s, template has none", gotAttr)
				}
			} else if gotStatus != types.TimeToLiveStatusEnabled || gotAttr != want.TTLAttribute {
				t.Errorf("TTL = %s on %q, want ENABLED on %q", gotStatus, gotAttr, want.TTLAttribute)
			}

			spec := d.StreamSpecification
			if want.StreamViewType == "" {
				if spec != nil && aws.ToBool(spec.StreamEnabled) {
					t.Errorf("stream %s enabled, template has none", spec.StreamViewType)
				}
			} else if spec == nil || !aws.ToBool(spec.StreamEnabled) || string(spec.StreamViewType) != want.StreamViewType {
				t.Errorf("stream = %+v, want %s", spec, want.StreamViewType)
			}
		})
	}
}

// A table created before the template gave it a stream gets one, as
// CloudFormation's update would add it; DynamoDB Local takes the stream
// at creation or by UpdateTable, and then lists it under the table.
func TestCreateTablesAddsAStreamToAnExistingTable(t *testing.T) {
	t.Parallel()
	testenv.Integration(t)
	s := start(t, dynamolocal.Options{})
	client, err := dynamolocal.NewClient(t.Context(), s.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	tbl := template.Table{LogicalID: "T", Name: "streamless",
		Attributes: []template.Attribute{{Name: "PK", Type: "S"}}, Key: []template.KeyElement{{Name: "PK", KeyType: "HASH"}}}
	if err := dynamolocal.CreateTables(t.Context(), client, []template.Table{tbl}, nil); err != nil {
		t.Fatal(err)
	}
	tbl.StreamViewType = "NEW_IMAGE"
	if err := dynamolocal.CreateTables(t.Context(), client, []template.Table{tbl}, nil); err != nil {
		t.Fatalf("adding the stream: %v", err)
	}
	streams, err := dynamolocal.NewStreamsClient(t.Context(), s.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	out, err := streams.ListStreams(t.Context(), &dynamodbstreams.ListStreamsInput{TableName: aws.String("streamless")})
	if err != nil || len(out.Streams) != 1 {
		t.Fatalf("streams of the table: %+v, %v", out, err)
	}
	tbl.StreamViewType = "KEYS_ONLY"
	if err := dynamolocal.CreateTables(t.Context(), client, []template.Table{tbl}, nil); err == nil || !strings.Contains(err.Error(), "view type") {
		t.Errorf("another view type on the same stream: %v", err)
	}
}

func TestCreateTablesRejectsWhatItCannotBuild(t *testing.T) {
	t.Parallel()
	testenv.Integration(t)
	s := start(t, dynamolocal.Options{})
	client, err := dynamolocal.NewClient(t.Context(), s.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	key := []template.KeyElement{{Name: "PK", KeyType: "HASH"}}
	attrs := []template.Attribute{{Name: "PK", Type: "S"}, {Name: "G", Type: "S"}}
	tests := []struct {
		name  string
		table template.Table
		want  string
	}{
		{"no key", template.Table{LogicalID: "NoKey", Name: "nokey", Attributes: attrs}, "no key schema"},
		{"no name", template.Table{LogicalID: "NoName", Attributes: attrs, Key: key}, "no table name"},
		{"include projection", template.Table{LogicalID: "Incl", Name: "incl", Attributes: attrs, Key: key,
			Indexes: []template.Index{{Name: "G", Key: []template.KeyElement{{Name: "G", KeyType: "HASH"}}, ProjectionType: "INCLUDE"}}},
			"INCLUDE"},
		{"undefined attribute", template.Table{LogicalID: "Undef", Name: "undef", Key: key}, "create"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := dynamolocal.CreateTables(t.Context(), client, []template.Table{tt.table}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.table.LogicalID) {
				t.Fatalf("CreateTables error = %v, want one naming %s and saying %q", err, tt.table.LogicalID, tt.want)
			}
		})
	}
	if err := dynamolocal.CreateTables(t.Context(), nil, nil, nil); err == nil {
		t.Error("CreateTables with a nil client: got no error")
	}
}

// TestTransactionCancellationReasons checks the behaviour the store relies
// on: a transaction whose condition fails is cancelled as a whole, with a
// reason per item.
func TestTransactionCancellationReasons(t *testing.T) {
	t.Parallel()
	client, table := testenv.DynamoDB(t)
	ctx := t.Context()
	item := func(pk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: pk},
			"SK": &types.AttributeValueMemberS{Value: "META"},
		}
	}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("taken")}); err != nil {
		t.Fatal(err)
	}

	_, err := client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(table), Item: item("fresh"),
			ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Put: &types.Put{TableName: aws.String(table), Item: item("taken"),
			ConditionExpression:                 aws.String("attribute_not_exists(PK)"),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
	}})
	var cancelled *types.TransactionCanceledException
	if !errors.As(err, &cancelled) {
		t.Fatalf("TransactWriteItems error = %v, want TransactionCanceledException", err)
	}
	var codes []string
	for _, r := range cancelled.CancellationReasons {
		codes = append(codes, aws.ToString(r.Code))
	}
	if got, want := strings.Join(codes, ","), "None,ConditionalCheckFailed"; got != want {
		t.Errorf("cancellation reasons = %s, want %s", got, want)
	}
	if r := cancelled.CancellationReasons; len(r) == 2 && r[1].Item["PK"] == nil {
		t.Errorf("second reason carries no old item: %+v", r[1].Item)
	}

	got, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: item("fresh")})
	if err != nil {
		t.Fatal(err)
	}
	if got.Item != nil {
		t.Errorf("the cancelled transaction wrote its first item: %v", got.Item)
	}
}

func keys(ks []types.KeySchemaElement) string {
	var parts []string
	for _, k := range ks {
		parts = append(parts, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
	}
	return strings.Join(parts, ",")
}

func keysOf(ks []template.KeyElement) string {
	var parts []string
	for _, k := range ks {
		parts = append(parts, k.Name+":"+k.KeyType)
	}
	return strings.Join(parts, ",")
}
