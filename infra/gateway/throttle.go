package gateway

import (
	"math"
	"sync"
	"time"

	"github.com/ocpro/upgrade/infra/template"
)

// bucket is a token bucket: burst tokens, refilled at rate per second, one
// taken per request. API Gateway throttles each route of a stage this way
// (RouteSettings), across all clients.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(th template.Throttle, now time.Time) *bucket {
	b := float64(th.BurstLimit)
	return &bucket{rate: th.RateLimit, burst: b, tokens: b, last: now}
}

// take reports whether a request at now may pass.
func (b *bucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(b.burst, b.tokens+elapsed*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// throttles holds one bucket per throttled route key.
type throttles map[string]*bucket

// newThrottles builds the buckets of routes from throttleFor (nil: none).
func newThrottles(routes []template.Route, throttleFor func(routeKey string) (template.Throttle, bool), now time.Time) throttles {
	t := throttles{}
	if throttleFor == nil {
		return t
	}
	for _, r := range routes {
		if th, ok := throttleFor(r.RouteKey()); ok {
			t[r.RouteKey()] = newBucket(th, now)
		}
	}
	return t
}

// allow reports whether a request of routeKey at now may pass.
func (t throttles) allow(routeKey string, now time.Time) bool {
	b, ok := t[routeKey]
	return !ok || b.take(now)
}
