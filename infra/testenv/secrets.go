package testenv

import (
	"crypto/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ocpro/upgrade/infra/secrets"
	"github.com/ocpro/upgrade/infra/template/templatetest"
	"github.com/ocpro/upgrade/internal/secret"
)

// Secrets is the local Secrets Manager stand-in serving a test's secrets.
type Secrets struct {
	// Manager is a real client of the stand-in, with which a test rotates
	// the secrets as a rotation function would.
	Manager *secretsmanager.Client
	// URL is the stand-in's endpoint.
	URL string
}

// LocalSecrets serves secrets (keyed by ARN or name) from the local
// Secrets Manager stand-in for the life of the test.
func LocalSecrets(t testing.TB, values map[string]string) *Secrets {
	t.Helper()
	srv := httptest.NewServer(secrets.New(values))
	t.Cleanup(srv.Close)
	return &Secrets{URL: srv.URL, Manager: secretsmanager.New(secretsmanager.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local", ""), RetryMaxAttempts: 1})}
}

// SecretsManager serves secrets from the local Secrets Manager stand-in
// and returns a real client for it.
func SecretsManager(t testing.TB, values map[string]string) *secretsmanager.Client {
	t.Helper()
	return LocalSecrets(t, values).Manager
}

// Extension starts what one Lambda execution environment has: the
// stand-in AWS Parameters and Secrets Lambda Extension in front of s, with
// its own cache of the given TTL (0: none, as the template sets it) and a
// session token of its own, and returns the reader a function builds from
// that environment (PARAMETERS_SECRETS_EXTENSION_HTTP_PORT,
// AWS_SESSION_TOKEN).
func (s *Secrets) Extension(t testing.TB, ttl time.Duration) *secret.Extension {
	t.Helper()
	token := rand.Text()
	h, err := secrets.NewExtension(secrets.ExtensionConfig{Upstream: s.URL, Token: token, TTL: ttl, CacheSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	env := map[string]string{
		secret.PortVariable: strconv.Itoa(l.Addr().(*net.TCPAddr).Port),
		"AWS_SESSION_TOKEN": token,
	}
	ext, err := secret.NewExtension(func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ext
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

// FunctionExtension is Extension with the cache TTL template.yaml gives
// the functions that have the extension, so that a test reads its secrets
// as deployed functions do.
func (s *Secrets) FunctionExtension(t testing.TB) *secret.Extension {
	t.Helper()
	return s.Extension(t, TemplateSecretsTTL(t))
}

// TemplateSecretsTTL is the secrets extension's cache TTL as template.yaml
// gives it; every function with the extension must get the same.
func TemplateSecretsTTL(t testing.TB) time.Duration {
	t.Helper()
	var ttl *time.Duration
	for id, fn := range templatetest.Template(t).Functions {
		if !fn.HasSecretsExtension() {
			continue
		}
		cfg, err := secrets.ExtensionConfigFromEnv(fn.Environment)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if cfg.CacheSize == 0 {
			cfg.TTL = 0
		}
		if ttl != nil && *ttl != cfg.TTL {
			t.Fatalf("%s: the secrets extension's TTL is %v, another function's %v", id, cfg.TTL, *ttl)
		}
		ttl = &cfg.TTL
	}
	if ttl == nil {
		t.Fatal("no function of template.yaml has the secrets extension")
	}
	return *ttl
}
