package bus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ocpro/upgrade/internal/bus"
	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/notify"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

var update = flag.Bool("update", false, "rewrite the golden events in events/ from what the publishers put")

// goldenCase publishes one event with a real publisher; file is where its
// sample lives: events/<receiving function>/, or events/bus/ for events no
// function of this stack receives.
type goldenCase struct {
	file    string
	detail  event.Detail
	id      string
	account string
	at      string
	publish func(ctx context.Context, up *bus.Publisher, consent *bus.ConsentPublisher) error
}

var goldenCases = []goldenCase{
	{file: "invitationemail/invitation-created.json", detail: &event.InvitationCreated{},
		id: "1", account: "000000000000", at: "2026-11-29T17:40:00Z",
		publish: func(ctx context.Context, p *bus.Publisher, _ *bus.ConsentPublisher) error {
			return p.InvitationCreated(ctx, upgrade.InvitationCreated{InvitationID: "01jexampleinvitation", OperatorID: "op-1",
				CustomerID: "c1", UpgradeID: "u1", ServiceID: "s1"})
		}},
	{file: "invitationemail/invitation-mail-requested.json", detail: &event.InvitationMailRequested{},
		id: "2", account: "000000000000", at: "2026-11-29T17:40:00Z",
		publish: func(ctx context.Context, p *bus.Publisher, _ *bus.ConsentPublisher) error {
			return p.InvitationMailRequested(ctx, upgrade.MailRequest{InvitationID: "01jexampleinvitation", OperatorID: "op-1",
				Generation: 1, Mail: upgrade.ReminderMail(1)})
		}},
	{file: "invitationemail/test-mail-requested.json", detail: &event.TestMailRequested{},
		id: "3", account: "000000000000", at: "2026-11-29T17:45:00Z",
		publish: func(ctx context.Context, p *bus.Publisher, _ *bus.ConsentPublisher) error {
			return p.TestMailRequested(ctx, notify.TestMail{OperatorID: "op-1", To: "it-admin@contoso.com", RequestID: "Jx1AbCdEfGhIjK="})
		}},
	{file: "tokenvalidation/authentication-completed.json", detail: &event.AuthenticationCompleted{},
		id: "7f3c9a12-4b6e-4d2a-9c1e-0a5b8d7e6f41", account: "123456789012", at: "2026-03-01T09:12:00Z",
		publish: func(ctx context.Context, _ *bus.Publisher, p *bus.ConsentPublisher) error {
			return p.AuthenticationCompleted(ctx, wizard.AuthenticationCompleted{InvitationID: "1k9e3w5l7n9q1s3u5x7z9b1d3f",
				OperatorID: "live-platform", CustomerID: "0j8d2v4k6m8p0r2t4w6y8a0c2e", UpgradeID: "2m0f4x6m8o0r2t4v6y8a0c2e4g",
				ServiceID: "3n1g5y7n9p1s3u5w7z9b1d3f5h", TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47"})
		}},
	{file: "bus/service-upgraded.json", detail: &event.ServiceUpgraded{},
		id: "4", account: "000000000000", at: "2026-11-30T10:05:00Z",
		publish: func(ctx context.Context, p *bus.Publisher, _ *bus.ConsentPublisher) error {
			return p.ServiceUpgraded(ctx, upgrade.ServiceUpgraded{OperatorID: "op-1", CustomerID: "c1", UpgradeID: "u1", ServiceID: "s1",
				TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", License: upgrade.Pro, LicensedUsers: 25})
		}},
	{file: "bus/invitation-expired.json", detail: &event.InvitationExpired{},
		id: "5", account: "000000000000", at: "2026-12-06T17:45:00Z",
		publish: func(ctx context.Context, p *bus.Publisher, _ *bus.ConsentPublisher) error {
			return p.InvitationExpired(ctx, upgrade.Invitation{ID: "01jexampleinvitation", OperatorID: "op-1", CustomerID: "c1",
				UpgradeID: "u1", ServiceID: "s1", AdminEmail: "it-admin@contoso.com", Status: upgrade.InvitationExpired})
		}},
}

// TestGoldenEvents publishes every event the service sends and compares it,
// as EventBridge would deliver it, with its sample in events/, which the
// receivers' tests feed to their real handlers. A change of what a
// publisher puts fails here until the sample is rewritten with
// go test ./internal/bus -update, and the receivers' tests then say whether
// they still read it.
func TestGoldenEvents(t *testing.T) {
	t.Parallel()
	covered := map[event.Type]bool{}
	for _, tc := range goldenCases {
		covered[tc.detail.Type()] = true
		t.Run(tc.detail.Type().DetailType, func(t *testing.T) {
			t.Parallel()
			eb := &fakeEB{out: accepted()}
			up, err := bus.NewPublisher(eb, "ocpro-bus")
			if err != nil {
				t.Fatal(err)
			}
			consent, err := bus.NewConsentPublisher(eb, "ocpro-bus")
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.publish(t.Context(), up, consent); err != nil {
				t.Fatal(err)
			}
			entry := eb.got.Entries[0]
			want := tc.detail.Type()
			if aws.ToString(entry.Source) != want.Source || aws.ToString(entry.DetailType) != want.DetailType {
				t.Fatalf("put %s / %s, want %s / %s", aws.ToString(entry.Source), aws.ToString(entry.DetailType), want.Source, want.DetailType)
			}
			// The detail decodes as its type, with every field the
			// publisher wrote known to the type: nothing is lost on the
			// way to a receiver built from the same definition.
			detail := []byte(aws.ToString(entry.Detail))
			if err := event.Decode(detail, tc.detail); err != nil {
				t.Fatal(err)
			}
			again, err := event.Encode(tc.detail)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, detail, again) {
				t.Errorf("the detail holds what its type does not:\nput     %s\ndecoded %s", detail, again)
			}

			at, err := time.Parse(time.RFC3339, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			// The event as EventBridge delivers it to a rule's target:
			// what the publisher put, in the fields EventBridge adds.
			got, err := json.MarshalIndent(events.CloudWatchEvent{Version: "0", ID: tc.id, DetailType: want.DetailType, Source: want.Source,
				AccountID: tc.account, Time: at, Region: "eu-west-1", Resources: []string{}, Detail: detail}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("..", "..", "events", filepath.FromSlash(tc.file))
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/bus -update to write it)", err)
			}
			if !bytes.Equal(golden, got) {
				t.Errorf("the publisher's event differs from %s (if the change is intended and additive, run go test ./internal/bus -update):\ngot\n%s\nwant\n%s",
					tc.file, got, golden)
			}
		})
	}
	for _, d := range event.All() {
		if !covered[d.Type()] {
			t.Errorf("%s has no golden sample in events/; add a case to goldenCases", d.Type().DetailType)
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}
