// Package quota limits how often one caller may do something: at most
// Limit times in each fixed Window, counted per key (an operator), so that
// one caller cannot use up what another is given. The count lives in a
// Counter (DynamoDB in this package, see Dynamo), so that every container
// of a function sees the same count.
package quota

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ocpro/upgrade/internal/fault"
)

// Rule is a limit per fixed window. A zero Limit means no limit.
type Rule struct {
	Limit  int
	Window time.Duration
}

// Counter adds one to the count of key in the window that starts at start
// unless the count has reached limit; it reports whether it added. The
// count may be forgotten after expires.
type Counter interface {
	Add(ctx context.Context, key string, start time.Time, limit int, expires time.Time) (bool, error)
}

// Clock tells the time.
type Clock interface{ Now() time.Time }

// Limiter applies one Rule to the keys of one scope.
type Limiter struct {
	counter Counter
	clock   Clock
	scope   string
	rule    Rule
	detail  string
}

// New returns a Limiter for scope; detail is what a refused caller reads.
func New(c Counter, clock Clock, scope string, r Rule, detail string) (*Limiter, error) {
	switch {
	case c == nil:
		return nil, errors.New("quota: nil Counter")
	case clock == nil:
		return nil, errors.New("quota: nil Clock")
	case scope == "":
		return nil, errors.New("quota: empty scope")
	case r.Limit < 0 || r.Limit > 0 && r.Window < time.Second:
		return nil, fmt.Errorf("quota: rule %d per %v: the window must be a second or more", r.Limit, r.Window)
	}
	return &Limiter{counter: c, clock: clock, scope: scope, rule: r, detail: detail}, nil
}

// Take counts one use by key. Beyond the limit it returns a TooManyRequests
// fault whose RetryAfter is the time left in the window; a counter that
// cannot be reached is Unavailable, because letting the request through
// would lift the limit for whoever breaks the counter.
func (l *Limiter) Take(ctx context.Context, key string) error {
	if l.rule.Limit == 0 {
		return nil
	}
	now := l.clock.Now()
	start := now.Truncate(l.rule.Window)
	end := start.Add(l.rule.Window)
	ok, err := l.counter.Add(ctx, l.scope+"#"+key, start, l.rule.Limit, end.Add(time.Hour))
	if err != nil {
		return fault.Transient(fmt.Errorf("quota %s: %w", l.scope, err), "The request cannot be counted right now; try again shortly.")
	}
	if !ok {
		return fault.TooMany(end.Sub(now), l.detail)
	}
	return nil
}
