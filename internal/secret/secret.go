// Package secret reads keys and credentials from AWS Secrets Manager on
// first need and keeps them for the life of the Lambda container, so that
// init does no network I/O and warm invocations pay nothing. The functions
// read them through the AWS Parameters and Secrets Lambda Extension
// (Extension), so that none of them links the Secrets Manager client.
package secret

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// GetSecretValueInput names one version of a secret, as Secrets Manager's
// GetSecretValue takes it: no stage and no version id ask for AWSCURRENT.
type GetSecretValueInput struct {
	SecretID     string
	VersionStage string
}

// SecretValue is the part of GetSecretValue's answer the package reads.
type SecretValue struct {
	ARN           string
	Name          string
	VersionID     string
	SecretString  string
	VersionStages []string
}

// GetSecretValueAPI is the one Secrets Manager call the package makes.
type GetSecretValueAPI interface {
	GetSecretValue(ctx context.Context, in GetSecretValueInput) (*SecretValue, error)
}

// ErrNotFound says that Secrets Manager has no such secret, or no version
// of it with the stage asked for (its ResourceNotFoundException).
var ErrNotFound = errors.New("secret: not found")

// Key is a binary key stored as the base64 SecretString of a secret, kept
// in rotation by Secrets Manager. It fetches the AWSCURRENT version and,
// during a rotation window, the AWSPREVIOUS one on first need and caches
// them; a failed fetch is not cached, so the next request tries again.
// Refresh reads them again when a key that another container already
// uses is met.
type Key struct {
	client  GetSecretValueAPI
	arn     string
	minSize int
	now     func() time.Time

	mu        sync.Mutex
	key       []byte
	previous  []byte
	refreshed time.Time
}

// MinRefreshInterval is the shortest time between two refreshes of a Key
// or a Credential: a flood of forged links or of refused secrets must not
// become a flood of Secrets Manager calls.
const MinRefreshInterval = 30 * time.Second

// NewKey returns a Key read from the secret arn, which must decode to at
// least minSize bytes.
func NewKey(client GetSecretValueAPI, arn string, minSize int) (*Key, error) {
	if client == nil {
		return nil, errors.New("secret: nil Secrets Manager client")
	}
	if arn == "" {
		return nil, errors.New("secret: empty secret ARN")
	}
	return &Key{client: client, arn: arn, minSize: minSize, now: time.Now}, nil
}

// Key returns the current key, fetching it once.
func (k *Key) Key(ctx context.Context) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key == nil {
		if err := k.load(ctx); err != nil {
			return nil, err
		}
	}
	return k.key, nil
}

// Previous returns the key before the current one while Secrets Manager
// still keeps it (AWSPREVIOUS), or nil.
func (k *Key) Previous(ctx context.Context) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key == nil {
		if err := k.load(ctx); err != nil {
			return nil, err
		}
	}
	return k.previous, nil
}

// Refresh reads both versions again, unless the last refresh was less
// than MinRefreshInterval ago; it reports whether it read them.
func (k *Key) Refresh(ctx context.Context) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if !k.refreshed.IsZero() && now.Sub(k.refreshed) < MinRefreshInterval {
		return false, nil
	}
	k.refreshed = now
	return true, k.load(ctx)
}

// load reads AWSCURRENT and AWSPREVIOUS; k.mu is held.
func (k *Key) load(ctx context.Context) error {
	current, err := k.get(ctx, "AWSCURRENT")
	if err != nil {
		return err
	}
	previous, err := k.get(ctx, "AWSPREVIOUS")
	switch {
	case errors.Is(err, ErrNotFound):
		previous = nil // no rotation yet, or its window is over
	case err != nil:
		return err
	}
	k.key, k.previous = current, previous
	return nil
}

func (k *Key) get(ctx context.Context, stage string) ([]byte, error) {
	out, err := k.client.GetSecretValue(ctx, GetSecretValueInput{SecretID: k.arn, VersionStage: stage})
	if err != nil {
		return nil, fmt.Errorf("secret: get %s %s: %w", k.arn, stage, err)
	}
	// The secret's value is never part of an error or a log line.
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out.SecretString))
	if err != nil {
		return nil, fmt.Errorf("secret: %s %s is not base64", k.arn, stage)
	}
	if len(raw) < k.minSize {
		return nil, fmt.Errorf("secret: %s %s holds %d bytes, need at least %d", k.arn, stage, len(raw), k.minSize)
	}
	return raw, nil
}
