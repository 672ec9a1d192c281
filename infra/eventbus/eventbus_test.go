package eventbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/ocpro/upgrade/infra/eventbus"
	"github.com/ocpro/upgrade/infra/template"
)

// fakeInvoker records invocations and answers from a script: the i-th call
// to a function gets the i-th outcome, and the last outcome repeats.
type fakeInvoker struct {
	mu       sync.Mutex
	calls    []call
	outcomes map[string][]outcome
}

type call struct {
	function string
	event    []byte
}

type outcome struct {
	out []byte
	err error
}

func (f *fakeInvoker) Invoke(_ context.Context, function string, event []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.function == function {
			n++
		}
	}
	f.calls = append(f.calls, call{function: function, event: event})
	script := f.outcomes[function]
	if len(script) == 0 {
		return []byte("null"), nil
	}
	o := script[min(n, len(script)-1)]
	return o.out, o.err
}

func (f *fakeInvoker) callsTo(function string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.function == function {
			out = append(out, c)
		}
	}
	return out
}

var (
	quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))
	fixedNow = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
)

func invitationRule(maxRetries int) template.Rule {
	return template.Rule{
		Function: "InvitationEmailFunction",
		Event:    "InvitationMail",
		Bus:      "ocpro-bus",
		Pattern: map[string]any{
			"source":      []any{"ocpro.upgrades"},
			"detail-type": []any{"Invitation Created", "Invitation Mail Requested"},
		},
		MaxRetries: maxRetries,
		MaxAgeSecs: 3600,
	}
}

func sweepSchedule() template.Schedule {
	return template.Schedule{
		Function:   "InvitationRemindersFunction",
		Event:      "Sweep",
		Name:       "ocpro-reminder-sweep",
		Expression: "rate(15 minutes)",
		MaxRetries: 2,
	}
}

// newBus starts a bus behind a test server and returns an EventBridge
// client for it.
func newBus(t *testing.T, cfg eventbus.Config) (*eventbus.Bus, *eventbridge.Client, string) {
	t.Helper()
	cfg.Log = quietLog
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return fixedNow }
	}
	if cfg.RetryBase == 0 {
		cfg.RetryBase, cfg.RetryMax = time.Millisecond, 4*time.Millisecond
	}
	bus, err := eventbus.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(bus)
	t.Cleanup(func() {
		srv.Close()
		if err := bus.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	client := eventbridge.New(eventbridge.Options{
		Region:           "eu-west-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local", ""),
		RetryMaxAttempts: 1,
	})
	return bus, client, srv.URL
}

func drain(t *testing.T, bus *eventbus.Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
}

func TestPutEventsDeliversTheEventBridgeEnvelope(t *testing.T) {
	t.Parallel()
	inv := &fakeInvoker{}
	bus, client, _ := newBus(t, eventbus.Config{Rules: []template.Rule{invitationRule(0)}, Invoker: inv})

	sent := time.Date(2026, 3, 1, 9, 0, 5, 0, time.UTC)
	out, err := client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
		Source:       aws.String("ocpro.upgrades"),
		DetailType:   aws.String("Invitation Created"),
		Detail:       aws.String(`{"invitationId": "inv-1", "attempt": 1}`),
		EventBusName: aws.String("arn:aws:events:eu-west-1:000000000000:event-bus/ocpro-bus"),
		Resources:    []string{"arn:aws:dynamodb:eu-west-1:000000000000:table/Table"},
		Time:         aws.Time(sent),
	}}})
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	if out.FailedEntryCount != 0 || len(out.Entries) != 1 || aws.ToString(out.Entries[0].EventId) == "" {
		t.Fatalf("PutEvents = %d failed, entries %+v; want one event id", out.FailedEntryCount, out.Entries)
	}
	drain(t, bus)

	calls := inv.callsTo("InvitationEmailFunction")
	if len(calls) != 1 {
		t.Fatalf("got %d invocations, want 1", len(calls))
	}
	var got map[string]any
	if err := json.Unmarshal(calls[0].event, &got); err != nil {
		t.Fatalf("event is not JSON: %v", err)
	}
	want := map[string]any{
		"version":     "0",
		"id":          aws.ToString(out.Entries[0].EventId),
		"detail-type": "Invitation Created",
		"source":      "ocpro.upgrades",
		"account":     "000000000000",
		"time":        "2026-03-01T09:00:05Z",
		"region":      "eu-west-1",
		"resources":   []any{"arn:aws:dynamodb:eu-west-1:000000000000:table/Table"},
		"detail":      map[string]any{"invitationId": "inv-1", "attempt": float64(1)},
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("envelope\n got %s\nwant %s", gotJSON, wantJSON)
	}
	if len(bus.DeadLetters()) != 0 {
		t.Errorf("dead letters: %+v", bus.DeadLetters())
	}
}

func TestPutEventsRouting(t *testing.T) {
	t.Parallel()
	mailDelivery := template.Rule{
		Function: "InvitationEmailFunction", Event: "MailDelivery", Bus: "default",
		Pattern: map[string]any{"source": []any{"aws.ses"}},
	}
	tests := []struct {
		name      string
		entry     types.PutEventsRequestEntry
		wantRules []string // rules whose function must be invoked
	}{
		{
			name:      "custom bus by name",
			entry:     types.PutEventsRequestEntry{Source: aws.String("ocpro.upgrades"), DetailType: aws.String("Invitation Mail Requested"), Detail: aws.String(`{}`), EventBusName: aws.String("ocpro-bus")},
			wantRules: []string{"InvitationMail"},
		},
		{
			name:  "matching event on another bus",
			entry: types.PutEventsRequestEntry{Source: aws.String("ocpro.upgrades"), DetailType: aws.String("Invitation Created"), Detail: aws.String(`{}`)},
		},
		{
			name:      "default bus when no name",
			entry:     types.PutEventsRequestEntry{Source: aws.String("aws.ses"), DetailType: aws.String("Email Delivered"), Detail: aws.String(`{}`)},
			wantRules: []string{"MailDelivery"},
		},
		{
			name:  "no rule matches",
			entry: types.PutEventsRequestEntry{Source: aws.String("ocpro.upgrades"), DetailType: aws.String("Invitation Revoked"), Detail: aws.String(`{}`), EventBusName: aws.String("ocpro-bus")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := &fakeInvoker{}
			bus, client, _ := newBus(t, eventbus.Config{Rules: []template.Rule{invitationRule(0), mailDelivery}, Invoker: inv})
			out, err := client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{tt.entry}})
			if err != nil || out.FailedEntryCount != 0 {
				t.Fatalf("PutEvents: %v, %+v", err, out)
			}
			drain(t, bus)
			if got := len(inv.callsTo("InvitationEmailFunction")); got != len(tt.wantRules) {
				t.Errorf("got %d invocations, want %d (%v)", got, len(tt.wantRules), tt.wantRules)
			}
		})
	}
}

func TestPutEventsEntryErrors(t *testing.T) {
	t.Parallel()
	inv := &fakeInvoker{}
	bus, client, _ := newBus(t, eventbus.Config{Rules: []template.Rule{invitationRule(0)}, Buses: []string{"ocpro-bus"}, Invoker: inv})
	entry := func(source, detailType, detail, busName string) types.PutEventsRequestEntry {
		e := types.PutEventsRequestEntry{EventBusName: aws.String(busName)}
		if source != "" {
			e.Source = aws.String(source)
		}
		if detailType != "" {
			e.DetailType = aws.String(detailType)
		}
		if detail != "" {
			e.Detail = aws.String(detail)
		}
		return e
	}
	tests := []struct {
		name     string
		entry    types.PutEventsRequestEntry
		wantCode string // "" for an accepted entry
	}{
		{"valid entry", entry("ocpro.upgrades", "Invitation Created", `{"a":1}`, "ocpro-bus"), ""},
		{"missing source", entry("", "Invitation Created", `{}`, "ocpro-bus"), "InvalidArgument"},
		{"missing detail type", entry("ocpro.upgrades", "", `{}`, "ocpro-bus"), "InvalidArgument"},
		{"missing detail", entry("ocpro.upgrades", "Invitation Created", "", "ocpro-bus"), "InvalidArgument"},
		{"detail not JSON", entry("ocpro.upgrades", "Invitation Created", `{"a":`, "ocpro-bus"), "MalformedDetail"},
		{"detail an array", entry("ocpro.upgrades", "Invitation Created", `[1,2]`, "ocpro-bus"), "MalformedDetail"},
		{"detail a string", entry("ocpro.upgrades", "Invitation Created", `"text"`, "ocpro-bus"), "MalformedDetail"},
		{"detail null", entry("ocpro.upgrades", "Invitation Created", `null`, "ocpro-bus"), "MalformedDetail"},
		{"unknown bus", entry("ocpro.upgrades", "Invitation Created", `{}`, "nobody-bus"), "ResourceNotFoundException"},
		{"default bus exists", entry("ocpro.upgrades", "Invitation Created", `{}`, "default"), ""},
	}
	in := &eventbridge.PutEventsInput{}
	for _, tt := range tests {
		in.Entries = append(in.Entries, tt.entry)
	}
	out, err := client.PutEvents(context.Background(), in)
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	if len(out.Entries) != len(tests) {
		t.Fatalf("got %d result entries, want %d", len(out.Entries), len(tests))
	}
	failed := 0
	for i, tt := range tests {
		res := out.Entries[i]
		if got := aws.ToString(res.ErrorCode); got != tt.wantCode {
			t.Errorf("%s: ErrorCode = %q, want %q", tt.name, got, tt.wantCode)
		}
		if tt.wantCode == "" && aws.ToString(res.EventId) == "" {
			t.Errorf("%s: no EventId for an accepted entry", tt.name)
		}
		if tt.wantCode != "" {
			failed++
			if aws.ToString(res.ErrorMessage) == "" || res.EventId != nil {
				t.Errorf("%s: failed entry %+v, want a message and no EventId", tt.name, res)
			}
		}
	}
	if int(out.FailedEntryCount) != failed {
		t.Errorf("FailedEntryCount = %d, want %d", out.FailedEntryCount, failed)
	}
	drain(t, bus)
	if got := len(inv.callsTo("InvitationEmailFunction")); got != 1 {
		t.Errorf("got %d invocations, want 1 for the one valid entry on ocpro-bus", got)
	}
}

func TestPutEventsRequestErrors(t *testing.T) {
	t.Parallel()
	_, client, _ := newBus(t, eventbus.Config{Invoker: &fakeInvoker{}})
	valid := types.PutEventsRequestEntry{Source: aws.String("s"), DetailType: aws.String("d"), Detail: aws.String(`{}`)}
	big := valid
	big.Detail = aws.String(`{"blob":"` + strings.Repeat("x", 256<<10) + `"}`)
	tests := []struct {
		name    string
		entries []types.PutEventsRequestEntry
	}{
		{"eleven entries", make11(valid)},
		{"over 256 KB", []types.PutEventsRequestEntry{big}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: tt.entries})
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
				t.Errorf("PutEvents error = %v, want ValidationException", err)
			}
		})
	}
}

func make11(e types.PutEventsRequestEntry) []types.PutEventsRequestEntry {
	out := make([]types.PutEventsRequestEntry, 11)
	for i := range out {
		out[i] = e
	}
	return out
}

func putInvitationCreated(t *testing.T, client *eventbridge.Client) string {
	t.Helper()
	out, err := client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
		Source: aws.String("ocpro.upgrades"), DetailType: aws.String("Invitation Created"),
		Detail: aws.String(`{"invitationId":"inv-1"}`), EventBusName: aws.String("ocpro-bus"),
	}}})
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("PutEvents: %v %+v", err, out)
	}
	return aws.ToString(out.Entries[0].EventId)
}

func TestDeliveryRetries(t *testing.T) {
	t.Parallel()
	boom := outcome{err: errors.New("connection refused")}
	fnErr := outcome{out: []byte(`{"errorType":"MailError","errorMessage":"SES throttled"}`)}
	ok := outcome{out: []byte(`null`)}
	tests := []struct {
		name          string
		maxRetries    int
		script        []outcome
		wantCalls     int
		wantDead      bool
		wantErrorText string
	}{
		{name: "first attempt succeeds", maxRetries: 3, script: []outcome{ok}, wantCalls: 1},
		{name: "succeeds on the third attempt", maxRetries: 3, script: []outcome{boom, fnErr, ok}, wantCalls: 3},
		{name: "invoke errors exhaust retries", maxRetries: 2, script: []outcome{boom}, wantCalls: 3, wantDead: true, wantErrorText: "connection refused"},
		{name: "function errors exhaust retries", maxRetries: 1, script: []outcome{fnErr}, wantCalls: 2, wantDead: true, wantErrorText: "SES throttled"},
		{name: "no retries", maxRetries: 0, script: []outcome{boom, ok}, wantCalls: 1, wantDead: true, wantErrorText: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := &fakeInvoker{outcomes: map[string][]outcome{"InvitationEmailFunction": tt.script}}
			bus, client, _ := newBus(t, eventbus.Config{Rules: []template.Rule{invitationRule(tt.maxRetries)}, Invoker: inv})
			id := putInvitationCreated(t, client)
			drain(t, bus)

			calls := inv.callsTo("InvitationEmailFunction")
			if len(calls) != tt.wantCalls {
				t.Errorf("got %d invocations, want %d", len(calls), tt.wantCalls)
			}
			for i, c := range calls[1:] {
				if string(c.event) != string(calls[0].event) {
					t.Errorf("retry %d sent another event than the first attempt", i+1)
				}
			}
			dead := bus.DeadLetters()
			if !tt.wantDead {
				if len(dead) != 0 {
					t.Errorf("dead letters = %+v, want none", dead)
				}
				return
			}
			if len(dead) != 1 {
				t.Fatalf("got %d dead letters, want 1", len(dead))
			}
			d := dead[0]
			var env struct{ ID string }
			if err := json.Unmarshal(d.Event, &env); err != nil || env.ID != id {
				t.Errorf("dead letter event id %q (%v), want %q", env.ID, err, id)
			}
			if d.Rule != "InvitationEmailFunction.InvitationMail" || d.Function != "InvitationEmailFunction" || d.Attempts != tt.wantCalls {
				t.Errorf("dead letter %+v: want rule InvitationEmailFunction.InvitationMail, %d attempts", d, tt.wantCalls)
			}
			if !strings.Contains(d.Error, tt.wantErrorText) {
				t.Errorf("dead letter error %q does not mention %q", d.Error, tt.wantErrorText)
			}
		})
	}
}

func TestDeliveryRespectsMaximumEventAge(t *testing.T) {
	t.Parallel()
	inv := &fakeInvoker{outcomes: map[string][]outcome{"InvitationEmailFunction": {{err: errors.New("down")}}}}
	r := invitationRule(100)
	r.MaxAgeSecs = 1
	// Every retry would wait at least 2s, past the 1s the event may live.
	bus, client, _ := newBus(t, eventbus.Config{Rules: []template.Rule{r}, Invoker: inv, RetryBase: 4 * time.Second, RetryMax: 4 * time.Second})
	putInvitationCreated(t, client)
	drain(t, bus)
	dead := bus.DeadLetters()
	if len(dead) != 1 || dead[0].Attempts != 1 || !strings.Contains(dead[0].Error, "maximum event age") {
		t.Fatalf("dead letters = %+v, want one after 1 attempt for its age", dead)
	}
}

// blockingInvoker holds every invocation until release is closed.
type blockingInvoker struct {
	started chan struct{}
	release chan struct{}
}

func (b *blockingInvoker) Invoke(ctx context.Context, _ string, _ []byte) ([]byte, error) {
	b.started <- struct{}{}
	select {
	case <-b.release:
		return []byte("null"), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestDrainWaitsForDeliveries(t *testing.T) {
	t.Parallel()
	inv := &blockingInvoker{started: make(chan struct{}, 1), release: make(chan struct{})}
	bus, client, _ := newBus(t, eventbus.Config{Rules: []template.Rule{invitationRule(0)}, Invoker: inv})
	putInvitationCreated(t, client)
	<-inv.started

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := bus.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain with a delivery in flight = %v, want DeadlineExceeded", err)
	}
	close(inv.release)
	drain(t, bus)
}

func TestTrigger(t *testing.T) {
	t.Parallel()
	failing := template.Schedule{Function: "BrokenFunction", Event: "Tick", Expression: "cron(0 3 * * ? *)"}
	inv := &fakeInvoker{outcomes: map[string][]outcome{"BrokenFunction": {{out: []byte(`{"errorType":"Panic","errorMessage":"nil map"}`)}}}}
	bus, _, _ := newBus(t, eventbus.Config{Schedules: []template.Schedule{sweepSchedule(), failing}, Invoker: inv})
	ctx := context.Background()

	tests := []struct {
		name     string
		schedule string
		function string
		wantErr  error
		wantRule string
	}{
		{name: "by schedule name", schedule: "ocpro-reminder-sweep", function: "InvitationRemindersFunction", wantRule: "ocpro-reminder-sweep"},
		{name: "by Function.Event", schedule: "InvitationRemindersFunction.Sweep", function: "InvitationRemindersFunction", wantRule: "ocpro-reminder-sweep"},
		{name: "unnamed schedule by Function.Event", schedule: "BrokenFunction.Tick", function: "BrokenFunction", wantRule: "BrokenFunctionTick", wantErr: errors.New("nil map")},
		{name: "unknown schedule", schedule: "nope", wantErr: eventbus.ErrUnknownSchedule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(inv.callsTo(tt.function))
			err := bus.Trigger(ctx, tt.schedule)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("Trigger: %v", err)
			case errors.Is(tt.wantErr, eventbus.ErrUnknownSchedule):
				if !errors.Is(err, eventbus.ErrUnknownSchedule) {
					t.Fatalf("Trigger error = %v, want ErrUnknownSchedule", err)
				}
				return
			case tt.wantErr != nil && (err == nil || !strings.Contains(err.Error(), tt.wantErr.Error())):
				t.Fatalf("Trigger error = %v, want one mentioning %q", err, tt.wantErr)
			}
			calls := inv.callsTo(tt.function)
			if len(calls) != before+1 {
				t.Fatalf("Trigger made %d invocations, want exactly 1", len(calls)-before)
			}
			var env map[string]any
			if err := json.Unmarshal(calls[len(calls)-1].event, &env); err != nil {
				t.Fatal(err)
			}
			wantARN := "arn:aws:events:eu-west-1:000000000000:rule/" + tt.wantRule
			if env["source"] != "aws.events" || env["detail-type"] != "Scheduled Event" || env["time"] != "2026-03-01T09:30:00Z" {
				t.Errorf("scheduled event %v: want source aws.events, detail-type Scheduled Event, time of Now", env)
			}
			if d, ok := env["detail"].(map[string]any); !ok || len(d) != 0 {
				t.Errorf("detail = %v, want {}", env["detail"])
			}
			if r, ok := env["resources"].([]any); !ok || len(r) != 1 || r[0] != wantARN {
				t.Errorf("resources = %v, want [%s]", env["resources"], wantARN)
			}
		})
	}
}

func TestControlSurface(t *testing.T) {
	t.Parallel()
	failing := template.Schedule{Function: "BrokenFunction", Event: "Tick", Expression: "rate(1 day)"}
	inv := &fakeInvoker{outcomes: map[string][]outcome{
		"BrokenFunction":          {{err: errors.New("crashed")}},
		"InvitationEmailFunction": {{err: errors.New("down")}},
	}}
	_, client, url := newBus(t, eventbus.Config{
		Rules:     []template.Rule{invitationRule(1)},
		Schedules: []template.Schedule{sweepSchedule(), failing},
		Invoker:   inv,
	})
	putInvitationCreated(t, client)

	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantBody   string // a fragment of the body
	}{
		{"trigger a schedule", http.MethodPost, "/_local/schedules/ocpro-reminder-sweep/trigger", http.StatusOK, `"status":"delivered"`},
		{"trigger a failing schedule", http.MethodPost, "/_local/schedules/BrokenFunction.Tick/trigger", http.StatusBadGateway, "crashed"},
		{"trigger an unknown schedule", http.MethodPost, "/_local/schedules/nope/trigger", http.StatusNotFound, "unknown schedule"},
		{"drain", http.MethodPost, "/_local/drain?timeout=10s", http.StatusNoContent, ""},
		{"dead letters after drain", http.MethodGet, "/_local/dead-letters", http.StatusOK, `"rule":"InvitationEmailFunction.InvitationMail"`},
		{"bad drain timeout", http.MethodPost, "/_local/drain?timeout=soon", http.StatusBadRequest, "timeout"},
		{"unknown local path", http.MethodGet, "/_local/nothing", http.StatusNotFound, ""},
	}
	// Sequential: the dead letter only exists once the drain has run.
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, url+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.wantStatus || !strings.Contains(string(body), tt.wantBody) {
			t.Errorf("%s: got %d %s, want %d with %q", tt.name, resp.StatusCode, body, tt.wantStatus, tt.wantBody)
		}
	}
}

func TestUnsupportedOperation(t *testing.T) {
	t.Parallel()
	_, client, _ := newBus(t, eventbus.Config{Invoker: &fakeInvoker{}})
	_, err := client.ListRules(context.Background(), &eventbridge.ListRulesInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnknownOperationException" {
		t.Errorf("ListRules error = %v, want UnknownOperationException", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	badPattern := invitationRule(0)
	badPattern.Pattern = map[string]any{"source": "not-an-array"}
	badSchedule := sweepSchedule()
	badSchedule.Expression = "rate(1 minutes)"
	tests := []struct {
		name string
		cfg  eventbus.Config
	}{
		{"no invoker", eventbus.Config{}},
		{"bad pattern", eventbus.Config{Invoker: &fakeInvoker{}, Rules: []template.Rule{badPattern}}},
		{"empty pattern", eventbus.Config{Invoker: &fakeInvoker{}, Rules: []template.Rule{{Function: "F", Event: "E"}}}},
		{"bad schedule", eventbus.Config{Invoker: &fakeInvoker{}, Schedules: []template.Schedule{badSchedule}}},
		{"duplicate schedule names", eventbus.Config{Invoker: &fakeInvoker{}, Schedules: []template.Schedule{sweepSchedule(), sweepSchedule()}}},
		{"retry cap below base", eventbus.Config{Invoker: &fakeInvoker{}, RetryBase: time.Second, RetryMax: time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := eventbus.New(tt.cfg); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}

func TestTemplateRulesCompile(t *testing.T) {
	t.Parallel()
	tpl, err := template.Load("../../template.yaml", template.Options{Parameters: map[string]string{
		"JwtIssuer": "https://issuer.local", "JwtAudience": "portal", "PublicBaseUrl": "http://127.0.0.1",
		"SenderAddress": "noreply@example.net", "MailDomain": "example.net",
		"EntraClientId": "client", "EntraCredentialSecretArn": "arn:secret", "LinkKeySecretArn": "arn:secret2",
	}})
	if err != nil {
		t.Fatalf("template.Load: %v", err)
	}
	if len(tpl.Rules) == 0 || len(tpl.Schedules) == 0 {
		t.Fatalf("template has %d rules and %d schedules, want some of each", len(tpl.Rules), len(tpl.Schedules))
	}
	if _, err := eventbus.New(eventbus.Config{Rules: tpl.Rules, Schedules: tpl.Schedules, Buses: tpl.Buses, Invoker: &fakeInvoker{}}); err != nil {
		t.Fatalf("New with the template's rules and schedules: %v", err)
	}
}
