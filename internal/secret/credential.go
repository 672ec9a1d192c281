package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Credential reads the operator application's credential from a
// Secrets Manager secret on first need and keeps it for the container's
// life. The secret holds either the client secret itself or JSON
// {"clientSecret": "...", "expiresAt": "<RFC 3339>"}, which also tells
// the M365 Settings page when the credential expires.
type Credential struct {
	client GetSecretValueAPI
	arn    string

	mu      sync.Mutex
	secret  string
	expires time.Time
}

// NewCredential returns a Credential for the secret arn.
func NewCredential(client GetSecretValueAPI, arn string) (*Credential, error) {
	if client == nil {
		return nil, errors.New("secret: nil Secrets Manager client")
	}
	if arn == "" {
		return nil, errors.New("secret: empty credential secret ARN")
	}
	return &Credential{client: client, arn: arn}, nil
}

// ClientSecret returns the client secret, read on first need.
func (s *Credential) ClientSecret(ctx context.Context) (string, error) {
	if err := s.load(ctx); err != nil {
		return "", err
	}
	return s.secret, nil
}

// ExpiresAt returns when the credential expires, zero when the secret does
// not say.
func (s *Credential) ExpiresAt(ctx context.Context) (time.Time, error) {
	if err := s.load(ctx); err != nil {
		return time.Time{}, err
	}
	return s.expires, nil
}

func (s *Credential) load(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secret != "" {
		return nil
	}
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.arn)})
	if err != nil {
		return fmt.Errorf("secret: get %s: %w", s.arn, err)
	}
	secret, expires, err := parseCredential(aws.ToString(out.SecretString))
	if err != nil {
		// The value never goes into the error.
		return fmt.Errorf("secret: %s: %w", s.arn, err)
	}
	s.secret, s.expires = secret, expires
	return nil
}

// parseCredential reads a plain client secret or the JSON form.
func parseCredential(v string) (secret string, expires time.Time, err error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", time.Time{}, errors.New("empty credential")
	}
	if !strings.HasPrefix(v, "{") {
		return v, time.Time{}, nil
	}
	var j struct {
		ClientSecret string `json:"clientSecret"`
		ExpiresAt    string `json:"expiresAt"`
	}
	if json.Unmarshal([]byte(v), &j) != nil || j.ClientSecret == "" {
		return "", time.Time{}, errors.New("credential JSON needs clientSecret")
	}
	if j.ExpiresAt != "" {
		if expires, err = time.Parse(time.RFC3339, j.ExpiresAt); err != nil {
			return "", time.Time{}, errors.New("credential expiresAt is not RFC 3339")
		}
	}
	return j.ClientSecret, expires.UTC(), nil
}
