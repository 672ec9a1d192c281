package pipe

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"gopkg.in/yaml.v3"

	"github.com/ocpro/upgrade/infra/dynamolocal"
	"github.com/ocpro/upgrade/infra/eventbus"
	"github.com/ocpro/upgrade/infra/template"
	"github.com/ocpro/upgrade/infra/testenv"
)

// The integration tests run the template's pipe shape against DynamoDB
// Local's stream and a local bus whose one rule sends every event of the
// test's source to a recording target. Nothing here waits on the clock: a
// test waits for what it expects, bounded by its context.

const (
	testBus    = "B"
	testSource = "ocpro.test"
	// childEnv makes the test binary run a pipe as a child process, to be
	// killed (see TestMain).
	childEnv = "OCPRO_PIPE_TEST_CHILD"
)

// TestMain runs the child pipe of the kill tests when asked to.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

// recorder is the bus's target: it keeps every event it was invoked with.
type recorder struct {
	mu     sync.Mutex
	events []envelope
	notify chan struct{}
}

type envelope struct {
	ID         string          `json:"id"`
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
}

func (r *recorder) Invoke(_ context.Context, _ string, event []byte) ([]byte, error) {
	var e envelope
	if err := json.Unmarshal(event, &e); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return []byte(`null`), nil
}

func (r *recorder) all() []envelope {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]envelope(nil), r.events...)
}

// waitFor waits until the recorder holds n events.
func (r *recorder) waitFor(t *testing.T, n int) []envelope {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for {
		if got := r.all(); len(got) >= n {
			return got
		}
		select {
		case <-r.notify:
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("waiting for %d events, got %d: %+v", n, len(r.all()), r.all())
		}
	}
}

// env is one test's table, stream client, bus and state folder.
type env struct {
	db       *dynamodb.Client
	table    string
	endpoint string
	bus      *eventbus.Bus
	busURL   string
	rec      *recorder
	puts     *putRecorder
	state    string
}

// putRecorder records, in order, the entries the test's pipes put on the
// bus: the bus delivers each event on its own, in no set order, as
// EventBridge does, so the pipe's order shows only here.
type putRecorder struct {
	mu      sync.Mutex
	next    Bus
	eventID []string
}

func (r *putRecorder) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	// Held across the call: the bus hands events on before PutEvents
	// answers, and a test that saw one must find it recorded.
	r.mu.Lock()
	defer r.mu.Unlock()
	out, err := r.next.PutEvents(ctx, in, opts...)
	if err != nil {
		return out, err
	}
	for i, e := range in.Entries {
		if i < len(out.Entries) && out.Entries[i].ErrorCode == nil {
			var d struct {
				EventID string `json:"eventId"`
			}
			_ = json.Unmarshal([]byte(aws.ToString(e.Detail)), &d)
			r.eventID = append(r.eventID, d.EventID)
		}
	}
	return out, nil
}

func (r *putRecorder) ids() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.eventID, ",")
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db, table := testenv.DynamoDB(t)
	rec := &recorder{notify: make(chan struct{}, 1)}
	bus, err := eventbus.New(eventbus.Config{
		Rules: []template.Rule{{Function: "Target", Event: "All", Bus: testBus,
			Pattern: map[string]any{"source": []any{testSource}}, MaxRetries: 0}},
		Buses:   []string{testBus},
		Invoker: rec,
		Log:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(bus)
	t.Cleanup(func() { bus.Close(); srv.Close() })
	return &env{db: db, table: table, endpoint: testenv.DynamoDBEndpoint(t), bus: bus, busURL: srv.URL, rec: rec, puts: &putRecorder{}, state: t.TempDir()}
}

// definition is the template's pipe shape for a table, with edits.
func definition(table string, maxRetries int) (*Definition, error) {
	var m map[string]any
	if err := yaml.Unmarshal([]byte(base), &m); err != nil {
		return nil, err
	}
	m["Source"] = "arn:aws:dynamodb:eu-west-1:000000000000:table/" + table + "/stream/local"
	m["Target"] = "arn:aws:events:eu-west-1:000000000000:event-bus/" + testBus
	m["SourceParameters"].(map[string]any)["DynamoDBStreamParameters"].(map[string]any)["MaximumRetryAttempts"] = maxRetries
	return Parse("EventOutbox", m)
}

// start runs a pipe of the env until the test ends or the returned stop is
// called; Run's error is sent on the channel.
func (e *env) start(t *testing.T, maxRetries int, hooks Hooks) (*Pipe, func() error) {
	t.Helper()
	p, err := e.newPipe(t.Context(), maxRetries, hooks, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	var runErr error
	stop := func() error {
		if !stopped {
			cancel()
			runErr, stopped = <-done, true
		}
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return p, stop
}

func (e *env) newPipe(ctx context.Context, maxRetries int, hooks Hooks, log *slog.Logger) (*Pipe, error) {
	d, err := definition(e.table, maxRetries)
	if err != nil {
		return nil, err
	}
	streams, err := dynamolocal.NewStreamsClient(ctx, e.endpoint)
	if err != nil {
		return nil, err
	}
	client, err := NewBusClient(ctx, e.busURL, "eu-west-1")
	if err != nil {
		return nil, err
	}
	var bus Bus = client
	var dead DeadLetters
	if e.bus != nil { // in the test process, not in a child
		dead = e.bus
		e.puts.mu.Lock()
		e.puts.next = client // every pipe of a test puts through the same client shape
		e.puts.mu.Unlock()
		bus = e.puts
	}
	return New(Config{Definition: d, Streams: streams, Bus: bus, DeadLetters: dead, StateDir: e.state,
		Log: log, Poll: 20 * time.Millisecond, RetryBase: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, Hooks: hooks})
}

// writeOutbox writes one outbox item as the product does: PK OUTBOX#<id>,
// its source, detail type and detail, and a TTL a day ahead.
func (e *env) writeOutbox(t *testing.T, id, detailType, detail string) {
	t.Helper()
	_, err := e.db.TransactWriteItems(t.Context(), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
		Put: &types.Put{
			TableName: aws.String(e.table),
			Item: map[string]types.AttributeValue{
				"PK":         &types.AttributeValueMemberS{Value: "OUTBOX#" + id},
				"SK":         &types.AttributeValueMemberS{Value: "OUTBOX"},
				"source":     &types.AttributeValueMemberS{Value: testSource},
				"detailType": &types.AttributeValueMemberS{Value: detailType},
				"detail":     &types.AttributeValueMemberS{Value: detail},
				"ttl":        &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(24*time.Hour).Unix(), 10)},
			},
			ConditionExpression: aws.String("attribute_not_exists(PK)"),
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
}

func eventDetail(id string, n int) string {
	return fmt.Sprintf(`{"eventId":%q,"n":%d}`, id, n)
}

func eventIDOf(t *testing.T, e envelope) string {
	t.Helper()
	var d struct {
		EventID string `json:"eventId"`
	}
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		t.Fatal(err)
	}
	return d.EventID
}

// Outbox items become events with the item's source, detail type and
// detail, in the order they were written; everything else in the table's
// stream is dropped: other items, changes, deletions (a TTL deletion is a
// REMOVE record like any other).
func TestOutboxItemsArriveAsEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 3 {
		e.writeOutbox(t, fmt.Sprintf("id-%d", i), "Thing Happened", eventDetail(fmt.Sprintf("id-%d", i), i))
	}
	// Not outbox items, or not new ones.
	put := func(pk string) {
		if _, err := e.db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(e.table), Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: "X"},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	put("INV#1")
	if _, err := e.db.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{TableName: aws.String(e.table),
		Key:              map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "OUTBOX#id-0"}, "SK": &types.AttributeValueMemberS{Value: "OUTBOX"}},
		UpdateExpression: aws.String("SET detailType = :d"), ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberS{Value: "Changed"}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: aws.String(e.table),
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "OUTBOX#id-1"}, "SK": &types.AttributeValueMemberS{Value: "OUTBOX"}},
	}); err != nil {
		t.Fatal(err)
	}
	e.writeOutbox(t, "id-3", "Last Thing", eventDetail("id-3", 3))

	p, _ := e.start(t, 3, Hooks{})
	<-p.CaughtUp()
	if err := e.bus.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := e.puts.ids(); got != "id-0,id-1,id-2,id-3" {
		t.Fatalf("put on the bus: %s, want id-0 to id-3 in order", got)
	}
	got := map[string]envelope{}
	for _, ev := range e.rec.all() {
		got[eventIDOf(t, ev)] = ev
	}
	if len(got) != 4 || len(e.rec.all()) != 4 {
		t.Fatalf("want 4 events, got %+v", e.rec.all())
	}
	for i := range 4 {
		id := fmt.Sprintf("id-%d", i)
		wantType := "Thing Happened"
		if i == 3 {
			wantType = "Last Thing"
		}
		if ev := got[id]; ev.Source != testSource || ev.DetailType != wantType || string(ev.Detail) != eventDetail(id, i) {
			t.Errorf("event %s: %s / %s / %s", id, ev.Source, ev.DetailType, ev.Detail)
		}
	}
	if s := p.Stats(); s.Delivered != 4 || s.Filtered != 3 || s.DeadLettered != 0 {
		t.Errorf("stats %+v, want 4 delivered and 3 filtered", s)
	}
}

// Within a shard the events keep the order of the writes, across batches.
func TestOrderWithinAShard(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 25 // three batches of at most 10
	for i := range n {
		e.writeOutbox(t, fmt.Sprintf("id-%02d", i), "Ordered", eventDetail(fmt.Sprintf("id-%02d", i), i))
	}
	p, _ := e.start(t, 3, Hooks{})
	<-p.CaughtUp()
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("id-%02d", i))
	}
	if got := e.puts.ids(); got != strings.Join(want, ",") {
		t.Fatalf("put on the bus in the order %s", got)
	}
	// WaitIdle returns only once what was written before it is on the bus.
	e.writeOutbox(t, "late", "Ordered", eventDetail("late", n))
	if err := p.WaitIdle(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := e.puts.ids(); got != strings.Join(append(want, "late"), ",") {
		t.Fatalf("after WaitIdle, put on the bus: %s", got)
	}
}

// A second pipe started after the first stopped goes on from the
// checkpoint: what was delivered is not delivered again, what came later
// is delivered.
func TestSecondPipeResumesFromTheCheckpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeOutbox(t, "a", "First", eventDetail("a", 1))
	p, stop := e.start(t, 3, Hooks{})
	<-p.CaughtUp()
	e.rec.waitFor(t, 1)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	e.writeOutbox(t, "b", "Second", eventDetail("b", 2))
	p2, _ := e.start(t, 3, Hooks{})
	<-p2.CaughtUp()
	if err := e.bus.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := e.puts.ids(); got != "a,b" {
		t.Fatalf("put on the bus: %s, want a then b, once each", got)
	}
	if got := e.rec.all(); len(got) != 2 {
		t.Fatalf("events %+v, want 2", got)
	}
}

// A pipe that crashes before it delivers a batch delivers it when it
// starts again.
func TestCrashBeforeDeliveryDeliversOnRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeOutbox(t, "a", "First", eventDetail("a", 1))
	crash := errors.New("crashed")
	reached := make(chan struct{})
	_, stop := e.start(t, 3, Hooks{BeforeDeliver: func(string, string) error { close(reached); return crash }})
	<-reached
	if err := stop(); !errors.Is(err, crash) {
		t.Fatalf("Run: %v", err)
	}
	if got := e.rec.all(); len(got) != 0 {
		t.Fatalf("delivered before the crash point: %+v", got)
	}
	p2, _ := e.start(t, 3, Hooks{})
	<-p2.CaughtUp()
	if err := e.bus.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := e.rec.all(); len(got) != 1 || eventIDOf(t, got[0]) != "a" {
		t.Fatalf("events %+v, want a once", got)
	}
}

// A pipe killed (SIGKILL) after delivering a batch and before writing its
// checkpoint delivers the batch again when it starts again, as AWS's pipe
// does after a failure: the same detail (and eventId), a new envelope id.
// Receivers key their idempotency on the detail's eventId for this reason.
func TestKilledBeforeCheckpointRedelivers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeOutbox(t, "a", "First", eventDetail("a", 1))
	e.writeOutbox(t, "b", "Second", eventDetail("b", 2))

	e.runChildUntilKilled(t, "checkpoint")
	e.rec.waitFor(t, 2) // the child's deliveries

	p, _ := e.start(t, 3, Hooks{})
	<-p.CaughtUp()
	e.writeOutbox(t, "c", "Third", eventDetail("c", 3))
	e.rec.waitFor(t, 5)
	if err := e.bus.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := e.puts.ids(); got != "a,b,c" {
		t.Fatalf("the restarted pipe put %s, want the unacknowledged a,b again, then c", got)
	}
	byID := map[string][]envelope{}
	for _, ev := range e.rec.all() {
		byID[eventIDOf(t, ev)] = append(byID[eventIDOf(t, ev)], ev)
	}
	if len(byID["a"]) != 2 || len(byID["b"]) != 2 || len(byID["c"]) != 1 || len(e.rec.all()) != 5 {
		t.Fatalf("events %+v, want a and b twice, c once", byID)
	}
	for _, id := range []string{"a", "b"} {
		first, again := byID[id][0], byID[id][1]
		if first.ID == again.ID {
			t.Errorf("redelivery of %s kept the envelope id %s; EventBridge gives every PutEvents entry a new one", id, first.ID)
		}
		if string(first.Detail) != string(again.Detail) {
			t.Errorf("redelivery of %s changed the detail: %s, then %s", id, first.Detail, again.Detail)
		}
	}
}

// A pipe killed before it delivers delivers everything once on restart.
func TestKilledBeforeDeliveryDeliversOnRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeOutbox(t, "a", "First", eventDetail("a", 1))
	e.runChildUntilKilled(t, "deliver")
	if got := e.rec.all(); len(got) != 0 {
		t.Fatalf("delivered before the kill point: %+v", got)
	}
	p, _ := e.start(t, 3, Hooks{})
	<-p.CaughtUp()
	if err := e.bus.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := e.rec.all(); len(got) != 1 || eventIDOf(t, got[0]) != "a" {
		t.Fatalf("events %+v, want a once", got)
	}
}

// runChildUntilKilled runs a pipe of this env in a child process that stops
// at point ("deliver" or "checkpoint") of its first batch, then kills it
// with SIGKILL.
func (e *env) runChildUntilKilled(t *testing.T, point string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1",
		"CHILD_ENDPOINT="+e.endpoint, "CHILD_TABLE="+e.table, "CHILD_BUS="+e.busURL,
		"CHILD_STATE="+e.state, "CHILD_POINT="+point)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	reached := false
	for lines.Scan() {
		if strings.HasPrefix(lines.Text(), "at "+point) {
			reached = true
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, out)
	_ = cmd.Wait()
	if !reached {
		t.Fatalf("the child pipe never reached %s", point)
	}
}

// runChild is the child process of runChildUntilKilled: a pipe whose hook
// says where it is and then waits to be killed.
func runChild() int {
	e := &env{endpoint: os.Getenv("CHILD_ENDPOINT"), table: os.Getenv("CHILD_TABLE"),
		busURL: os.Getenv("CHILD_BUS"), state: os.Getenv("CHILD_STATE")}
	point := os.Getenv("CHILD_POINT")
	wait := func(at string) func(string, string) error {
		return func(shard, seq string) error {
			if at == point {
				fmt.Printf("at %s %s %s\n", at, shard, seq)
				select {} // until killed
			}
			return nil
		}
	}
	p, err := e.newPipe(context.Background(), 3, Hooks{BeforeDeliver: wait("deliver"), BeforeCheckpoint: wait("checkpoint")},
		slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := p.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// A batch the bus keeps refusing is retried MaximumRetryAttempts times,
// then goes to the dead-letter queue, and the pipe goes on with the next
// records: the checkpoint moves past it, as AWS's does.
func TestRefusedBatchIsRetriedThenDeadLettered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeOutbox(t, "bad", "Bad", `"not an object"`) // PutEvents: MalformedDetail
	p, _ := e.start(t, 2, Hooks{})
	<-p.CaughtUp()
	e.writeOutbox(t, "good", "Good", eventDetail("good", 1))
	got := e.rec.waitFor(t, 1)
	if eventIDOf(t, got[0]) != "good" {
		t.Fatalf("events %+v", got)
	}
	dead := e.bus.DeadLetters()
	if len(dead) != 1 || dead[0].Rule != "EventOutbox" || dead[0].Attempts != 3 || !strings.Contains(dead[0].Error, "MalformedDetail") {
		t.Fatalf("dead letters %+v, want the bad batch after 1 + 2 attempts", dead)
	}
	var info struct {
		Batch struct {
			ShardID   string `json:"shardId"`
			StartSeq  string `json:"startSequenceNumber"`
			BatchSize int    `json:"batchSize"`
		} `json:"DDBStreamBatchInfo"`
	}
	if err := json.Unmarshal(dead[0].Event, &info); err != nil || info.Batch.ShardID == "" || info.Batch.StartSeq == "" || info.Batch.BatchSize != 1 {
		t.Errorf("dead letter %s (%v): want the batch's shard and sequence numbers", dead[0].Event, err)
	}
	if got := e.puts.ids(); got != "good" {
		t.Errorf("put on the bus: %s", got)
	}
}
