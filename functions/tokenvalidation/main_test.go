package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/ocpro/upgrade/infra/template/templatetest"
)

const function = "TokenValidationFunction"

// TestReadsWhatTheTemplateGives starts the function as deployed and fails
// when it reads a variable template.yaml does not give it, or is given one
// it never reads.
func TestReadsWhatTheTemplateGives(t *testing.T) {
	templatetest.CheckReads(t, function, func(getenv func(string) string) error {
		_, err := wire(context.Background(), getenv, slog.New(slog.DiscardHandler))
		return err
	})
}

func TestWire(t *testing.T) {
	tests := []struct {
		name    string
		change  map[string]string
		wantErr bool
	}{
		{"as deployed", nil, false},
		{"no table", map[string]string{"TABLE_NAME": ""}, true},
		{"no operator claim", map[string]string{"OPERATOR_CLAIM": ""}, true},
		{"no authority", map[string]string{"ENTRA_AUTHORITY_HOST": ""}, true},
		{"no credential secret", map[string]string{"ENTRA_CREDENTIAL_SECRET_ARN": ""}, true},
		{"no token key", map[string]string{"TOKEN_KMS_KEY_ID": ""}, true},
		{"no required roles", map[string]string{"ENTRA_REQUIRED_ROLES": ""}, true},
		{"no Graph", map[string]string{"GRAPH_BASE_URL": ""}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := templatetest.Env(t, function)
			for k, v := range tt.change {
				env[k] = v
			}
			r, err := wire(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
			if (err != nil) != tt.wantErr || (err == nil && r == nil) {
				t.Fatalf("wire() = %v, %v; wantErr %v", r, err, tt.wantErr)
			}
		})
	}
}
