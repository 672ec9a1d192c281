package gateway

import (
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/template"
)

func TestBucket(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		th    template.Throttle
		at    []time.Duration // request times after t0
		allow []bool
	}{
		{"the burst passes at once, then refusal", template.Throttle{RateLimit: 1, BurstLimit: 3},
			[]time.Duration{0, 0, 0, 0}, []bool{true, true, true, false}},
		{"the rate refills one token a second", template.Throttle{RateLimit: 1, BurstLimit: 1},
			[]time.Duration{0, 500 * time.Millisecond, time.Second, time.Second}, []bool{true, false, true, false}},
		{"refill stops at the burst", template.Throttle{RateLimit: 10, BurstLimit: 2},
			[]time.Duration{time.Hour, time.Hour, time.Hour}, []bool{true, true, false}},
		{"a zero burst refuses everything", template.Throttle{RateLimit: 5, BurstLimit: 0},
			[]time.Duration{0, time.Second}, []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBucket(tt.th, t0)
			for i, d := range tt.at {
				if got := b.take(t0.Add(d)); got != tt.allow[i] {
					t.Errorf("request %d at +%v: allowed %v, want %v", i, d, got, tt.allow[i])
				}
			}
		})
	}
}

// TestThrottledRouteAnswers429 sends a public route's burst and one more
// through the gateway built from template.yaml: the extra request is
// answered 429 with API Gateway's body without reaching the function, other
// routes keep their own buckets, and a second later the route passes again.
func TestThrottledRouteAnswers429(t *testing.T) {
	t.Parallel()
	tpl, err := template.Load("../../template.yaml", template.Options{Parameters: map[string]string{
		"JwtIssuer": "https://issuer.example", "JwtAudience": audience,
	}})
	if err != nil {
		t.Fatal(err)
	}
	th, ok := tpl.ThrottleFor("GET /invite/{token}")
	if !ok || th.BurstLimit < 1 {
		t.Fatalf("GET /invite/{token} has no throttle in template.yaml: %+v", th)
	}
	inv := &fakeInvoker{}
	h, err := New(Config{Routes: tpl.Routes, Authorizer: tpl.Authorizer, Invoker: inv, Log: slog.New(slog.DiscardHandler),
		Throttle: tpl.ThrottleFor})
	if err != nil {
		t.Fatal(err)
	}
	g := h.(*gateway)
	now := time.Now().Add(time.Hour) // after the buckets were filled
	g.now = func() time.Time { return now }
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}
	for i := range th.BurstLimit {
		if w := get("/invite/tok"); w.Code != 200 {
			t.Fatalf("request %d of the burst: %d", i, w.Code)
		}
	}
	w := get("/invite/tok")
	if w.Code != 429 || w.Body.String() != `{"message":"Too Many Requests"}` {
		t.Errorf("over the burst: %d %s, want 429 Too Many Requests", w.Code, w.Body)
	}
	if inv.calls != th.BurstLimit {
		t.Errorf("the function ran %d times, want %d", inv.calls, th.BurstLimit)
	}
	if w := get("/invite/tok/status"); w.Code != 200 {
		t.Errorf("another route: %d, want its own bucket", w.Code)
	}
	now = now.Add(time.Second)
	if w := get("/invite/tok"); w.Code != 200 {
		t.Errorf("a second later: %d, want the refilled tokens to pass", w.Code)
	}
}
