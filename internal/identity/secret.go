package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// GetSecretValueAPI is the one Secrets Manager call SecretsManagerSecret makes.
type GetSecretValueAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretsManagerSecret is the client secret held as the SecretString of a
// secret, read on first need and kept; a failed read is retried next time.
type SecretsManagerSecret struct {
	client GetSecretValueAPI
	arn    string

	mu    sync.Mutex
	value string
}

// NewSecretsManagerSecret returns the secret at arn.
func NewSecretsManagerSecret(client GetSecretValueAPI, arn string) (*SecretsManagerSecret, error) {
	if client == nil {
		return nil, errors.New("identity: nil Secrets Manager client")
	}
	if arn == "" {
		return nil, errors.New("identity: empty secret ARN")
	}
	return &SecretsManagerSecret{client: client, arn: arn}, nil
}

// Secret returns the client secret.
func (s *SecretsManagerSecret) Secret(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.value != "" {
		return s.value, nil
	}
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.arn)})
	if err != nil {
		return "", fmt.Errorf("get %s: %w", s.arn, err)
	}
	v := strings.TrimSpace(aws.ToString(out.SecretString))
	if v == "" {
		return "", fmt.Errorf("secret %s is empty", s.arn)
	}
	s.value = v
	return v, nil
}
