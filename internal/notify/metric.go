package notify

import (
	"context"
	"log/slog"
	"time"
)

// MetricNamespace is the CloudWatch namespace of the service's metrics.
const MetricNamespace = "OCPro"

// The metrics the mail function emits.
const (
	MetricMailsSent    = "MailsSent"
	MetricMailsFailed  = "MailsFailed"
	MetricMailsBounced = "MailsBounced"
)

// Count writes one CloudWatch Embedded Metric Format record through log:
// Lambda ships the JSON log line to CloudWatch Logs, which extracts the
// metric from its "_aws" member without any API call from the function.
func Count(ctx context.Context, log *slog.Logger, name string, n int) {
	log.LogAttrs(ctx, slog.LevelInfo, "metric",
		slog.Any("_aws", map[string]any{
			"Timestamp": time.Now().UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace":  MetricNamespace,
				"Dimensions": [][]string{{}},
				"Metrics":    []map[string]string{{"Name": name, "Unit": "Count"}},
			}},
		}),
		slog.Int(name, n))
}
