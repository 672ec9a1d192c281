package mail_test

import (
	"fmt"
	"time"

	"github.com/ocpro/upgrade/internal/mail"
)

// ExampleRenderer_Render renders the built-in Welcome mail; a Sender then
// sends the Message.
func ExampleRenderer_Render() {
	r, err := mail.NewRenderer()
	if err != nil {
		fmt.Println(err)
		return
	}
	msg, err := r.Render(mail.Invitation{
		Kind:         mail.KindWelcome,
		Branding:     mail.Branding{OperatorName: "Live Platform", SupportAddress: "support@example.net"},
		CustomerName: "Contoso Ltd",
		ServiceName:  "Contoso Teams Calling",
		AuthURL:      "https://connect.example.net/invite/tok_123",
		ExpiresAt:    time.Date(2026, 12, 7, 17, 30, 0, 0, time.UTC),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(msg.Subject)
	// Output: Live Platform: approve Microsoft Teams calling for Contoso Ltd
}

// ExampleSettings_Validate shows the refusal an operator gets for a body
// without the link.
func ExampleSettings_Validate() {
	s := mail.DefaultSettings("Live Platform")
	s.WelcomeBody = "Hello {{customer}}, please call us."
	for _, fe := range s.Validate() {
		fmt.Println(fe.Field, fe.Code)
	}
	// Output: welcomeBody missing_link
}
