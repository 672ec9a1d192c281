package template

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocpro/upgrade/internal/event"
)

// Every route, rule and schedule of the template has a sample event in
// events/<function>/, as API Gateway or EventBridge would deliver it, so
// that handler tests and people can replay each trigger.
func TestEveryTriggerHasASampleEvent(t *testing.T) {
	t.Parallel()
	tp := load(t)
	type sample struct {
		RouteKey   string          `json:"routeKey"`
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Detail     json.RawMessage `json:"detail"`
	}
	samples := map[string][]sample{} // function logical id -> its samples
	for id := range tp.Functions {
		dir := filepath.Join("..", "..", "events", strings.TrimPrefix(FunctionDir(id), "./functions/"))
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var s sample
			if err := json.Unmarshal(b, &s); err != nil {
				t.Errorf("%s is not a JSON event: %v", f, err)
				continue
			}
			samples[id] = append(samples[id], s)
		}
	}
	has := func(fn string, ok func(sample) bool) bool {
		for _, s := range samples[fn] {
			if ok(s) {
				return true
			}
		}
		return false
	}
	for _, r := range tp.Routes {
		if !has(r.Function, func(s sample) bool { return s.RouteKey == r.RouteKey() }) {
			t.Errorf("no sample event in events/ for %s (%s)", r.RouteKey(), r.Function)
		}
	}
	for _, r := range tp.Rules {
		sources, _ := r.Pattern["source"].([]any)
		types, _ := r.Pattern["detail-type"].([]any)
		for _, src := range sources {
			for _, dt := range types {
				if !has(r.Function, func(s sample) bool { return s.Source == src && s.DetailType == dt }) {
					t.Errorf("no sample event in events/ for %s %q (%s)", src, dt, r.Function)
				}
			}
		}
	}
	for _, sc := range tp.Schedules {
		if !has(sc.Function, func(s sample) bool { return s.Source == "aws.events" && s.DetailType == "Scheduled Event" }) {
			t.Errorf("no Scheduled Event sample for %s's schedule %s", sc.Function, sc.Event)
		}
	}
}

// TestRulesMatchTheEventDefinitions: every source and detail type of the
// service's own events (ocpro.*) that a rule of template.yaml matches is
// an event defined in internal/event, so that a typo on either side cannot
// leave a function deaf to an event its sender puts.
func TestRulesMatchTheEventDefinitions(t *testing.T) {
	t.Parallel()
	tp := load(t)
	defined := map[[2]string]bool{}
	for _, d := range event.All() {
		ty := d.Type()
		defined[[2]string{ty.Source, ty.DetailType}] = true
	}
	n := 0
	for _, r := range tp.Rules {
		sources, _ := r.Pattern["source"].([]any)
		types, _ := r.Pattern["detail-type"].([]any)
		for _, src := range sources {
			if !strings.HasPrefix(src.(string), "ocpro.") {
				continue
			}
			for _, dt := range types {
				n++
				if !defined[[2]string{src.(string), dt.(string)}] {
					t.Errorf("rule %s of %s matches %s / %s, which internal/event does not define", r.Event, r.Function, src, dt)
				}
			}
		}
	}
	if n == 0 {
		t.Error("no rule matches the service's own events; the check would pass vacuously")
	}
}
