package store

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/infra/pipe"
	"github.com/ocpro/upgrade/infra/template"
	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/notify"
	"github.com/ocpro/upgrade/internal/upgrade"
)

var update = flag.Bool("update", false, "rewrite the golden events in events/ from what the outbox carries")

// goldenCase is one event as a use case announces it (the domain's own
// constructor of its detail), with the id its sample keeps; file is where
// the sample lives: events/<receiving function>/, or events/bus/ for events
// no function of this stack receives.
type goldenCase struct {
	file    string
	id      string
	account string
	at      string
	detail  event.Detail
}

var goldenCases = []goldenCase{
	{file: "invitationemail/invitation-created.json", id: "0b6f2c1e-8a4d-4c3b-9e7f-1a2b3c4d5e01", account: "000000000000", at: "2026-11-29T17:40:00Z",
		detail: upgrade.InvitationCreatedEvent(upgrade.Upgrade{ID: "u1", OperatorID: "op-1", CustomerID: "c1",
			Service: upgrade.Service{ID: "s1"}, Invitation: upgrade.Invitation{ID: "01jexampleinvitation"}})},
	{file: "invitationemail/invitation-mail-requested.json", id: "0b6f2c1e-8a4d-4c3b-9e7f-1a2b3c4d5e02", account: "000000000000", at: "2026-11-29T17:40:00Z",
		detail: upgrade.MailRequestedEvent(upgrade.MailRequest{InvitationID: "01jexampleinvitation", OperatorID: "op-1",
			Generation: 1, Mail: upgrade.ReminderMail(1)})},
	{file: "invitationemail/test-mail-requested.json", id: "0b6f2c1e-8a4d-4c3b-9e7f-1a2b3c4d5e03", account: "000000000000", at: "2026-11-29T17:45:00Z",
		detail: notify.TestMailRequestedEvent(notify.TestMail{OperatorID: "op-1", To: "it-admin@contoso.com", RequestID: "Jx1AbCdEfGhIjK="})},
	{file: "tokenvalidation/authentication-completed.json", id: "7f3c9a12-4b6e-4d2a-9c1e-0a5b8d7e6f41", account: "123456789012", at: "2026-03-01T09:12:00Z",
		detail: upgrade.AuthenticationCompletedEvent(upgrade.Invitation{ID: "1k9e3w5l7n9q1s3u5x7z9b1d3f", OperatorID: "live-platform",
			CustomerID: "0j8d2v4k6m8p0r2t4w6y8a0c2e", UpgradeID: "2m0f4x6m8o0r2t4v6y8a0c2e4g", ServiceID: "3n1g5y7n9p1s3u5w7z9b1d3f5h"},
			"72f988bf-86f1-41af-91ab-2d7cd011db47")},
	{file: "bus/service-upgraded.json", id: "0b6f2c1e-8a4d-4c3b-9e7f-1a2b3c4d5e04", account: "000000000000", at: "2026-11-30T10:05:00Z",
		detail: upgrade.ServiceUpgradedEvent(upgrade.Upgrade{ID: "u1", OperatorID: "op-1", CustomerID: "c1"},
			upgrade.Service{ID: "s1", License: upgrade.Pro, LicensedUsers: 25}, "72f988bf-86f1-41af-91ab-2d7cd011db47")},
	{file: "bus/invitation-expired.json", id: "0b6f2c1e-8a4d-4c3b-9e7f-1a2b3c4d5e05", account: "000000000000", at: "2026-12-06T17:45:00Z",
		detail: upgrade.InvitationExpiredEvent(upgrade.Invitation{ID: "01jexampleinvitation", OperatorID: "op-1", CustomerID: "c1",
			UpgradeID: "u1", ServiceID: "s1", AdminEmail: "it-admin@contoso.com", Status: upgrade.InvitationExpired})},
}

// loadPipe is the EventOutbox pipe of template.yaml as the local stack
// runs it (infra/pipe): its filter, input template and dynamic Source and
// DetailType, with one reading of AWS's rules for all of them.
func loadPipe(t *testing.T) *pipe.Definition {
	t.Helper()
	tp, err := template.Load(filepath.Join("..", "..", "template.yaml"), template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, ok := tp.Resources["EventOutbox"]
	if !ok {
		t.Fatal("template.yaml has no EventOutbox pipe")
	}
	d, err := pipe.Parse("EventOutbox", res.Properties)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// streamJSON is an item as a stream record's image holds it: DynamoDB
// JSON, as the pipe reads it.
func streamJSON(t *testing.T, item map[string]types.AttributeValue) map[string]any {
	t.Helper()
	out := map[string]any{}
	for k, v := range item {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			out[k] = map[string]any{"S": v.Value}
		case *types.AttributeValueMemberN:
			out[k] = map[string]any{"N": v.Value}
		default:
			t.Fatalf("outbox attribute %s is a %T; the pipe reads strings", k, v)
		}
	}
	return out
}

// deliver is what the pipe puts on the bus for the outbox item of m: the
// item as the store writes it, in the stream record of its insert, shaped
// by the template's input template and dynamic parameters.
func deliver(t *testing.T, p *pipe.Definition, m event.Message) (source, detailType string, detail []byte) {
	t.Helper()
	item, err := attributevalue.MarshalMap(toOutboxRecord(m, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	record, err := json.Marshal(map[string]any{"eventName": "INSERT", "dynamodb": map[string]any{
		"Keys":     map[string]any{"PK": map[string]any{"S": outboxPK(m.ID)}, "SK": map[string]any{"S": OutboxSK}},
		"NewImage": streamJSON(t, item)}})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Filter(record); err != nil || !ok {
		t.Fatalf("the pipe's filter drops the outbox item: %v, %v", ok, err)
	}
	e, err := p.Render(record)
	if err != nil {
		t.Fatal(err)
	}
	return e.Source, e.DetailType, []byte(e.Detail)
}

// TestGoldenEvents writes every event the service sends to the outbox as
// the store does, delivers it as the template's pipe does, and compares
// the event, as EventBridge hands it to a rule's target, with its sample
// in events/, which the receivers' tests feed to their real handlers. A
// change of what an event carries fails here until the sample is
// rewritten with go test ./internal/store -run TestGoldenEvents -update,
// and the receivers' tests then say whether they still read it.
func TestGoldenEvents(t *testing.T) {
	t.Parallel()
	p := loadPipe(t)
	covered := map[event.Type]bool{}
	for _, tc := range goldenCases {
		covered[tc.detail.Type()] = true
		t.Run(tc.detail.Type().DetailType, func(t *testing.T) {
			t.Parallel()
			m, err := event.MessageWithID(tc.id, tc.detail)
			if err != nil {
				t.Fatal(err)
			}
			source, detailType, detail := deliver(t, p, m)
			want := tc.detail.Type()
			if source != want.Source || detailType != want.DetailType {
				t.Fatalf("delivered %s / %s, want %s / %s", source, detailType, want.Source, want.DetailType)
			}
			// The detail decodes as its type, with every field the sender
			// wrote known to the type, and carries its event id.
			fresh := reflect.New(reflect.TypeOf(tc.detail).Elem()).Interface().(event.Detail)
			if err := event.Decode(detail, fresh); err != nil {
				t.Fatal(err)
			}
			again, err := event.Encode(fresh)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, detail, again) {
				t.Errorf("the detail holds what its type does not:\nput     %s\ndecoded %s", detail, again)
			}
			if got := event.IdempotencyKey(source, "envelope", detail); got != tc.id {
				t.Errorf("the receivers' key is %q, want the event id %q", got, tc.id)
			}

			at, err := time.Parse(time.RFC3339, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			// The envelope id is EventBridge's, new for every delivery;
			// the samples keep one fixed.
			got, err := json.MarshalIndent(events.CloudWatchEvent{Version: "0", ID: envelopeID(tc.id), DetailType: detailType,
				Source: source, AccountID: tc.account, Time: at, Region: "eu-west-1", Resources: []string{}, Detail: detail}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("..", "..", "events", filepath.FromSlash(tc.file))
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/store -run TestGoldenEvents -update to write it)", err)
			}
			if !bytes.Equal(golden, got) {
				t.Errorf("the delivered event differs from %s (if the change is intended and additive, run go test ./internal/store -run TestGoldenEvents -update):\ngot\n%s\nwant\n%s",
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

// envelopeID is a sample's envelope id: another UUID than the event id,
// as EventBridge gives every delivery its own.
func envelopeID(eventID string) string {
	return fmt.Sprintf("e%s", eventID[1:])
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
