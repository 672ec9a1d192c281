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
	req.Header.Set("X-Amz-Target", "secretsmanager.PutSecretValue")
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
