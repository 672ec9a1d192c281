package e2e

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/infra/dynamolocal"
	"github.com/ocpro/upgrade/infra/pipe"
	"github.com/ocpro/upgrade/internal/event"
)

// The outbox tests write outbox items straight into the table, as the
// functions' transactions do, and kill the local pipe (template.yaml's
// EventOutbox) mid-way: the receiving function's effect still follows,
// once. They restart the stack's one pipe, so they do not run in parallel.

const outboxPipe = "EventOutbox"

// writeOutboxItem writes d as an outbox item of the contract's shape, with
// a fresh eventId in its detail, and returns that id.
func writeOutboxItem(t *testing.T, d event.Detail, withID func(id string) event.Detail) string {
	t.Helper()
	id := newEventID()
	detail, err := event.Encode(withID(id))
	if err != nil {
		t.Fatal(err)
	}
	db, err := dynamolocal.NewClient(t.Context(), env.DynamoURL)
	if err != nil {
		t.Fatal(err)
	}
	typ := d.Type()
	_, err = db.TransactWriteItems(t.Context(), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
		Put: &types.Put{
			TableName: aws.String(env.TableName),
			Item: map[string]types.AttributeValue{
				"PK":         &types.AttributeValueMemberS{Value: "OUTBOX#" + id},
				"SK":         &types.AttributeValueMemberS{Value: "OUTBOX"},
				"source":     &types.AttributeValueMemberS{Value: typ.Source},
				"detailType": &types.AttributeValueMemberS{Value: typ.DetailType},
				"detail":     &types.AttributeValueMemberS{Value: string(detail)},
				"ttl":        &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(24*time.Hour).Unix(), 10)},
			},
			ConditionExpression: aws.String("attribute_not_exists(PK)"),
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newEventID() string {
	return rand.Text() // 26 random characters; the contract's UUID shape is the writer's business
}

// crashAt restarts the pipe with a hook that crashes it at the first batch
// to reach the hook's point, and returns a channel closed when it did.
func crashAt(t *testing.T, beforeCheckpoint bool) <-chan struct{} {
	t.Helper()
	crashed := make(chan struct{})
	var once sync.Once
	crash := func(string, string) error {
		once.Do(func() { close(crashed) })
		return errors.New("killed by the test")
	}
	hooks := pipe.Hooks{BeforeDeliver: crash}
	if beforeCheckpoint {
		hooks = pipe.Hooks{BeforeCheckpoint: crash}
	}
	if err := env.RestartPipe(outboxPipe, hooks); err != nil {
		t.Fatalf("restarting the pipe: %v", err)
	}
	t.Cleanup(func() {
		// Leave a healthy pipe for the next test, whatever happened.
		_ = env.RestartPipe(outboxPipe, pipe.Hooks{})
	})
	return crashed
}

// restartAfterCrash waits for the crash, then starts the pipe again, which
// goes on from its checkpoint, and waits until it has read the stream.
func restartAfterCrash(t *testing.T, crashed <-chan struct{}) *pipe.Pipe {
	t.Helper()
	select {
	case <-crashed:
	case <-time.After(waitFor):
		t.Fatal("the pipe never reached the crash point")
	}
	if err := env.RestartPipe(outboxPipe, pipe.Hooks{}); err == nil || err.Error() != "killed by the test" {
		t.Fatalf("the crashed pipe ended with %v", err)
	}
	p := env.Pipe(outboxPipe)
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	select {
	case <-p.CaughtUp():
	case <-ctx.Done():
		t.Fatal("the restarted pipe never caught up with the stream")
	}
	return p
}

// An outbox item whose pipe crashed before delivering it reaches the
// function after the restart: the test mail it asks for is sent, once.
func TestOutboxItemDeliveredAfterPipeCrash(t *testing.T) {
	to := adminAddress()
	crashed := crashAt(t, false)
	writeOutboxItem(t, &event.TestMailRequested{}, func(id string) event.Detail {
		return &outboxTestMail{TestMailRequested: event.TestMailRequested{OperatorID: unique("outbox-op"), To: to}, EventID: id}
	})
	p := restartAfterCrash(t, crashed)
	waitForMails(t, to, 1)
	wantMailCount(t, to, 1)
	if s := p.Stats(); s.Delivered < 1 {
		t.Errorf("the restarted pipe delivered %d events", s.Delivered)
	}
}

// An outbox item the pipe delivered and then crashed before its checkpoint
// is delivered again on restart (the same detail, a new envelope id); the
// receiving function's effect follows once: one Welcome mail.
func TestOutboxRedeliveryAfterPipeCrashMailsOnce(t *testing.T) {
	c := portal(t, unique("outbox-op"))
	admin := adminAddress()
	cust := newCustomer(t, c)
	body := upgradeBody(unique("outbox"))
	body["adminEmail"], body["sendInvitation"] = admin, true
	up := must(t, c.do(http.MethodPost, fmt.Sprintf("/v1/customers/%s/upgrades", cust["id"]), body), http.StatusCreated)
	inv := up["invitation"].(map[string]any)
	waitForMails(t, admin, 1)

	crashed := crashAt(t, true)
	created := event.InvitationCreated{
		InvitationID: inv["id"].(string), OperatorID: c.operator, CustomerID: cust["id"].(string),
		UpgradeID: fmt.Sprint(up["id"]), ServiceID: fmt.Sprint(up["serviceId"]),
	}
	writeOutboxItem(t, &created, func(id string) event.Detail {
		return &outboxCreated{InvitationCreated: created, EventID: id}
	})
	p := restartAfterCrash(t, crashed)
	if s := p.Stats(); s.Delivered < 1 {
		t.Fatalf("the restarted pipe delivered %d events: the crashed batch was not redelivered", s.Delivered)
	}
	wantMailCount(t, admin, 1)
	noDeadLetters(t, inv["id"].(string))
}

// outboxTestMail and outboxCreated add the contract's eventId to a detail,
// as the outbox writer does.
type outboxTestMail struct {
	event.TestMailRequested
	EventID string `json:"eventId"`
}

type outboxCreated struct {
	event.InvitationCreated
	EventID string `json:"eventId"`
}
