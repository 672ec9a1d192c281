// Package secret reads keys and credentials from AWS Secrets Manager on first need and keeps
// them for the life of the Lambda container, so that init does no network
// I/O and warm invocations pay nothing.
package secret

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// GetSecretValueAPI is the one Secrets Manager call the package makes.
type GetSecretValueAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Key is a binary key stored as the base64 SecretString of a secret. It is
// fetched on the first call to Key and cached; a failed fetch is not cached,
// so the next request tries again.
type Key struct {
	client  GetSecretValueAPI
	arn     string
	minSize int

	mu  sync.Mutex
	key []byte
}

// NewKey returns a Key read from the secret arn, which must decode to at
// least minSize bytes.
func NewKey(client GetSecretValueAPI, arn string, minSize int) (*Key, error) {
	if client == nil {
		return nil, errors.New("secret: nil Secrets Manager client")
	}
	if arn == "" {
		return nil, errors.New("secret: empty secret ARN")
	}
	return &Key{client: client, arn: arn, minSize: minSize}, nil
}

// Key returns the key, fetching it once.
func (k *Key) Key(ctx context.Context) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil {
		return k.key, nil
	}
	out, err := k.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(k.arn)})
	if err != nil {
		return nil, fmt.Errorf("secret: get %s: %w", k.arn, err)
	}
	// The secret's value is never part of an error or a log line.
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(aws.ToString(out.SecretString)))
	if err != nil {
		return nil, fmt.Errorf("secret: %s is not base64", k.arn)
	}
	if len(raw) < k.minSize {
		return nil, fmt.Errorf("secret: %s holds %d bytes, need at least %d", k.arn, len(raw), k.minSize)
	}
	k.key = raw
	return raw, nil
}
