package main

import (
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"testing"

	"github.com/ocpro/upgrade/infra/template/templatetest"
)

const function = "UpgradeRequestsFunction"

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
	t.Parallel()
	tests := []struct {
		name    string
		change  map[string]string
		wantErr bool
	}{
		{"as deployed", nil, false},
		{"ttl defaults to a week", map[string]string{"INVITATION_TTL_HOURS": ""}, false},
		{"no reminders", map[string]string{"REMINDER_OFFSETS_HOURS": ""}, false},
		{"missing table", map[string]string{"TABLE_NAME": ""}, true},
		{"missing base URL", map[string]string{"PUBLIC_BASE_URL": ""}, true},
		{"base URL not a URL", map[string]string{"PUBLIC_BASE_URL": "not a url"}, true},
		{"missing key ARN", map[string]string{"LINK_KEY_SECRET_ARN": ""}, true},
		{"missing operator name", map[string]string{"OPERATOR_NAME": ""}, true},
		{"missing SIP domain", map[string]string{"SIP_DOMAIN": ""}, true},
		{"missing required roles", map[string]string{"ENTRA_REQUIRED_ROLES": ""}, true},
		{"ttl not a number", map[string]string{"INVITATION_TTL_HOURS": "a week"}, true},
		{"ttl too long", map[string]string{"INVITATION_TTL_HOURS": "721"}, true},
		{"reminders not increasing", map[string]string{"REMINDER_OFFSETS_HOURS": "72,24"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := templatetest.Env(t, function)
			for k, v := range tt.change {
				env[k] = v
			}
			h, err := wire(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
			if (err != nil) != tt.wantErr || (err == nil && h == nil) {
				t.Fatalf("wire() = %v, %v; wantErr %v", h, err, tt.wantErr)
			}
		})
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
