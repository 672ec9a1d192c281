package template

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
