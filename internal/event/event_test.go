package event_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/ocpro/upgrade/internal/event"
)

func TestEncodeStampsTheVersion(t *testing.T) {
	t.Parallel()
	for _, d := range event.All() {
		t.Run(d.Type().DetailType, func(t *testing.T) {
			t.Parallel()
			b, err := event.Encode(d)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), `{"schemaVersion":1,`) {
				t.Errorf("Encode() = %s, want the schema version first", b)
			}
		})
	}
}

// TestDecodeChecksTheVersion: a detail of the version this build reads, or
// of none (sent before the field existed), decodes; another version is
// refused with ErrVersion, so that the receiver retries it rather than
// reading what it does not understand; a detail that is not JSON of the
// shape is an error of its own.
func TestDecodeChecksTheVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		raw         string
		wantErr     bool
		wantVersion bool
	}{
		{"current version", `{"schemaVersion":1,"invitationId":"i1","operatorId":"op"}`, false, false},
		{"no version", `{"invitationId":"i1","operatorId":"op"}`, false, false},
		{"newer version", `{"schemaVersion":2,"invitationId":"i1","operatorId":"op"}`, true, true},
		{"negative version", `{"schemaVersion":-1,"invitationId":"i1"}`, true, true},
		{"version of the wrong type", `{"schemaVersion":"1","invitationId":"i1"}`, true, false},
		{"not an object", `[1]`, true, false},
		{"not JSON", `{"invitationId":`, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var d event.InvitationCreated
			err := event.Decode([]byte(tt.raw), &d)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Decode() = %v, want error %v", err, tt.wantErr)
			}
			if errors.Is(err, event.ErrVersion) != tt.wantVersion {
				t.Errorf("Decode() = %v, want ErrVersion %v", err, tt.wantVersion)
			}
			if err == nil && (d.InvitationID != "i1" || d.OperatorID != "op" || d.Version != 1) {
				t.Errorf("decoded %+v", d)
			}
		})
	}
}

// TestTypesAreDistinct: no two events share a source and detail type, so a
// receiver's routing cannot confuse them.
func TestTypesAreDistinct(t *testing.T) {
	t.Parallel()
	seen := map[event.Type]bool{}
	for _, d := range event.All() {
		ty := d.Type()
		ty.Version = 0
		if seen[ty] {
			t.Errorf("%s / %s defined twice", ty.Source, ty.DetailType)
		}
		seen[ty] = true
		if ty.Source != event.SourceUpgrades && ty.Source != event.SourceConsent {
			t.Errorf("%s has source %q", ty.DetailType, ty.Source)
		}
		if !d.Type().Is(ty.Source, ty.DetailType) || d.Type().Is(ty.Source, ty.DetailType+" ") {
			t.Errorf("%s: Is disagrees with the type", ty.DetailType)
		}
	}
}

// FuzzDecode: whatever the bytes, Decode returns an error or a detail of
// the version this build reads, and never panics.
// quotedNumber finds a number member written as a string.
var quotedNumber = regexp.MustCompile(`"(schemaVersion|generation)"\s*:\s*"`)

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":1,"invitationId":"i1","operatorId":"op","generation":2,"mail":"reminder-1"}`))
	f.Add([]byte(`{"schemaVersion":7}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"schemaVersion":"1","invitationId":"i1","operatorId":"op","generation":"2"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, d := range event.All() {
			err := event.Decode(raw, d)
			if err == nil && quotedNumber.Match(raw) {
				t.Errorf("%s decoded %q, whose numbers are strings", d.Type().DetailType, raw)
			}
			if err == nil {
				b, err := event.Encode(d)
				if err != nil {
					t.Fatalf("encode what %q decoded to: %v", raw, err)
				}
				if !strings.HasPrefix(string(b), `{"schemaVersion":1`) {
					t.Errorf("%s decoded %q to a detail of another version: %s", d.Type().DetailType, raw, b)
				}
			}
		}
	})
}

// TestMessageCarriesItsID: the event id is in the detail, where receivers
// find it whatever envelope the event arrives in, and each message gets
// its own.
func TestMessageCarriesItsID(t *testing.T) {
	t.Parallel()
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for _, d := range event.All() {
		m, err := event.NewMessage(d)
		if err != nil {
			t.Fatal(err)
		}
		if !uuid.MatchString(m.ID) || seen[m.ID] {
			t.Errorf("%s: event id %q is not a fresh UUID", m.DetailType, m.ID)
		}
		seen[m.ID] = true
		if got := event.IdempotencyKey(m.Source, "envelope", m.Detail); got != m.ID {
			t.Errorf("%s: IdempotencyKey = %q, want the detail's %q", m.DetailType, got, m.ID)
		}
		if m.Source != d.Type().Source || m.DetailType != d.Type().DetailType {
			t.Errorf("message %s / %s of a %s", m.Source, m.DetailType, d.Type().DetailType)
		}
	}
	if _, err := event.MessageWithID("", &event.InvitationCreated{}); err == nil {
		t.Error("MessageWithID(\"\") succeeded")
	}
}

// TestIdempotencyKeyFallsBack: AWS's events, and the service's events
// sent before eventId existed, are keyed on their envelope id.
func TestIdempotencyKeyFallsBack(t *testing.T) {
	t.Parallel()
	tests := []struct{ source, detail, want string }{
		{event.SourceUpgrades, `{"schemaVersion":1,"invitationId":"i1"}`, "envelope"},
		{event.SourceConsent, `{"schemaVersion":1,"eventId":""}`, "envelope"},
		{event.SourceConsent, `{"schemaVersion":1,"eventId":"e1"}`, "e1"},
		{event.SourceSES, `{"eventId":"e1"}`, "envelope"},
		{event.SourceUpgrades, `not json`, "envelope"},
	}
	for _, tt := range tests {
		if got := event.IdempotencyKey(tt.source, "envelope", []byte(tt.detail)); got != tt.want {
			t.Errorf("IdempotencyKey(%s, %s) = %q, want %q", tt.source, tt.detail, got, tt.want)
		}
	}
}
