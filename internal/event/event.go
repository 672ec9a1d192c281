// Package event defines, once, every event the service's functions send one
// another over EventBridge: its source, its detail type, the struct of its
// detail with the JSON names on the wire, and the version of that detail's
// schema. The senders (the use cases, which hand a Message to their store
// with the state change that causes it: a transactional outbox) encode
// these types and the receivers' glue (internal/courier, internal/trigger)
// decodes the same types, so the compiler sees both ends of every event
// even though the functions deploy separately. A golden sample of each
// event in events/ is written by the sender's test (internal/store, which
// writes the outbox) and read by the receiver's test.
//
// # Changing an event
//
// Changes are additive only: a field keeps its JSON name and its meaning for
// good, and a new field must be optional for the receiver, because during a
// deployment either side may be older than the other. Such a change keeps
// the version. A change that breaks this rule needs a new version, which
// receivers refuse until they are deployed with it: Decode returns
// ErrVersion, the handler returns an error, and EventBridge retries and
// then dead-letters the event, so nothing is lost while the deployment
// catches up.
//
// The package also holds the part of AWS's own events the service reads
// (SESDetail, the scheduler's Scheduled Event); their shape is AWS's.
package event

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
)

// The sources of the service's events; template.yaml's rules match them.
const (
	// SourceUpgrades is the portal API's and the sweep's source.
	SourceUpgrades = "ocpro.upgrades"
	// SourceConsent is the Token Invitation wizard's source.
	SourceConsent = "ocpro.consent"
)

// Type names an event: who sends it, what it is, and the version of its
// detail's schema that this build writes and reads.
type Type struct {
	Source     string
	DetailType string
	Version    int
}

// Is reports whether an event of source and detailType is of type t.
func (t Type) Is(source, detailType string) bool {
	return t.Source == source && t.DetailType == detailType
}

// Detail is the detail of one of this package's events. Its methods are
// unexported, so every event is defined here and nowhere else.
type Detail interface {
	// Type is the event's type.
	Type() Type
	schema() *Schema
}

// Schema carries the version of a detail's schema and the event's own id;
// every detail embeds it, so they come first in the detail's JSON.
type Schema struct {
	// Version is the schema version the sender wrote. Zero means the
	// sender predates the field, whose details are version 1.
	Version int `json:"schemaVersion"`
	// EventID names the event for good. The outbox may deliver one event
	// more than once, each time in a new EventBridge envelope with a new
	// envelope id, so receivers key their idempotency on this id. It is
	// optional (added within version 1): details sent before it existed
	// have none, and receivers then fall back to the envelope id.
	EventID string `json:"eventId,omitempty"`
}

func (s *Schema) schema() *Schema { return s }

// ErrVersion is wrapped by Decode's error for a detail of a schema version
// this build does not read.
var ErrVersion = errors.New("event: unknown schema version")

// Encode returns d's JSON, stamped with the version of d's type.
func Encode(d Detail) ([]byte, error) {
	t := d.Type()
	d.schema().Version = t.Version
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("event: encode %s: %w", t.DetailType, err)
	}
	return b, nil
}

// Decode reads raw into d and checks its schema version. A detail without a
// version reads as version 1.
func Decode(raw []byte, d Detail) error {
	t := d.Type()
	if err := json.Unmarshal(raw, d); err != nil {
		return fmt.Errorf("event: decode %s: %w", t.DetailType, err)
	}
	v := &d.schema().Version
	if *v == 0 {
		*v = 1
	}
	if *v != t.Version {
		return fmt.Errorf("%w: %s version %d, this build reads version %d", ErrVersion, t.DetailType, *v, t.Version)
	}
	return nil
}

// All returns an empty detail of every event the service sends, for tests
// that must cover each one.
func All() []Detail {
	return []Detail{
		&InvitationCreated{}, &InvitationMailRequested{}, &TestMailRequested{},
		&AuthenticationCompleted{}, &ServiceUpgraded{}, &InvitationExpired{},
	}
}

// Message is one event as the outbox carries it to the bus: the store
// writes it in the same transaction as the state change that causes it,
// and the pipe turns it into an EventBridge event of Source and
// DetailType whose detail is Detail, byte for byte.
type Message struct {
	// ID is the event's id, also inside Detail as eventId.
	ID         string
	Source     string
	DetailType string
	// Detail is Encode's JSON of the detail.
	Detail []byte
}

// NewMessage stamps d with a new random event id and encodes it.
func NewMessage(d Detail) (Message, error) {
	return MessageWithID(NewID(), d)
}

// MessageWithID stamps d with the event id id and encodes it; tests use
// it for samples that must not change from run to run.
func MessageWithID(id string, d Detail) (Message, error) {
	if id == "" {
		return Message{}, fmt.Errorf("event: %s without an event id", d.Type().DetailType)
	}
	d.schema().EventID = id
	b, err := Encode(d)
	if err != nil {
		return Message{}, err
	}
	t := d.Type()
	return Message{ID: id, Source: t.Source, DetailType: t.DetailType, Detail: b}, nil
}

// NewID returns a random (version 4) UUID.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails on the supported platforms (Go 1.24+ crashes instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}

// IdempotencyKey is the key a receiver runs an event of source under: the
// detail's eventId for the service's own events when it carries one (the
// same outbox item delivered twice arrives in two envelopes with two
// envelope ids but one eventId), else the envelope id envelopeID (AWS's
// events, and ours sent before eventId existed).
func IdempotencyKey(source, envelopeID string, detail []byte) string {
	if source != SourceUpgrades && source != SourceConsent {
		return envelopeID
	}
	var s Schema
	if err := json.Unmarshal(detail, &s); err != nil || s.EventID == "" {
		return envelopeID
	}
	return s.EventID
}
