package secrets_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ocpro/upgrade/infra/secrets"
	"github.com/ocpro/upgrade/internal/secret"
)

const token = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN"

// clock is a settable clock for the extension's cache.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// extensionFixture is a Secrets Manager stand-in holding the link key, a
// real client to rotate it, and an extension in front with ttl.
type extensionFixture struct {
	ext   *httptest.Server
	sm    *secretsmanager.Client
	clock *clock
}

func newExtension(t *testing.T, ttl time.Duration) *extensionFixture {
	t.Helper()
	up := httptest.NewServer(secrets.New(map[string]string{linkKeyARN: "first"}))
	t.Cleanup(up.Close)
	c := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	h, err := secrets.NewExtension(secrets.ExtensionConfig{Upstream: up.URL, Token: token, TTL: ttl, CacheSize: 1000, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	ext := httptest.NewServer(h)
	t.Cleanup(ext.Close)
	sm := secretsmanager.New(secretsmanager.Options{Region: "eu-west-1", BaseEndpoint: aws.String(up.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local", ""), RetryMaxAttempts: 1})
	return &extensionFixture{ext: ext, sm: sm, clock: c}
}

func (f *extensionFixture) get(t *testing.T, query string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.ext.URL+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *extensionFixture) rotate(t *testing.T, value string) {
	t.Helper()
	if _, err := f.sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(linkKeyARN),
		SecretString: aws.String(value)}); err != nil {
		t.Fatal(err)
	}
}

// The stand-in refuses what the extension refuses, and answers
// GetSecretValue's JSON otherwise.
func TestExtensionProtocol(t *testing.T) {
	t.Parallel()
	f := newExtension(t, 0)
	withToken := http.Header{secrets.ExtensionTokenHeader: {token}}
	get := "/secretsmanager/get?secretId=" + url.QueryEscape(linkKeyARN)
	tests := []struct {
		name   string
		query  string
		header http.Header
		status int
	}{
		{"no token header", get, http.Header{}, http.StatusUnauthorized},
		{"another token", get, http.Header{secrets.ExtensionTokenHeader: {"not-the-session-token"}}, http.StatusForbidden},
		{"forwarded", get, http.Header{secrets.ExtensionTokenHeader: {token}, "X-Forwarded-For": {"203.0.113.9"}}, http.StatusBadRequest},
		{"no secretId", "/secretsmanager/get", withToken, http.StatusBadRequest},
		{"unknown path", "/secretsmanager/list", withToken, http.StatusNotFound},
		{"unknown secret", "/secretsmanager/get?secretId=nope", withToken, http.StatusBadRequest},
		{"unknown stage", get + "&versionStage=AWSPREVIOUS", withToken, http.StatusBadRequest},
		{"current", get, withToken, http.StatusOK},
		{"by name", "/secretsmanager/get?secretId=ocpro%2Flink-key", withToken, http.StatusOK},
	}
	for _, tt := range tests {
		status, body := f.get(t, tt.query, tt.header)
		if status != tt.status {
			t.Errorf("%s: HTTP %d %q, want %d", tt.name, status, body, tt.status)
		}
		if status == http.StatusOK {
			var out struct{ ARN, Name, SecretString, VersionId string }
			if err := json.Unmarshal([]byte(body), &out); err != nil || out.SecretString != "first" || out.ARN != linkKeyARN || out.VersionId == "" {
				t.Errorf("%s: answer %q, %v", tt.name, body, err)
			}
		}
	}
	// Secrets Manager's refusal comes through with its error document.
	if _, body := f.get(t, "/secretsmanager/get?secretId=nope", withToken); !json.Valid([]byte(body)) {
		t.Errorf("unknown secret: %q is not Secrets Manager's JSON error", body)
	}
	req, _ := http.NewRequest(http.MethodPost, f.ext.URL+get, nil)
	req.Header = withToken
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %v, %v; want 405", resp, err)
	}
}

// Answers are cached per secret and stage for the TTL: a rotation is seen
// once the TTL has passed, at once with the cache off.
func TestExtensionCache(t *testing.T) {
	t.Parallel()
	withToken := http.Header{secrets.ExtensionTokenHeader: {token}}
	get := "/secretsmanager/get?secretId=" + url.QueryEscape(linkKeyARN)
	value := func(f *extensionFixture) string {
		_, body := f.get(t, get, withToken)
		var out struct{ SecretString string }
		_ = json.Unmarshal([]byte(body), &out)
		return out.SecretString
	}

	cached := newExtension(t, 300*time.Second)
	if v := value(cached); v != "first" {
		t.Fatalf("first read %q", v)
	}
	cached.rotate(t, "second")
	if v := value(cached); v != "first" {
		t.Errorf("within the TTL the extension answered %q, want the cached first", v)
	}
	cached.clock.Advance(300 * time.Second)
	if v := value(cached); v != "second" {
		t.Errorf("after the TTL the extension answered %q, want second", v)
	}

	off := newExtension(t, 0)
	_ = value(off)
	off.rotate(t, "second")
	if v := value(off); v != "second" {
		t.Errorf("with the cache off the extension answered %q, want second", v)
	}
}

func TestExtensionConfigFromEnv(t *testing.T) {
	t.Parallel()
	cfg, err := secrets.ExtensionConfigFromEnv(map[string]string{})
	if err != nil || cfg.TTL != 300*time.Second || cfg.CacheSize != 1000 {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	if cfg, err := secrets.ExtensionConfigFromEnv(map[string]string{"SECRETS_MANAGER_TTL": "0"}); err != nil || cfg.TTL != 0 {
		t.Errorf("TTL 0: %+v, %v", cfg, err)
	}
	if cfg, err := secrets.ExtensionConfigFromEnv(map[string]string{"PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED": "false"}); err != nil || cfg.CacheSize != 0 {
		t.Errorf("cache off: %+v, %v", cfg, err)
	}
	for _, env := range []map[string]string{
		{"SECRETS_MANAGER_TTL": "301"}, {"SECRETS_MANAGER_TTL": "-1"}, {"SECRETS_MANAGER_TTL": "5m"},
		{"PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE": "1001"}, {"PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED": "maybe"},
	} {
		if _, err := secrets.ExtensionConfigFromEnv(env); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
}

// The functions' adapter against the stand-in: the current and previous
// versions, not-found as secret.ErrNotFound, and no read without the
// session token.
func TestSecretAdapterAgainstTheExtension(t *testing.T) {
	t.Parallel()
	f := newExtension(t, 0)
	u, _ := url.Parse(f.ext.URL)
	_, port, _ := net.SplitHostPort(u.Host)
	env := map[string]string{secret.PortVariable: port, "AWS_SESSION_TOKEN": token}
	ext, err := secret.NewExtension(func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := ext.GetSecretValue(ctx, secret.GetSecretValueInput{SecretID: linkKeyARN, VersionStage: "AWSPREVIOUS"}); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("AWSPREVIOUS before a rotation: %v, want ErrNotFound", err)
	}
	f.rotate(t, "second")
	for stage, want := range map[string]string{"": "second", "AWSCURRENT": "second", "AWSPREVIOUS": "first"} {
		v, err := ext.GetSecretValue(ctx, secret.GetSecretValueInput{SecretID: linkKeyARN, VersionStage: stage})
		if err != nil || v.SecretString != want || v.ARN != linkKeyARN {
			t.Errorf("stage %q: %+v, %v; want %q", stage, v, err, want)
		}
	}
	if _, err := ext.GetSecretValue(ctx, secret.GetSecretValueInput{SecretID: "nope"}); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("unknown secret: %v, want ErrNotFound", err)
	}
	env["AWS_SESSION_TOKEN"] = "wrong"
	wrong, _ := secret.NewExtension(func(k string) string { return env[k] }, nil)
	if _, err := wrong.GetSecretValue(ctx, secret.GetSecretValueInput{SecretID: linkKeyARN}); err == nil || errors.Is(err, secret.ErrNotFound) {
		t.Errorf("a wrong token: %v, want a refusal", err)
	}
	delete(env, "AWS_SESSION_TOKEN")
	none, _ := secret.NewExtension(func(k string) string { return env[k] }, nil)
	if _, err := none.GetSecretValue(ctx, secret.GetSecretValueInput{SecretID: linkKeyARN}); err == nil {
		t.Error("a read without AWS_SESSION_TOKEN succeeded")
	}
	if _, err := secret.NewExtension(func(k string) string {
		if k == secret.PortVariable {
			return strconv.Itoa(70000)
		}
		return ""
	}, nil); err == nil {
		t.Error("port 70000 accepted")
	}
}
