// Package event defines, once, every event the service's functions send one
// another over EventBridge: its source, its detail type, the struct of its
// detail with the JSON names on the wire, and the version of that detail's
// schema. The sender (internal/bus) encodes these types and the receivers'
// glue (internal/courier, internal/trigger) decodes the same types, so the
// compiler sees both ends of every event even though the functions deploy
// separately. A golden sample of each event in events/ is written by the
// sender's test and read by the receiver's test.
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

// Schema carries the version of a detail's schema; every detail embeds it,
// so it comes first in the detail's JSON.
type Schema struct {
	// Version is the schema version the sender wrote. Zero means the
	// sender predates the field, whose details are version 1.
	Version int `json:"schemaVersion"`
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
