package secret_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/secret"
)

// The application credential is either the client secret itself or JSON
// that also says when it expires (for the M365 Settings page); both the
// wizard and the validation read it through Credential.
func TestCredential(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		value       string
		err         error
		wantSecret  string
		wantExpires time.Time
		wantErr     bool
	}{
		{"plain secret", "  s3cr3t~value \n", nil, "s3cr3t~value", time.Time{}, false},
		{"JSON with expiry", `{"clientSecret":"abc","expiresAt":"2027-03-01T00:00:00Z"}`, nil, "abc", time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), false},
		{"JSON without expiry", `{"clientSecret":"abc"}`, nil, "abc", time.Time{}, false},
		{"JSON without secret", `{"expiresAt":"2027-03-01T00:00:00Z"}`, nil, "", time.Time{}, true},
		{"JSON with a bad date", `{"clientSecret":"abc","expiresAt":"March"}`, nil, "", time.Time{}, true},
		{"empty", "   ", nil, "", time.Time{}, true},
		{"Secrets Manager fails", "", errors.New("AccessDeniedException"), "", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sm := &fakeSM{value: tt.value, err: tt.err}
			c, err := secret.NewCredential(sm, "arn:aws:secretsmanager:eu-west-1:1:secret:entra")
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.ClientSecret(context.Background())
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ClientSecret = %q, want an error", got)
				}
				if v := strings.TrimSpace(tt.value); v != "" && strings.Contains(err.Error(), v) {
					t.Fatalf("the error shows the secret's value: %v", err)
				}
				return
			}
			if err != nil || got != tt.wantSecret {
				t.Fatalf("ClientSecret = %q, %v; want %q", got, err, tt.wantSecret)
			}
			exp, err := c.ExpiresAt(context.Background())
			if err != nil || !exp.Equal(tt.wantExpires) {
				t.Fatalf("ExpiresAt = %v, %v; want %v", exp, err, tt.wantExpires)
			}
			if n := sm.calls.Load(); n != 1 {
				t.Errorf("%d Secrets Manager calls, want 1 (read once, kept)", n)
			}
		})
	}
	if _, err := secret.NewCredential(nil, "arn"); err == nil {
		t.Error("nil client accepted")
	}
	if _, err := secret.NewCredential(&fakeSM{}, ""); err == nil {
		t.Error("empty ARN accepted")
	}
}
