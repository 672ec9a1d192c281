package main

import (
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func full() map[string]string {
	return map[string]string{
		"TABLE_NAME": "t", "EVENT_BUS_NAME": "b", "PUBLIC_BASE_URL": "https://portal.example.net",
		"LINK_KEY_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:link", "INVITATION_TTL_HOURS": "48",
		"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
		"OPERATOR_NAME": "Live Platform",
		// Resume validates the tenant in-process (resume.go).
		"ENTRA_AUTHORITY_HOST": "https://login.example", "ENTRA_CLIENT_ID": "client",
		"ENTRA_CREDENTIAL_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:entra", "GRAPH_BASE_URL": "https://graph.example",
		"TOKEN_KMS_KEY_ID": "arn:aws:kms:eu-west-1:1:key/k", "SIP_DOMAIN": "sip.example.net",
	}
}

func TestReadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		change  map[string]string
		wantErr bool
		wantTTL time.Duration
	}{
		{"complete", nil, false, 48 * time.Hour},
		{"ttl defaults to a week", map[string]string{"INVITATION_TTL_HOURS": ""}, false, 168 * time.Hour},
		{"missing table", map[string]string{"TABLE_NAME": ""}, true, 0},
		{"missing bus", map[string]string{"EVENT_BUS_NAME": ""}, true, 0},
		{"missing base URL", map[string]string{"PUBLIC_BASE_URL": ""}, true, 0},
		{"missing key ARN", map[string]string{"LINK_KEY_SECRET_ARN": ""}, true, 0},
		{"ttl not a number", map[string]string{"INVITATION_TTL_HOURS": "a week"}, true, 0},
		{"ttl too long", map[string]string{"INVITATION_TTL_HOURS": "721"}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := full()
			for k, v := range tt.change {
				m[k] = v
			}
			s, err := readSettings(env(m))
			if (err != nil) != tt.wantErr {
				t.Fatalf("readSettings() error = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && s.invitationTTL != tt.wantTTL {
				t.Errorf("TTL = %v, want %v", s.invitationTTL, tt.wantTTL)
			}
		})
	}
}

func TestWireBuildsWithoutNetwork(t *testing.T) {
	h, err := wire(context.Background(), env(full()), slog.Default())
	if err != nil || h == nil {
		t.Fatalf("wire() = %v, %v", h, err)
	}
	m := full()
	m["PUBLIC_BASE_URL"] = "not a url"
	if _, err := wire(context.Background(), env(m), slog.Default()); err == nil {
		t.Error("wire() accepted a bad PUBLIC_BASE_URL")
	}
}

// TestLinksNoSESOrMailRendering keeps the portal API small: SES
// and the mail layout belong to InvitationEmailFunction, which renders and
// sends the test mail too. That no function executes a template, which would
// keep every exported method in the binary, is checked for all of them in
// infra/bench. The tag is the one the Makefile builds with.
func TestLinksNoSESOrMailRendering(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list found only %d packages; the check would pass vacuously", len(deps))
	}
	for _, p := range deps {
		for _, banned := range []string{"github.com/aws/aws-sdk-go-v2/service/sesv2",
			"github.com/ocpro/upgrade/internal/mail/layout", "github.com/ocpro/upgrade/internal/mail/ses"} {
			if p == banned {
				t.Errorf("UpgradeRequestsFunction links %s", p)
			}
		}
	}
}
