package eventbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ocpro/upgrade/infra/eventbus"
	"github.com/ocpro/upgrade/infra/template"
)

// TestRunFiresSchedules runs the schedules on synctest's fake clock, which
// starts at 2000-01-01 00:00 UTC, so hours pass at once and exactly.
func TestRunFiresSchedules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		daily := template.Schedule{Function: "DailyFunction", Event: "Noon", Expression: "cron(0 12 * * ? *)"}
		failing := template.Schedule{Function: "BrokenFunction", Event: "Hourly", Expression: "rate(1 hour)", MaxRetries: 2}
		inv := &fakeInvoker{outcomes: map[string][]outcome{"BrokenFunction": {{err: errors.New("down")}}}}
		bus, err := eventbus.New(eventbus.Config{
			Schedules: []template.Schedule{sweepSchedule(), daily, failing},
			Invoker:   inv,
			Log:       quietLog,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- bus.Run(ctx) }()

		time.Sleep(61 * time.Minute)
		synctest.Wait()
		if got := firingTimes(t, inv.callsTo("InvitationRemindersFunction")); !slices.Equal(got, []string{
			"2000-01-01T00:15:00Z", "2000-01-01T00:30:00Z", "2000-01-01T00:45:00Z", "2000-01-01T01:00:00Z",
		}) {
			t.Errorf("rate(15 minutes) fired at %v", got)
		}
		if got := inv.callsTo("DailyFunction"); len(got) != 0 {
			t.Errorf("cron(0 12 * * ? *) fired %d times before noon", len(got))
		}

		time.Sleep(36 * time.Hour)
		synctest.Wait()
		if got := firingTimes(t, inv.callsTo("DailyFunction")); !slices.Equal(got, []string{"2000-01-01T12:00:00Z", "2000-01-02T12:00:00Z"}) {
			t.Errorf("cron(0 12 * * ? *) fired at %v", got)
		}

		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil after its context ends", err)
		}
		if err := bus.Drain(t.Context()); err != nil {
			t.Fatal(err)
		}
		// The hourly schedule failed 37 times in the 37 hours, each firing
		// tried three times (two retries) before it was dead-lettered.
		dead := bus.DeadLetters()
		if len(dead) != 37 {
			t.Fatalf("got %d dead letters, want 37", len(dead))
		}
		for _, d := range dead {
			if d.Attempts != 3 || d.Rule != "BrokenFunction.Hourly" {
				t.Errorf("dead letter %+v: want BrokenFunction.Hourly after 3 attempts", d)
			}
		}
		if err := bus.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func firingTimes(t *testing.T, calls []call) []string {
	t.Helper()
	var out []string
	for _, c := range calls {
		var env struct {
			Time   string `json:"time"`
			Source string `json:"source"`
		}
		if err := json.Unmarshal(c.event, &env); err != nil {
			t.Fatal(err)
		}
		if env.Source != "aws.events" {
			t.Errorf("scheduled event source %q, want aws.events", env.Source)
		}
		out = append(out, env.Time)
	}
	return out
}
