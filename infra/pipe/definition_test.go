package pipe

import (
	"encoding/json"
	"log/slog"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ocpro/upgrade/infra/template"
)

// The template's pipe is read as the local stack reads it, and is what the
// outbox needs: new outbox items, in batches a bus takes, to the bus.
func TestTemplatePipe(t *testing.T) {
	t.Parallel()
	tmpl, err := template.Load(filepath.Join("..", "..", "template.yaml"), template.Options{
		Names: map[string]string{"Table": "ocpro-local-table", "EventBus": "ocpro-local-bus"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defs, err := Definitions(tmpl)
	if err != nil {
		t.Fatalf("the template's pipe is refused: %v", err)
	}
	if len(defs) != 1 {
		t.Fatalf("want one pipe, got %d", len(defs))
	}
	d := defs[0]
	if d.Name != "EventOutbox" || d.Table != "ocpro-local-table" || d.Bus != "ocpro-local-bus" {
		t.Errorf("pipe %s from table %s to bus %s", d.Name, d.Table, d.Bus)
	}
	if d.StartingPosition != TrimHorizon {
		t.Errorf("StartingPosition %s: the outbox must not skip items written before the pipe started", d.StartingPosition)
	}
	if d.DeadLetterARN == "" {
		t.Error("no dead-letter queue")
	}
	var tbl template.Table
	for _, x := range tmpl.Tables {
		if x.LogicalID == "Table" {
			tbl = x
		}
	}
	if tbl.StreamViewType != "NEW_IMAGE" && tbl.StreamViewType != "NEW_AND_OLD_IMAGES" {
		t.Errorf("the table's stream view type is %q: the pipe reads NewImage", tbl.StreamViewType)
	}
}

// base is a pipe of the template's shape, as YAML, resolved.
const base = `
RoleArn: arn:aws:iam::000000000000:role/pipe
Source: arn:aws:dynamodb:eu-west-1:000000000000:table/T/stream/local
SourceParameters:
  DynamoDBStreamParameters:
    StartingPosition: TRIM_HORIZON
    BatchSize: 10
    MaximumRetryAttempts: 3
    DeadLetterConfig: {Arn: arn:aws:sqs:eu-west-1:000000000000:dlq}
  FilterCriteria:
    Filters:
      - Pattern: '{"eventName":["INSERT"],"dynamodb":{"Keys":{"PK":{"S":[{"prefix":"OUTBOX#"}]}}}}'
Target: arn:aws:events:eu-west-1:000000000000:event-bus/B
TargetParameters:
  InputTemplate: '<$.dynamodb.NewImage.detail.S>'
  EventBridgeEventBusParameters:
    Source: '$.dynamodb.NewImage.source.S'
    DetailType: '$.dynamodb.NewImage.detailType.S'
`

func props(t *testing.T, edit func(m map[string]any)) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(base), &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	return m
}

func sub(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

// Whatever the local pipe does not do is refused when it is read, never
// ignored, and so is what AWS refuses.
func TestParseRefuses(t *testing.T) {
	t.Parallel()
	ddb := func(m map[string]any) map[string]any {
		return sub(m, "SourceParameters", "DynamoDBStreamParameters")
	}
	bus := func(m map[string]any) map[string]any {
		return sub(m, "TargetParameters", "EventBridgeEventBusParameters")
	}
	tests := []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"enrichment", func(m map[string]any) { m["Enrichment"] = "arn:aws:lambda:x" }, "Enrichment: not implemented"},
		{"log configuration", func(m map[string]any) { m["LogConfiguration"] = map[string]any{} }, "LogConfiguration: not implemented"},
		{"SQS source", func(m map[string]any) { m["Source"] = "arn:aws:sqs:eu-west-1:0:q" }, "only a DynamoDB stream"},
		{"table, not stream", func(m map[string]any) { m["Source"] = "arn:aws:dynamodb:eu-west-1:0:table/T" }, "only a DynamoDB stream"},
		{"Lambda target", func(m map[string]any) { m["Target"] = "arn:aws:lambda:eu-west-1:0:function:f" }, "only an event bus"},
		{"no role", func(m map[string]any) { delete(m, "RoleArn") }, "RoleArn is required"},
		{"desired state", func(m map[string]any) { m["DesiredState"] = "PAUSED" }, "DesiredState"},
		{"batching window", func(m map[string]any) { ddb(m)["MaximumBatchingWindowInSeconds"] = 5 }, "MaximumBatchingWindowInSeconds: not implemented"},
		{"record age", func(m map[string]any) { ddb(m)["MaximumRecordAgeInSeconds"] = 60 }, "MaximumRecordAgeInSeconds: not implemented"},
		{"bisect", func(m map[string]any) { ddb(m)["OnPartialBatchItemFailure"] = "AUTOMATIC_BISECT" }, "OnPartialBatchItemFailure: not implemented"},
		{"parallelization", func(m map[string]any) { ddb(m)["ParallelizationFactor"] = 2 }, "ParallelizationFactor: not implemented"},
		{"starting position", func(m map[string]any) { ddb(m)["StartingPosition"] = "AT_TIMESTAMP" }, "StartingPosition"},
		{"batch over the bus's 10", func(m map[string]any) { ddb(m)["BatchSize"] = 11 }, "at most 10"},
		{"default batch of 100", func(m map[string]any) { delete(ddb(m), "BatchSize") }, "BatchSize 100"},
		{"batch of 0", func(m map[string]any) { ddb(m)["BatchSize"] = 0 }, "want 1 to 10000"},
		{"retries below -1", func(m map[string]any) { ddb(m)["MaximumRetryAttempts"] = -2 }, "want -1 to 10000"},
		{"dead letters to a bus", func(m map[string]any) {
			ddb(m)["DeadLetterConfig"] = map[string]any{"Arn": "arn:aws:events:eu-west-1:0:event-bus/x"}
		}, "SQS queue or SNS topic"},
		{"bad pattern", func(m map[string]any) {
			sub(m, "SourceParameters", "FilterCriteria")["Filters"] = []any{map[string]any{"Pattern": `{"eventName":"INSERT"}`}}
		}, "want an array"},
		{"pattern not JSON", func(m map[string]any) {
			sub(m, "SourceParameters", "FilterCriteria")["Filters"] = []any{map[string]any{"Pattern": `eventName=INSERT`}}
		}, "pattern"},
		{"six patterns", func(m map[string]any) {
			f := map[string]any{"Pattern": `{"eventName":["INSERT"]}`}
			sub(m, "SourceParameters", "FilterCriteria")["Filters"] = []any{f, f, f, f, f, f}
		}, "at most 5"},
		{"no target parameters", func(m map[string]any) { delete(m, "TargetParameters") }, "no default Source"},
		{"time parameter", func(m map[string]any) { bus(m)["Time"] = "$.dynamodb.ApproximateCreationDateTime" }, "Time: not implemented"},
		{"resources parameter", func(m map[string]any) { bus(m)["Resources"] = []any{"x"} }, "Resources: not implemented"},
		{"no detail type", func(m map[string]any) { delete(bus(m), "DetailType") }, "DetailType: want a non-empty string"},
		{"wildcard path", func(m map[string]any) { bus(m)["Source"] = "$.dynamodb.*.source.S" }, "wildcards are not implemented"},
		{"bad path name", func(m map[string]any) { bus(m)["Source"] = "$.dynamodb.New Image" }, "not a name"},
		{"template wildcard", func(m map[string]any) {
			sub(m, "TargetParameters")["InputTemplate"] = "<$.dynamodb.NewImage.*>"
		}, "wildcards are not implemented"},
		{"enrichment variable", func(m map[string]any) {
			sub(m, "TargetParameters")["InputTemplate"] = `{"e": <aws.pipes.enrichment-arn>}`
		}, "not a reserved variable the local pipe implements"},
		{"unknown variable", func(m map[string]any) { sub(m, "TargetParameters")["InputTemplate"] = "<detail>" }, "neither a JSON path"},
		{"event.json in text", func(m map[string]any) {
			sub(m, "TargetParameters")["InputTemplate"] = "event: <aws.pipes.event.json>"
		}, "only be the value of a JSON field"},
		{"unclosed variable", func(m map[string]any) { sub(m, "TargetParameters")["InputTemplate"] = "<$.a" }, "unclosed"},
		{"target parameters of another target", func(m map[string]any) {
			sub(m, "TargetParameters")["SqsQueueParameters"] = map[string]any{}
		}, "SqsQueueParameters: not implemented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("P", props(t, tt.edit))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse: %v, want an error with %q", err, tt.want)
			}
		})
	}
	if _, err := Parse("P", props(t, nil)); err != nil {
		t.Fatalf("the base pipe is refused: %v", err)
	}
}

// record is an outbox item's INSERT as the pipe receives it.
func record(t *testing.T, eventName, pk string, image map[string]string) []byte {
	t.Helper()
	img := map[string]any{}
	for k, v := range image {
		img[k] = map[string]any{"S": v}
	}
	raw, err := json.Marshal(event{
		EventID: "e1", EventName: eventName, EventVersion: "1.1", EventSource: "aws:dynamodb", AWSRegion: "eu-west-1",
		Dynamodb: streamRecord{
			Keys:     map[string]any{"PK": map[string]any{"S": pk}, "SK": map[string]any{"S": "OUTBOX"}},
			NewImage: img, SequenceNumber: "1", SizeBytes: 10, StreamViewType: "NEW_IMAGE",
		},
		EventSourceARN: "arn:aws:dynamodb:eu-west-1:0:table/T/stream/x",
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// The template's filter lets only new outbox items through.
func TestFilter(t *testing.T) {
	t.Parallel()
	d, err := Parse("P", props(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		eventName string
		pk        string
		want      bool
	}{
		{"new outbox item", "INSERT", "OUTBOX#1", true},
		{"outbox item deleted by TTL", "REMOVE", "OUTBOX#1", false},
		{"outbox item changed", "MODIFY", "OUTBOX#1", false},
		{"another item", "INSERT", "INV#1", false},
		{"a key that only contains OUTBOX#", "INSERT", "X#OUTBOX#1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := d.matches(record(t, tt.eventName, tt.pk, nil))
			if err != nil || got != tt.want {
				t.Fatalf("matches = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func newTestPipe(t *testing.T, edit func(m map[string]any)) *Pipe {
	t.Helper()
	d, err := Parse("P", props(t, edit))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Definition: d, Streams: nopStreams{}, Bus: nopBus{}, StateDir: t.TempDir(), Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return time.Date(2026, 12, 6, 1, 2, 3, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The template's transformation makes the item's detail the event's detail,
// byte for byte, with the item's source and detail type.
func TestEntryOfTheTemplatesShape(t *testing.T) {
	t.Parallel()
	p := newTestPipe(t, nil)
	detail := `{"eventId":"5b0c","invitationId":"inv-1","n":1.50,"text":"a \"quoted\" <b>"}`
	e, err := p.entry(record(t, "INSERT", "OUTBOX#5b0c", map[string]string{
		"source": "ocpro.upgrades", "detailType": "Invitation Created", "detail": detail,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if *e.Detail != detail || *e.Source != "ocpro.upgrades" || *e.DetailType != "Invitation Created" {
		t.Errorf("entry %s / %s / %s", *e.Source, *e.DetailType, *e.Detail)
	}
	if *e.EventBusName != "arn:aws:events:eu-west-1:000000000000:event-bus/B" {
		t.Errorf("bus %s", *e.EventBusName)
	}
	d, _ := Parse("P", props(t, nil))
	r, err := d.Render(record(t, "INSERT", "OUTBOX#5b0c", map[string]string{
		"source": "ocpro.upgrades", "detailType": "Invitation Created", "detail": detail,
	}))
	if err != nil || r != (Event{Source: "ocpro.upgrades", DetailType: "Invitation Created", Detail: detail}) {
		t.Errorf("Render = %+v, %v", r, err)
	}
}

// A record the template cannot render fails, naming what is missing.
func TestEntryOfAnIncompleteItem(t *testing.T) {
	t.Parallel()
	p := newTestPipe(t, nil)
	tests := []struct {
		name  string
		image map[string]string
		want  string
	}{
		{"no detail", map[string]string{"source": "s", "detailType": "d"}, "$.dynamodb.NewImage.detail.S is not in the record"},
		{"no source", map[string]string{"detail": "{}", "detailType": "d"}, "parameter Source: $.dynamodb.NewImage.source.S is not in the record"},
		{"no detail type", map[string]string{"detail": "{}", "source": "s"}, "parameter DetailType: $.dynamodb.NewImage.detailType.S"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := p.entry(record(t, "INSERT", "OUTBOX#1", tt.image))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("entry: %v, want %q", err, tt.want)
			}
		})
	}
}

// Templates follow AWS's documented rules for strings, objects, quotes and
// reserved variables.
func TestInputTemplates(t *testing.T) {
	t.Parallel()
	doc := map[string]any{}
	if err := decodeJSON([]byte(`{"body":{"key":"value","n":2},"s":"text","arr":[{"S":"a"},{"S":"b"}],"num":12.50,"yes":true}`), &doc); err != nil {
		t.Fatal(err)
	}
	vars := pipeVars{name: "P", arn: "arn:aws:pipes:eu-west-1:0:pipe/P", ingestionTime: "2026-12-06T01:02:03Z", event: []byte(`{"a":1}`)}
	tests := []struct {
		name, template, want string
	}{
		{"static string", "Hello, sender", "Hello, sender"},
		{"one path to a string: the string as it is", "<$.s>", "text"},
		{"dynamic string", "Hello, <$.s>", "Hello, text"},
		{"object in text loses its quotes", "Body is <$.body>", "Body is {key:value,n:2}"},
		{"JSON: string variable quoted", `{"a": <$.s>}`, `{"a": "text"}`},
		{"JSON: string variable in quotes", `{"a": "<$.s>!"}`, `{"a": "text!"}`},
		{"JSON: object as JSON", `{"b": <$.body>}`, `{"b": {"key":"value","n":2}}`},
		{"JSON: number as written", `{"n": <$.num>, "y": <$.yes>}`, `{"n": 12.50, "y": true}`},
		{"array index", `{"x": <$.arr[1].S>}`, `{"x": "b"}`},
		{"array index as a name", `{"x": <$.arr.0.S>}`, `{"x": "a"}`},
		{"reserved variables", `{"p": <aws.pipes.pipe-name>, "a": <aws.pipes.pipe-arn>, "t": <aws.pipes.event.ingestion-time>}`,
			`{"p": "P", "a": "arn:aws:pipes:eu-west-1:0:pipe/P", "t": "2026-12-06T01:02:03Z"}`},
		{"the event as JSON", `{"e": <aws.pipes.event.json>}`, `{"e": {"a":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, err := parseInputTemplate(tt.template)
			if err != nil {
				t.Fatal(err)
			}
			got, err := in.render(doc, vars)
			if err != nil || got != tt.want {
				t.Fatalf("render = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// A dynamic parameter must be a whole path to a string.
func TestParameters(t *testing.T) {
	t.Parallel()
	doc := map[string]any{}
	if err := decodeJSON([]byte(`{"a":{"s":"x","n":1}}`), &doc); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{"$.a.s": "x", "static": "static", "x $.a.s": "x $.a.s"} {
		p, err := parseParameter(in)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := p.value(doc); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", in, got, err, want)
		}
	}
	p, _ := parseParameter("$.a.n")
	if _, err := p.value(doc); err == nil || !strings.Contains(err.Error(), "is a number, not a string") {
		t.Errorf("a number for a string parameter: %v", err)
	}
}

// The checkpoint file keeps one stream's positions and drops another's.
func TestCheckpointFile(t *testing.T) {
	t.Parallel()
	f := checkpointFile{path: filepath.Join(t.TempDir(), "sub", "P.checkpoints.json")}
	cp, stale, err := f.load("s1")
	if err != nil || stale || len(cp.Shards) != 0 {
		t.Fatalf("empty load: %v %v %v", cp, stale, err)
	}
	cp.Shards["sh"] = checkpoint{Sequence: "42"}
	if err := f.save(cp); err != nil {
		t.Fatal(err)
	}
	again, stale, err := f.load("s1")
	if err != nil || stale || !maps.Equal(again.Shards, cp.Shards) {
		t.Fatalf("reload: %v %v %v", again, stale, err)
	}
	other, stale, err := f.load("s2")
	if err != nil || !stale || len(other.Shards) != 0 {
		t.Fatalf("another stream: %v %v %v", other, stale, err)
	}
}
