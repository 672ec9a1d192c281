package notify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// TestDecodeSESSamples decodes the sample SES events of events/ as
// EventBridge delivers them.
func TestDecodeSESSamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, status string
	}{
		{"email-delivered.json", upgrade.DeliveryDelivered},
		{"email-bounced.json", upgrade.DeliveryBounced},
		{"email-complaint-received.json", upgrade.DeliveryComplained},
		{"email-rejected.json", upgrade.DeliveryRejected},
		{"email-delivery-delayed.json", upgrade.DeliveryDelayed},
		{"email-rendering-failed.json", upgrade.DeliveryFailed},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(filepath.Join("..", "..", "events", "invitationemail", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var e events.CloudWatchEvent
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			d, ok := decodeSES(e)
			if !ok || d.Status != tt.status || d.MessageID != "0102018f-example-message-id" || d.At.IsZero() {
				t.Errorf("decodeSES = %+v, %v; want status %s", d, ok, tt.status)
			}
		})
	}
}
