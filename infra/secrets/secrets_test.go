package secrets_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/ocpro/upgrade/infra/secrets"
)

const linkKeyARN = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:ocpro/link-key-Ab12Cd"

func newClient(t *testing.T) *secretsmanager.Client {
	t.Helper()
	srv := httptest.NewServer(secrets.New(map[string]string{
		linkKeyARN:         "link-key-value",
		"ocpro/entra-cred": `{"clientSecret":"s3cret"}`,
	}))
	t.Cleanup(srv.Close)
	return secretsmanager.New(secretsmanager.Options{
		Region:           "eu-west-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local", ""),
		RetryMaxAttempts: 1,
	})
}

func TestGetSecretValue(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	tests := []struct {
		name     string
		id       string
		want     string
		wantName string
	}{
		{name: "full ARN", id: linkKeyARN, want: "link-key-value", wantName: "ocpro/link-key"},
		{name: "name of a secret keyed by ARN", id: "ocpro/link-key", want: "link-key-value", wantName: "ocpro/link-key"},
		{name: "partial ARN", id: "arn:aws:secretsmanager:eu-west-1:000000000000:secret:ocpro/link-key", want: "link-key-value", wantName: "ocpro/link-key"},
		{name: "name of a secret keyed by name", id: "ocpro/entra-cred", want: `{"clientSecret":"s3cret"}`, wantName: "ocpro/entra-cred"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := client.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(tt.id)})
			if err != nil {
				t.Fatalf("GetSecretValue(%q): %v", tt.id, err)
			}
			if got := aws.ToString(out.SecretString); got != tt.want {
				t.Errorf("SecretString = %q, want %q", got, tt.want)
			}
			if got := aws.ToString(out.Name); got != tt.wantName {
				t.Errorf("Name = %q, want %q", got, tt.wantName)
			}
			if len(out.VersionStages) != 1 || out.VersionStages[0] != "AWSCURRENT" {
				t.Errorf("VersionStages = %v, want [AWSCURRENT]", out.VersionStages)
			}
			if aws.ToString(out.VersionId) == "" || out.CreatedDate == nil {
				t.Errorf("VersionId %q, CreatedDate %v: want both set", aws.ToString(out.VersionId), out.CreatedDate)
			}
		})
	}
}

func TestGetSecretValueByNameHasStableARN(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	ctx := context.Background()
	byName, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("ocpro/entra-cred")})
	if err != nil {
		t.Fatal(err)
	}
	byARN, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: byName.ARN})
	if err != nil {
		t.Fatalf("GetSecretValue by the ARN it reported (%s): %v", aws.ToString(byName.ARN), err)
	}
	if aws.ToString(byARN.SecretString) != aws.ToString(byName.SecretString) {
		t.Errorf("by ARN %q, by name %q: want the same secret", aws.ToString(byARN.SecretString), aws.ToString(byName.SecretString))
	}
}

func TestGetSecretValueNotFound(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	tests := []struct {
		name string
		in   secretsmanager.GetSecretValueInput
	}{
		{name: "unknown name", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("ocpro/missing")}},
		{name: "unknown ARN", in: secretsmanager.GetSecretValueInput{SecretId: aws.String(linkKeyARN + "x")}},
		{name: "ARN in another account", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("arn:aws:secretsmanager:eu-west-1:111111111111:secret:ocpro/link-key-Ab12Cd")}},
		{name: "previous version stage", in: secretsmanager.GetSecretValueInput{SecretId: aws.String(linkKeyARN), VersionStage: aws.String("AWSPREVIOUS")}},
		{name: "unknown version id", in: secretsmanager.GetSecretValueInput{SecretId: aws.String(linkKeyARN), VersionId: aws.String("00000000-0000-0000-0000-000000000000")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := client.GetSecretValue(context.Background(), &tt.in)
			var notFound *types.ResourceNotFoundException
			if !errors.As(err, &notFound) {
				t.Fatalf("GetSecretValue error = %v, want ResourceNotFoundException", err)
			}
		})
	}
}

func TestUnsupportedOperation(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(secrets.New(nil))
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager.DeleteSecret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest || body.Type != "UnknownOperationException" || body.Message == "" {
		t.Errorf("got %d %+v, want 400 UnknownOperationException with a message", resp.StatusCode, body)
	}
}

// A rotation moves the staging labels as Secrets Manager does: the new
// value is AWSCURRENT, the one before AWSPREVIOUS, the one before that has
// no label; asking for a stage no version holds, or for a version and a
// stage that do not go together, is refused.
func TestRotationStages(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	ctx := context.Background()
	get := func(stage, version string) (string, error) {
		in := &secretsmanager.GetSecretValueInput{SecretId: aws.String("ocpro/link-key")}
		if stage != "" {
			in.VersionStage = aws.String(stage)
		}
		if version != "" {
			in.VersionId = aws.String(version)
		}
		out, err := client.GetSecretValue(ctx, in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.SecretString), nil
	}
	var notFound *types.ResourceNotFoundException
	if _, err := get("AWSPREVIOUS", ""); !errors.As(err, &notFound) {
		t.Fatalf("AWSPREVIOUS before any rotation = %v, want ResourceNotFoundException", err)
	}
	first, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("ocpro/link-key")})
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, v := range []string{"second", "third"} {
		out, err := client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(linkKeyARN), SecretString: aws.String(v)})
		if err != nil {
			t.Fatalf("PutSecretValue(%s): %v", v, err)
		}
		versions = append(versions, aws.ToString(out.VersionId))
	}
	for _, tc := range []struct{ stage, version, want string }{
		{"", "", "third"},
		{"AWSCURRENT", "", "third"},
		{"AWSPREVIOUS", "", "second"},
		{"", versions[0], "second"},
		{"", aws.ToString(first.VersionId), "link-key-value"},
	} {
		if got, err := get(tc.stage, tc.version); err != nil || got != tc.want {
			t.Errorf("stage %q version %q = %q, %v; want %q", tc.stage, tc.version, got, err, tc.want)
		}
	}
	if _, err := get("AWSPENDING", ""); !errors.As(err, &notFound) {
		t.Errorf("a stage no version holds = %v, want ResourceNotFoundException", err)
	}
	var invalid *types.InvalidRequestException
	if _, err := get("AWSCURRENT", versions[0]); !errors.As(err, &invalid) {
		t.Errorf("a version with another version's stage = %v, want InvalidRequestException", err)
	}
	// A retry with the same token and value is the same version; another
	// value under that token is refused.
	token := versions[1]
	if out, err := client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(linkKeyARN),
		SecretString: aws.String("third"), ClientRequestToken: aws.String(token)}); err != nil || aws.ToString(out.VersionId) != token {
		t.Errorf("retried PutSecretValue = %v, %v", out, err)
	}
	var exists *types.ResourceExistsException
	if _, err := client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(linkKeyARN),
		SecretString: aws.String("other"), ClientRequestToken: aws.String(token)}); !errors.As(err, &exists) {
		t.Errorf("another value under a used token = %v, want ResourceExistsException", err)
	}
	if got, err := get("", ""); err != nil || got != "third" {
		t.Errorf("AWSCURRENT after the refused put = %q, %v", got, err)
	}
}
