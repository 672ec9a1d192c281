package awsconf

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var lambdaEnv = map[string]string{
	"AWS_REGION":            "eu-west-1",
	"AWS_ACCESS_KEY_ID":     "AKIDEXAMPLE",
	"AWS_SECRET_ACCESS_KEY": "secret",
	"AWS_SESSION_TOKEN":     "session",
}

func with(extra map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range lambdaEnv {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestFromEnvRefusesAnIncompleteEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no region", with(map[string]string{"AWS_REGION": ""}), "AWS_REGION"},
		{"no key id", with(map[string]string{"AWS_ACCESS_KEY_ID": ""}), "AWS_ACCESS_KEY_ID"},
		{"no secret", with(map[string]string{"AWS_SECRET_ACCESS_KEY": ""}), "AWS_SECRET_ACCESS_KEY"},
		{"bad checksum mode", with(map[string]string{"AWS_RESPONSE_CHECKSUM_VALIDATION": "sometimes"}), "AWS_RESPONSE_CHECKSUM_VALIDATION"},
		{"attempts not a number", with(map[string]string{"AWS_MAX_ATTEMPTS": "three"}), "AWS_MAX_ATTEMPTS"},
		{"no attempt at all", with(map[string]string{"AWS_MAX_ATTEMPTS": "0"}), "AWS_MAX_ATTEMPTS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := FromEnv(env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	cfg, err := FromEnv(env(with(map[string]string{"AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"})))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" || cfg.ResponseChecksumValidation != aws.ResponseChecksumValidationWhenRequired {
		t.Fatalf("cfg = %+v", cfg)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "AKIDEXAMPLE" || creds.SessionToken != "session" {
		t.Fatalf("credentials = %+v, %v", creds, err)
	}
}

// A service client built from the configuration sends its requests to the
// endpoint its AWS_ENDPOINT_URL_<SERVICE> variable names, and only that
// service's client does.
func TestServiceEndpointsFromEnv(t *testing.T) {
	t.Parallel()
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("X-Amz-Target"))
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte(`{"TableNames":[]}`))
	}))
	defer srv.Close()
	cfg, err := FromEnv(env(with(map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB":        srv.URL,
		"AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
	})))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables through the configured endpoint: %v", err)
	}
	if len(got) != 1 || got[0] != "DynamoDB_20120810.ListTables" {
		t.Fatalf("requests = %v", got)
	}
	sm := secretsmanager.NewFromConfig(cfg)
	if ep := sm.Options().BaseEndpoint; ep != nil {
		t.Fatalf("Secrets Manager got an endpoint it was not given: %s", *ep)
	}
}

// AWS_ENDPOINT_URL sends every service to one endpoint unless the service
// has its own variable, and AWS_MAX_ATTEMPTS bounds the retries: a refused
// connection is tried exactly that often. The service clients look at the
// process environment for AWS_ENDPOINT_URL themselves, so the variables are
// set for real here and the test cannot run in parallel.
func TestGlobalEndpointAndAttempts(t *testing.T) {
	var dynamoCalls, globalCalls atomic.Int32
	global := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		globalCalls.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"__type":"ServiceUnavailable"}`))
	}))
	defer global.Close()
	own := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dynamoCalls.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte(`{"TableNames":[]}`))
	}))
	defer own.Close()
	vars := with(map[string]string{
		"AWS_ENDPOINT_URL":          global.URL,
		"AWS_ENDPOINT_URL_DYNAMODB": own.URL,
		"AWS_MAX_ATTEMPTS":          "2",
	})
	for k, v := range vars {
		t.Setenv(k, v)
	}
	cfg, err := FromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RetryMaxAttempts != 2 {
		t.Fatalf("RetryMaxAttempts = %d, want 2", cfg.RetryMaxAttempts)
	}
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables through DynamoDB's own endpoint: %v", err)
	}
	_, err = secretsmanager.NewFromConfig(cfg).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	if err == nil {
		t.Fatal("GetSecretValue against an unavailable endpoint succeeded")
	}
	if d, s := dynamoCalls.Load(), globalCalls.Load(); d != 1 || s != 2 {
		t.Fatalf("calls: DynamoDB %d (want 1 at its own endpoint), Secrets Manager %d (want 2 at the global one)", d, s)
	}

	// Without its own variable, DynamoDB goes to the global endpoint too.
	os.Unsetenv("AWS_ENDPOINT_URL_DYNAMODB")
	cfg, err = FromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{}); err == nil {
		t.Fatal("ListTables against an unavailable endpoint succeeded")
	}
	if d, s := dynamoCalls.Load(), globalCalls.Load(); d != 1 || s != 4 {
		t.Fatalf("calls: DynamoDB's own endpoint %d (want still 1), the global one %d (want 4)", d, s)
	}
}
