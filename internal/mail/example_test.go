package mail_test

import (
	"fmt"

	"github.com/ocpro/upgrade/internal/mail"
)

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
