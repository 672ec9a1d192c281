// Package eventbus is a local stand-in for Amazon EventBridge. It accepts
// PutEvents from the functions' real eventbridge client over the AWS JSON 1.1
// protocol (AWS_ENDPOINT_URL_EVENTBRIDGE), matches each event against the
// rules of template.yaml with the EventBridge pattern language, and delivers
// it to the target functions asynchronously, with retries and dead letters
// as EventBridge does. It also fires the template's schedules.
//
// Besides the AWS API at "/", a Bus serves a small control surface for the
// local stack and its tests under /_local/: trigger a schedule, list dead
// letters, wait for deliveries to finish.
package eventbus

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ocpro/upgrade/infra/template"
)

// Invoker runs a function of the stack with an event and returns its output.
// function is the function's logical id in template.yaml.
type Invoker interface {
	Invoke(ctx context.Context, function string, event []byte) ([]byte, error)
}

// Config is what a Bus needs. Invoker is required; the rest has defaults.
type Config struct {
	Rules     []template.Rule
	Schedules []template.Schedule
	// Buses names the custom event buses that exist. When it is set, events
	// for a bus that is neither listed, nor "default", nor named by a rule are
	// refused as AWS refuses them; when it is nil, every bus name is accepted.
	Buses   []string
	Invoker Invoker
	// Region and AccountID go into events and ARNs; they default to the
	// local template's eu-west-1 and 000000000000.
	Region, AccountID string
	Log               *slog.Logger
	// RetryBase is the first retry delay (default 200ms); each retry doubles
	// it, up to RetryMax (default 5s), so that a local run never waits the
	// minutes EventBridge would.
	RetryBase, RetryMax time.Duration
	// Now tells the time of events and their age; it defaults to time.Now.
	Now func() time.Time
}

// DeadLetter is an event whose target still failed after its retries, or
// outlived the rule's maximum event age.
type DeadLetter struct {
	// Rule is Function.Event in template.yaml, or the logical id of the
	// pipe whose records these are.
	Rule     string          `json:"rule"`
	Function string          `json:"function"`
	Event    json.RawMessage `json:"event"`
	Attempts int             `json:"attempts"`
	Error    string          `json:"error"`
	At       time.Time       `json:"at"`
}

// ErrUnknownSchedule is returned by Trigger for a schedule the bus lacks.
var ErrUnknownSchedule = errors.New("eventbus: unknown schedule")

// Bus is a local EventBridge. Create it with New; it is safe for concurrent
// use.
type Bus struct {
	invoker             Invoker
	log                 *slog.Logger
	region, account     string
	retryBase, retryMax time.Duration
	now                 func() time.Time
	rules               map[string][]*rule // by bus name
	buses               map[string]bool    // nil: any bus is accepted
	schedules           []*scheduled
	mux                 *http.ServeMux

	// ctx bounds asynchronous deliveries; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	pending int           // deliveries in flight or waiting to retry
	idle    chan struct{} // closed while pending is zero
	dead    []DeadLetter
}

// rule is a template rule with its compiled pattern.
type rule struct {
	template.Rule
	pattern *node
}

// scheduled is a template schedule with its parsed expression.
type scheduled struct {
	template.Schedule
	name  string // the rule name: Schedule.Name, or Function+Event
	every schedule
}

// target is where one event goes and how hard the bus tries.
type target struct {
	rule, function string
	maxRetries     int
	maxAge         time.Duration
}

const (
	defaultRegion  = "eu-west-1"
	defaultAccount = "000000000000"
	// defaultMaxAge is EventBridge's own limit; the template reader does not
	// give schedules one.
	defaultMaxAge = 24 * time.Hour
)

// New checks cfg, compiles every rule's pattern and parses every schedule.
func New(cfg Config) (*Bus, error) {
	if cfg.Invoker == nil {
		return nil, errors.New("eventbus: Invoker is required")
	}
	b := &Bus{
		invoker:   cfg.Invoker,
		log:       cfg.Log,
		region:    orDefault(cfg.Region, defaultRegion),
		account:   orDefault(cfg.AccountID, defaultAccount),
		retryBase: cfg.RetryBase,
		retryMax:  cfg.RetryMax,
		now:       cfg.Now,
		rules:     map[string][]*rule{},
		idle:      make(chan struct{}),
	}
	close(b.idle)
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.retryBase <= 0 {
		b.retryBase = 200 * time.Millisecond
	}
	if b.retryMax <= 0 {
		b.retryMax = 5 * time.Second
	}
	if b.retryMax < b.retryBase {
		return nil, fmt.Errorf("eventbus: RetryMax %v is less than RetryBase %v", b.retryMax, b.retryBase)
	}
	if b.now == nil {
		b.now = time.Now
	}
	for _, r := range cfg.Rules {
		p, err := compilePattern(r.Pattern)
		if err != nil {
			return nil, fmt.Errorf("eventbus: rule %s.%s: %w", r.Function, r.Event, err)
		}
		bus := orDefault(r.Bus, "default")
		b.rules[bus] = append(b.rules[bus], &rule{Rule: r, pattern: p})
	}
	if cfg.Buses != nil {
		b.buses = map[string]bool{"default": true}
		for _, name := range cfg.Buses {
			b.buses[name] = true
		}
		for name := range b.rules {
			b.buses[name] = true
		}
	}
	names := map[string]bool{}
	for _, s := range cfg.Schedules {
		every, err := parseSchedule(s.Expression)
		if err != nil {
			return nil, fmt.Errorf("eventbus: schedule %s.%s: %w", s.Function, s.Event, err)
		}
		name := orDefault(s.Name, s.Function+s.Event)
		if names[name] {
			return nil, fmt.Errorf("eventbus: two schedules are named %q", name)
		}
		names[name] = true
		b.schedules = append(b.schedules, &scheduled{Schedule: s, name: name, every: every})
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())

	b.mux = http.NewServeMux()
	b.mux.HandleFunc("POST /{$}", b.serveAWS)
	b.mux.HandleFunc("POST /_local/schedules/{name}/trigger", b.serveTrigger)
	b.mux.HandleFunc("GET /_local/dead-letters", b.serveDeadLetters)
	b.mux.HandleFunc("POST /_local/drain", b.serveDrain)
	return b, nil
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ServeHTTP serves the EventBridge API (POST /) and the local control
// surface (/_local/).
func (b *Bus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mux.ServeHTTP(w, r)
}

// Close stops retries and deliveries in flight and waits for them to end.
// Events not yet delivered are dropped, not dead-lettered.
func (b *Bus) Close() error {
	b.cancel()
	return b.Drain(context.Background())
}

// Drain waits until no delivery is in flight or waiting to retry, or until
// ctx ends.
func (b *Bus) Drain(ctx context.Context) error {
	for {
		b.mu.Lock()
		idle, pending := b.idle, b.pending
		b.mu.Unlock()
		if pending == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("eventbus: drain: %d deliveries pending: %w", pending, ctx.Err())
		}
	}
}

// DeadLetters returns the events that could not be delivered, oldest first.
func (b *Bus) DeadLetters() []DeadLetter {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]DeadLetter, len(b.dead))
	copy(out, b.dead)
	return out
}

// begin counts a delivery as pending; done ends it.
func (b *Bus) begin() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == 0 {
		b.idle = make(chan struct{})
	}
	b.pending++
}

func (b *Bus) done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending--
	if b.pending == 0 {
		close(b.idle)
	}
}

// envelope is an event as EventBridge hands it to a target.
type envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

func (b *Bus) newEnvelope(source, detailType string, detail json.RawMessage, resources []string, at time.Time) envelope {
	if resources == nil {
		resources = []string{}
	}
	return envelope{
		Version:    "0",
		ID:         newUUID(),
		DetailType: detailType,
		Source:     source,
		Account:    b.account,
		Time:       at.UTC().Format(time.RFC3339),
		Region:     b.region,
		Resources:  resources,
		Detail:     detail,
	}
}

// newUUID returns a random (version 4) UUID, the shape of EventBridge ids.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails.
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// publish matches an event against the rules of its bus and starts one
// asynchronous delivery per matching rule.
func (b *Bus) publish(bus string, env envelope) error {
	raw, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // literal numbers in patterns match as written
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	received := b.now()
	matched := 0
	for _, r := range b.rules[bus] {
		if !r.pattern.match(doc) {
			continue
		}
		matched++
		t := target{
			rule:       r.Function + "." + r.Event,
			function:   r.Function,
			maxRetries: r.MaxRetries,
			maxAge:     time.Duration(r.MaxAgeSecs) * time.Second,
		}
		b.begin()
		go b.deliver(t, env.ID, raw, received)
	}
	b.log.Debug("eventbus: event accepted", "bus", bus, "id", env.ID, "source", env.Source,
		"detailType", env.DetailType, "matchedRules", matched)
	return nil
}
