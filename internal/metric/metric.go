// Package metric writes CloudWatch metrics in the Embedded Metric Format
// through the function's logger: Lambda ships each JSON log line to
// CloudWatch Logs, which extracts the metric from its "_aws" member, so no
// function needs cloudwatch:PutMetricData or spends a call on it.
package metric

import (
	"context"
	"log/slog"
	"time"
)

// Namespace is the CloudWatch namespace of the service's metrics; the
// alarms in template.yaml read it.
const Namespace = "OCPro"

// The service's metrics.
const (
	MailsSent         = "MailsSent"
	MailsFailed       = "MailsFailed"
	MailsBounced      = "MailsBounced"
	ValidationsFailed = "ValidationsFailed"
)

// Count writes one EMF record adding n to the metric name, without
// dimensions.
func Count(ctx context.Context, log *slog.Logger, name string, n int) {
	log.LogAttrs(ctx, slog.LevelInfo, "metric",
		slog.Any("_aws", map[string]any{
			"Timestamp": time.Now().UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace":  Namespace,
				"Dimensions": [][]string{{}},
				"Metrics":    []map[string]string{{"Name": name, "Unit": "Count"}},
			}},
		}),
		slog.Int(name, n))
}
