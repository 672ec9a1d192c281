package ses_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/ocpro/upgrade/infra/seslocal"
	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/mail"
	"github.com/ocpro/upgrade/internal/mail/layout"
	"github.com/ocpro/upgrade/internal/mail/ses"
)

// TestSendToLocalSES renders each kind of mail and sends it through the real
// sesv2 client to aws-ses-v2-local, then reads the mailbox back: what
// arrives is what was rendered, with the link intact.
func TestSendToLocalSES(t *testing.T) {
	t.Parallel()
	endpoint := testenv.SES(t)
	client := sesv2.New(sesv2.Options{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(endpoint),
	})
	sender, err := ses.NewSender(client, ses.SenderConfig{
		From:             "invitations@mail.example.com",
		SenderName:       "Live Platform",
		ConfigurationSet: "invitations",
	})
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	renderer := layout.NewRenderer()

	custom := mail.DefaultSettings("Zürich Telecom")
	custom.ReplyTo = "onboarding@zurich.example.com"
	tests := []struct {
		name        string
		kind        mail.Kind
		settings    *mail.Settings
		wantReplyTo string
	}{
		{name: "welcome", kind: mail.KindWelcome},
		{name: "second reminder", kind: mail.KindReminder2},
		{name: "test mail with operator settings", kind: mail.KindTest, settings: &custom, wantReplyTo: "onboarding@zurich.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := mail.Invitation{
				Kind:         tt.kind,
				Branding:     mail.Branding{OperatorName: "Live Platform", SupportAddress: "support@live.example.com"},
				CustomerName: `Contoso <script>alert(1)</script> {{link}}`,
				ServiceName:  "Contoso Teams Calling",
				AuthURL:      "http://127.0.0.1:3000/invite/tok_" + strings.ReplaceAll(tt.name, " ", "-") + "?a=1&b=2",
				ExpiresAt:    time.Date(2026, 12, 7, 17, 30, 0, 0, time.UTC),
			}
			var (
				msg mail.Message
				err error
			)
			if tt.settings != nil {
				msg, err = renderer.RenderWithSettings(inv, *tt.settings)
			} else {
				msg, err = renderer.Render(inv)
			}
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			to := testenv.UniqueAddress(t, "admin")
			id, err := sender.Send(t.Context(), to, msg, map[string]string{"kind": string(tt.kind), "invitationId": "inv-1"})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			got, err := seslocal.WaitForMail(ctx, endpoint, to)
			if err != nil {
				t.Fatalf("WaitForMail: %v", err)
			}
			if got.MessageID != id {
				t.Errorf("stored message id %q, Send returned %q", got.MessageID, id)
			}
			if got.Subject != msg.Subject {
				t.Errorf("subject %q, want %q", got.Subject, msg.Subject)
			}
			if !strings.Contains(got.HTML, `href="`+strings.ReplaceAll(inv.AuthURL, "&", "&amp;")+`"`) {
				t.Error("the stored HTML lacks the link as href")
			}
			if !strings.Contains(got.Text, inv.AuthURL) {
				t.Error("the stored text lacks the link")
			}
			if strings.Contains(strings.ToLower(got.HTML), "<script") {
				t.Error("the customer name became a script")
			}
			if !strings.Contains(got.From, "invitations@mail.example.com") {
				t.Errorf("from %q lacks the sender address", got.From)
			}
			if tt.wantReplyTo != "" && (len(got.ReplyTo) != 1 || got.ReplyTo[0] != tt.wantReplyTo) {
				t.Errorf("reply-to %v, want %s", got.ReplyTo, tt.wantReplyTo)
			}
		})
	}
}
