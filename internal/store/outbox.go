package store

// The transactional outbox. Every event of the service is an item of the
// table, written in the same TransactWriteItems as the state change that
// causes it:
//
//	item     PK                 SK      attributes
//	outbox   OUTBOX#<eventId>   OUTBOX  source, detailType, detail (the detail's JSON text), ttl (24 h)
//
// The table's stream (NEW_IMAGE) feeds the EventOutbox pipe of
// template.yaml, which keeps only INSERT records of these keys and puts
// each as one event on the bus: source and detail type from the item, the
// detail from the item's detail text. A committed change therefore always
// has its event, a change that lost its condition never has one, and no
// function calls EventBridge. The item is only a carrier: its TTL deletes
// it after a day, and the pipe's filter drops the stream's REMOVE records.
// infra/template compares the pipe's filter, input template and dynamic
// parameters with the constants below, so the two cannot drift apart.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/internal/event"
)

// The outbox item's key and attributes, as the pipe reads them.
const (
	// OutboxKeyPrefix starts the PK of every outbox item; the pipe's
	// filter matches it.
	OutboxKeyPrefix = "OUTBOX#"
	// OutboxSK is the sort key of every outbox item.
	OutboxSK = "OUTBOX"
	// AttrSource, AttrDetailType and AttrDetail hold the event's source,
	// detail type and detail JSON text (string attributes).
	AttrSource     = "source"
	AttrDetailType = "detailType"
	AttrDetail     = "detail"
	// AttrTTL is the table's TTL attribute (unix seconds).
	AttrTTL = "ttl"
)

// OutboxTTL is how long an outbox item stays in the table. The stream
// keeps records for 24 hours, so the item is never needed longer.
const OutboxTTL = 24 * time.Hour

type outboxRecord struct {
	PK         string
	SK         string
	Source     string `dynamodbav:"source"`
	DetailType string `dynamodbav:"detailType"`
	Detail     string `dynamodbav:"detail"`
	TTL        int64  `dynamodbav:"ttl"`
}

func outboxPK(eventID string) string { return OutboxKeyPrefix + eventID }

func toOutboxRecord(m event.Message, now time.Time) outboxRecord {
	return outboxRecord{PK: outboxPK(m.ID), SK: OutboxSK, Source: m.Source, DetailType: m.DetailType,
		Detail: string(m.Detail), TTL: now.Add(OutboxTTL).Unix()}
}

// checkMessage refuses a message the pipe could not deliver as the
// receivers expect, before anything is written.
func checkMessage(m event.Message) error {
	if m.ID == "" || m.Source == "" || m.DetailType == "" || len(m.Detail) == 0 {
		return fmt.Errorf("store: incomplete outbox message %q (%s / %s)", m.ID, m.Source, m.DetailType)
	}
	return nil
}

// outbox adds the outbox items of ms to the transaction, each on the
// condition that its event id is new, after the state change's own
// actions, so that the positions callers read cancellation reasons from
// do not move.
func (t *txn) outbox(ms []event.Message) {
	now := time.Now()
	for _, m := range ms {
		if err := checkMessage(m); err != nil {
			t.fail(err)
			continue
		}
		fresh := newExpr()
		fresh.absent()
		t.put(toOutboxRecord(m, now), fresh)
	}
}

// updateWith runs e's change of the item pk/sk, with the outbox items of
// events in the same transaction when there are any (one UpdateItem
// otherwise). A failed condition of the change returns lost and writes
// nothing.
func (s *Store) updateWith(ctx context.Context, e *expr, pk, sk string, lost error, what string, events []event.Message) error {
	if len(events) == 0 {
		return s.update(ctx, e, pk, sk, lost, what)
	}
	tx := txn{table: s.table}
	tx.update(e, pk, sk)
	tx.outbox(events)
	in, err := tx.input()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	err = s.transact(ctx, in.TransactItems)
	if _, ok := conditionFailed(err, 0); ok {
		return lost
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// PutEvent writes one event to the outbox alone, for an event that
// changes no state (a test mail's request): one conditional PutItem.
func (s *Store) PutEvent(ctx context.Context, m event.Message) error {
	if err := checkMessage(m); err != nil {
		return err
	}
	item, err := attributevalue.MarshalMap(toOutboxRecord(m, time.Now()))
	if err != nil {
		return fmt.Errorf("encode outbox item: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if isConditionFailed(err) {
		// The event id is random: an item of that id is this very event,
		// written by an attempt whose answer was lost. It is queued once.
		return nil
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", m.DetailType, err)
	}
	return nil
}

// OutboxItem is an outbox item as read back.
type OutboxItem struct {
	Message event.Message
	// Expires is the item's TTL.
	Expires time.Time
}

// DecodeOutboxItem reads an item of the table (a stream record's new
// image, or a test's read) as an outbox item; ok is false for any other
// item.
func DecodeOutboxItem(item map[string]types.AttributeValue) (it OutboxItem, ok bool, err error) {
	pk, _ := item["PK"].(*types.AttributeValueMemberS)
	sk, _ := item["SK"].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil || !strings.HasPrefix(pk.Value, OutboxKeyPrefix) || sk.Value != OutboxSK {
		return OutboxItem{}, false, nil
	}
	var r outboxRecord
	if err := attributevalue.UnmarshalMap(item, &r); err != nil {
		return OutboxItem{}, false, fmt.Errorf("decode outbox item: %w", err)
	}
	id := strings.TrimPrefix(r.PK, OutboxKeyPrefix)
	return OutboxItem{Message: event.Message{ID: id, Source: r.Source, DetailType: r.DetailType, Detail: []byte(r.Detail)},
		Expires: time.Unix(r.TTL, 0).UTC()}, true, nil
}

// OutboxEvent reads the outbox item of event id with a strongly
// consistent read; found is false when there is none. Tests use it to see
// what a change wrote.
func (s *Store) OutboxEvent(ctx context.Context, id string) (it OutboxItem, found bool, err error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(outboxPK(id), OutboxSK),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return OutboxItem{}, false, fmt.Errorf("get outbox item %s: %w", id, err)
	}
	if res.Item == nil {
		return OutboxItem{}, false, nil
	}
	return DecodeOutboxItem(res.Item)
}

// OutboxMessage is OutboxEvent's message alone, the read the store
// contract suites (internal/upgrade/storetest, internal/wizard/wizardtest)
// check changes with.
func (s *Store) OutboxMessage(ctx context.Context, id string) (event.Message, bool, error) {
	it, found, err := s.OutboxEvent(ctx, id)
	return it.Message, found, err
}
