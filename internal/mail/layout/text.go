package layout

import "strings"

// The plain-text part of every mail is written here with plain Go, line by
// line, in the same wording as the HTML in layout.templ. Plain text needs no
// escaping: every value is written as it is.

// writeText writes the frame shared by every plain-text mail around the
// mail's own content: the test notice, then the contact and the password
// warning below a "--" line.
func writeText(b *strings.Builder, v view, content func(*strings.Builder, view)) {
	if v.Test {
		b.WriteString("This is a test of your invitation mail settings. The link in it is a sample and does not open a real invitation.\n\n")
	}
	content(b, v)
	b.WriteString("\n\n--\n")
	contact := "Questions? Contact your account manager at " + v.Operator + "."
	if v.Support != "" {
		contact = "Questions? Contact " + v.Operator + " at " + v.Support + "."
	}
	writeLines(b,
		contact,
		v.Operator+" will never ask for your password by mail. Enter your password only on Microsoft's own sign-in page.",
		"You received this mail because "+v.Operator+" named you as the IT administrator of "+v.Customer+". If you were not expecting it, ignore it: nothing changes until an administrator approves.",
		"",
	)
}

// welcomeText is the content of the built-in first invitation.
func welcomeText(b *strings.Builder, v view) {
	writeLines(b,
		"Hello,",
		"",
		v.Operator+" is upgrading "+v.Customer+" to "+v.Service+". To finish, an administrator of your Microsoft 365 tenant needs to approve access once, in the Token Invitation wizard:",
		"",
		v.AuthURL,
		"",
		"What will happen:",
		"1. The wizard asks you to sign in to Microsoft as the tenant's Global Admin or service account admin.",
		"2. Microsoft shows the permissions "+v.Operator+` needs. Select "Consent on behalf of your organization", then Accept.`,
		"3. The wizard confirms that it has successfully acquired a token, and "+v.Operator+" completes the upgrade.",
		"",
		expiryText(v),
	)
}

// reminderText is the content of the built-in reminders.
func reminderText(b *strings.Builder, v view) {
	writeLines(b,
		"Hello,",
		"",
		lastReminder(v)+v.Operator+" is still waiting for an administrator of "+v.Customer+" to approve access for "+v.Service+". It takes a few minutes in the Token Invitation wizard:",
		"",
		v.AuthURL,
		"",
		`Sign in to Microsoft as the tenant's Global Admin or service account admin, select "Consent on behalf of your organization", then Accept.`,
		"",
		expiryText(v),
	)
}

// customText is an operator's own text with the placeholders filled in, as
// the operator wrote it.
func customText(b *strings.Builder, v view) {
	b.WriteString(v.Body)
}

func expiryText(v view) string {
	return "This link expires on " + v.Expires + ". If it has expired, ask " + v.Operator + " for a new one."
}

// writeLines writes lines separated by newlines; a last empty line ends the
// text with a newline.
func writeLines(b *strings.Builder, lines ...string) {
	b.WriteString(strings.Join(lines, "\n"))
}
