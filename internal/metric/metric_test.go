package metric_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/ocpro/upgrade/internal/metric"
)

// TestCountWritesEMF checks the record against the parts of the Embedded
// Metric Format that CloudWatch needs to extract the metric.
func TestCountWritesEMF(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    int
	}{
		{metric.MailsFailed, 1},
		{metric.ValidationsFailed, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			metric.Count(t.Context(), slog.New(slog.NewJSONHandler(&buf, nil)), tt.name, tt.n)
			var rec struct {
				AWS struct {
					Timestamp         int64
					CloudWatchMetrics []struct {
						Namespace  string
						Dimensions [][]string
						Metrics    []struct{ Name, Unit string }
					}
				} `json:"_aws"`
			}
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, buf.Bytes())
			}
			var values map[string]any
			if err := json.Unmarshal(buf.Bytes(), &values); err != nil {
				t.Fatal(err)
			}
			cw := rec.AWS.CloudWatchMetrics
			if rec.AWS.Timestamp == 0 || len(cw) != 1 || cw[0].Namespace != metric.Namespace || len(cw[0].Metrics) != 1 ||
				cw[0].Metrics[0].Name != tt.name || cw[0].Metrics[0].Unit != "Count" {
				t.Fatalf("EMF directive = %+v", rec.AWS)
			}
			if v, ok := values[tt.name].(float64); !ok || int(v) != tt.n {
				t.Errorf("value member %q = %v, want %d", tt.name, values[tt.name], tt.n)
			}
		})
	}
}
