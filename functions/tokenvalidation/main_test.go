package main

import (
	"context"
	"log/slog"
	"testing"
)

func TestWire(t *testing.T) {
	full := map[string]string{
		"TABLE_NAME": "t", "ENTRA_AUTHORITY_HOST": "https://login.example", "ENTRA_CLIENT_ID": "client",
		"ENTRA_CREDENTIAL_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:entra", "GRAPH_BASE_URL": "https://graph.example",
		"TOKEN_KMS_KEY_ID": "arn:aws:kms:eu-west-1:1:key/k", "ENTRA_REQUIRED_ROLES": "Organization.Read.All",
		// What Lambda sets from the function's role.
		"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
	}
	tests := []struct {
		name    string
		drop    string
		wantErr bool
	}{
		{"complete", "", false},
		{"no table", "TABLE_NAME", true},
		{"no authority", "ENTRA_AUTHORITY_HOST", true},
		{"no credential secret", "ENTRA_CREDENTIAL_SECRET_ARN", true},
		{"no token key", "TOKEN_KMS_KEY_ID", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == tt.drop {
					return ""
				}
				return full[k]
			}
			r, err := wire(context.Background(), getenv, slog.Default())
			if (err != nil) != tt.wantErr || (err == nil && r == nil) {
				t.Fatalf("wire() = %v, %v; wantErr %v", r, err, tt.wantErr)
			}
		})
	}
}
