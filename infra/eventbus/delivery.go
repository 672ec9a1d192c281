package eventbus

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// deliver invokes one target with one event until it succeeds, retrying
// with exponential backoff and jitter. An event that still fails after the
// target's retries, or that would outlive its maximum age, becomes a dead
// letter.
func (b *Bus) deliver(t target, id string, event []byte, received time.Time) {
	defer b.done()
	for attempt := 1; ; attempt++ {
		err := b.invoke(b.ctx, t.function, event)
		if err == nil {
			b.log.Debug("eventbus: delivered", "rule", t.rule, "id", id, "attempt", attempt)
			return
		}
		if b.ctx.Err() != nil {
			b.log.Warn("eventbus: bus closed, delivery abandoned", "rule", t.rule, "id", id)
			return
		}
		if attempt > t.maxRetries {
			b.deadLetter(t, id, event, attempt, err)
			return
		}
		delay := b.backoff(attempt)
		if t.maxAge > 0 && b.now().Add(delay).Sub(received) > t.maxAge {
			b.deadLetter(t, id, event, attempt, fmt.Errorf("maximum event age %v reached: %w", t.maxAge, err))
			return
		}
		b.log.Warn("eventbus: delivery failed, will retry", "rule", t.rule, "id", id,
			"attempt", attempt, "retryIn", delay, "err", err)
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-b.ctx.Done():
			timer.Stop()
			b.log.Warn("eventbus: bus closed, delivery abandoned", "rule", t.rule, "id", id)
			return
		}
	}
}

// backoff returns the delay before retry number attempt: the base doubled
// per attempt, capped, with the upper half jittered so that retries of many
// events spread out.
func (b *Bus) backoff(attempt int) time.Duration {
	d := b.retryMax
	if shift := attempt - 1; shift < 30 && b.retryBase<<shift < b.retryMax {
		d = b.retryBase << shift
	}
	return d/2 + rand.N(d/2+1)
}

func (b *Bus) deadLetter(t target, id string, event []byte, attempts int, err error) {
	b.log.Error("eventbus: event dead-lettered", "rule", t.rule, "function", t.function,
		"id", id, "attempts", attempts, "err", err)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dead = append(b.dead, DeadLetter{
		Rule:     t.rule,
		Function: t.function,
		Event:    json.RawMessage(event),
		Attempts: attempts,
		Error:    err.Error(),
		At:       b.now(),
	})
}

// invoke runs the function once. A function error counts as a failure
// whether the Invoker reports it as an error or passes on the Lambda
// runtime's {"errorType", "errorMessage"} payload, as the runtime interface
// emulator does.
func (b *Bus) invoke(ctx context.Context, function string, event []byte) error {
	out, err := b.invoker.Invoke(ctx, function, event)
	if err != nil {
		return fmt.Errorf("invoke %s: %w", function, err)
	}
	var fe struct {
		Type    string `json:"errorType"`
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal(out, &fe) == nil && (fe.Type != "" || fe.Message != "") {
		return fmt.Errorf("invoke %s: function error %s: %s", function, fe.Type, fe.Message)
	}
	return nil
}

// Trigger fires a schedule now, named by its Name or as "Function.Event",
// and invokes its function once, synchronously, returning the outcome. It
// does not retry: the caller sees the first failure.
func (b *Bus) Trigger(ctx context.Context, name string) error {
	s := b.schedule(name)
	if s == nil {
		return fmt.Errorf("%w: %q", ErrUnknownSchedule, name)
	}
	b.begin()
	defer b.done()
	event, err := json.Marshal(b.scheduledEvent(s, b.now()))
	if err != nil {
		return fmt.Errorf("eventbus: encode scheduled event: %w", err)
	}
	if err := b.invoke(ctx, s.Function, event); err != nil {
		return fmt.Errorf("eventbus: schedule %s: %w", s.name, err)
	}
	return nil
}

func (b *Bus) schedule(name string) *scheduled {
	for _, s := range b.schedules {
		if name == s.name || name == s.Function+"."+s.Event {
			return s
		}
	}
	return nil
}

// scheduledEvent is the event EventBridge sends for a schedule firing.
func (b *Bus) scheduledEvent(s *scheduled, at time.Time) envelope {
	arn := fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", b.region, b.account, s.name)
	return b.newEnvelope("aws.events", "Scheduled Event", json.RawMessage(`{}`), []string{arn}, at)
}

// Run fires the schedules until ctx ends, then returns nil. A rate schedule
// first fires one interval after Run starts; a cron schedule at its next
// matching minute (UTC). Each firing is delivered like any other event, with
// the schedule's retries. Missed firings are not caught up.
func (b *Bus) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, s := range b.schedules {
		wg.Go(func() { b.runSchedule(ctx, s) })
	}
	wg.Wait()
	return nil
}

func (b *Bus) runSchedule(ctx context.Context, s *scheduled) {
	at, ok := s.every.next(b.now())
	for ok {
		timer := time.NewTimer(at.Sub(b.now()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		env := b.scheduledEvent(s, at)
		event, err := json.Marshal(env)
		if err != nil {
			b.log.Error("eventbus: encode scheduled event", "schedule", s.name, "err", err)
			return
		}
		t := target{
			rule:       s.Function + "." + s.Event,
			function:   s.Function,
			maxRetries: s.MaxRetries,
			maxAge:     defaultMaxAge,
		}
		b.log.Info("eventbus: schedule fired", "schedule", s.name, "id", env.ID)
		b.begin()
		go b.deliver(t, env.ID, event, b.now())

		// After a late wake-up, skip to the first firing still ahead.
		next, more := s.every.next(at)
		for more && !next.After(b.now()) {
			next, more = s.every.next(next)
		}
		at, ok = next, more
	}
	b.log.Info("eventbus: schedule never fires again", "schedule", s.name)
}
