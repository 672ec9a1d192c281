package layout_test

import (
	"fmt"
	"time"

	"github.com/ocpro/upgrade/internal/mail"
	"github.com/ocpro/upgrade/internal/mail/layout"
)

// ExampleRenderer_Render renders the built-in Welcome mail; a ses.Sender
// then sends the Message.
func ExampleRenderer_Render() {
	r := layout.NewRenderer()
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
