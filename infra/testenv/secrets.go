package testenv

import (
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ocpro/upgrade/infra/secrets"
)

// SecretsManager serves secrets (keyed by ARN or name) from the local
// Secrets Manager stand-in for the life of the test and returns a real
// client for it, so that a test can read and rotate them as the functions
// and a rotation function would.
func SecretsManager(t testing.TB, values map[string]string) *secretsmanager.Client {
	t.Helper()
	srv := httptest.NewServer(secrets.New(values))
	t.Cleanup(srv.Close)
	return secretsmanager.New(secretsmanager.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local", ""), RetryMaxAttempts: 1})
}

// Clock is a clock a test sets and moves forward; every reader sees the
// same time.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
