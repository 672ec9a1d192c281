package pipe

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
)

// NewBusClient returns an EventBridge client for the local bus at endpoint,
// with dummy credentials and no shared configuration, so that the local
// pipe never calls a real AWS account.
func NewBusClient(ctx context.Context, endpoint, region string) (*eventbridge.Client, error) {
	if endpoint == "" {
		return nil, errors.New("pipe: no bus endpoint")
	}
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	)
	if err != nil {
		return nil, fmt.Errorf("pipe: bus client config: %w", err)
	}
	return eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		// The pipe retries failed batches itself, with its own count.
		o.RetryMaxAttempts = 1
	}), nil
}
