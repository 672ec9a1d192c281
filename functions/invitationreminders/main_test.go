package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/ocpro/upgrade/infra/template/templatetest"
)

// TestReadsWhatTheTemplateGives starts the function as deployed and fails
// when it reads a variable template.yaml does not give it, or is given one
// it never reads.
func TestReadsWhatTheTemplateGives(t *testing.T) {
	templatetest.CheckReads(t, "InvitationRemindersFunction", func(getenv func(string) string) error {
		_, err := wire(context.Background(), getenv, slog.New(slog.DiscardHandler))
		return err
	})
}
