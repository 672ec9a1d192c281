// Package mail describes the invitation mails that send a customer's IT
// administrator to the Token Invitation wizard: what a mail says
// (Invitation, Message), the operator's settings and their validation, and
// the ways a send can fail (SendError).
//
// The package stands alone and links neither a template engine nor the AWS
// SDK, so that the portal API can validate settings without either
// (text/template's executor turns off the linker's dead-method
// elimination and doubles a binary that also links the SDK). Rendering
// lives in internal/mail/layout and sending through Amazon SES v2 in
// internal/mail/ses: callers translate their own records into an
// Invitation, render it into a Message with a layout.Renderer, and hand
// the Message to a ses.Sender.
package mail

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// Kind says which mail of an invitation is sent. Its values are safe as SES
// tag values.
type Kind string

// The mails of one invitation.
const (
	KindWelcome   Kind = "welcome"
	KindReminder1 Kind = "reminder-1"
	KindReminder2 Kind = "reminder-2"
	// KindTest is the mail an operator sends itself to check its settings.
	KindTest Kind = "test"
)

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindWelcome, KindReminder1, KindReminder2, KindTest:
		return true
	}
	return false
}

// IsReminder reports whether k is one of the reminders, which use the
// reminder subject and body of an operator's settings.
func (k Kind) IsReminder() bool {
	return k == KindReminder1 || k == KindReminder2
}

// Branding is how the operator presents itself in its mails.
type Branding struct {
	// OperatorName is the operator's name, for example "Live Platform".
	OperatorName string
	// SupportAddress is where the administrator can ask questions; optional.
	SupportAddress string
	// AccentColor is the button colour as #RRGGBB; empty means the default.
	AccentColor string
}

// Invitation is everything a mail says about one invitation.
type Invitation struct {
	Kind         Kind
	Branding     Branding
	CustomerName string
	// ServiceName is the service's full name.
	ServiceName string
	// AuthURL is the link to the Token Invitation wizard on our own domain.
	// It is used as it is: no redirect or tracking wrapper.
	AuthURL   string
	ExpiresAt time.Time
}

// Message is a rendered mail, ready for a Sender.
type Message struct {
	Subject string
	HTML    string
	Text    string
	// SenderName, when set, replaces the Sender's configured display name.
	SenderName string
	// ReplyTo, when set, replaces the Sender's configured reply-to address.
	ReplyTo string
}

// isAccentColor accepts the only colour syntax allowed, #RRGGBB: it is
// inserted into inline CSS, so nothing looser is. A loop rather than a
// regular expression compiled at every cold start of every function that
// links this package.
func isAccentColor(c string) bool {
	if len(c) != 7 || c[0] != '#' {
		return false
	}
	for i := 1; i < len(c); i++ {
		b := c[i]
		if (b < '0' || b > '9') && (b < 'a' || b > 'f') && (b < 'A' || b > 'F') {
			return false
		}
	}
	return true
}

// Validate checks the invitation before it is rendered and returns one
// FieldError per problem, or nil.
func (inv Invitation) Validate() []FieldError {
	var errs []FieldError
	if !inv.Kind.Valid() {
		errs = append(errs, FieldError{"kind", CodeInvalidKind, fmt.Sprintf("Unknown mail kind %q.", inv.Kind)})
	}
	required := []struct{ field, value, what string }{
		{"operatorName", inv.Branding.OperatorName, "the operator name"},
		{"customerName", inv.CustomerName, "the customer name"},
		{"serviceName", inv.ServiceName, "the service name"},
	}
	for _, r := range required {
		if strings.TrimSpace(r.value) == "" {
			errs = append(errs, FieldError{r.field, CodeRequired, "Enter " + r.what + "."})
		}
	}
	if inv.Branding.SupportAddress != "" {
		if fe := ValidateAddress("supportAddress", inv.Branding.SupportAddress); fe != nil {
			errs = append(errs, *fe)
		}
	}
	if c := inv.Branding.AccentColor; c != "" && !isAccentColor(c) {
		errs = append(errs, FieldError{"accentColor", CodeInvalidColor, "The accent colour must be written #RRGGBB."})
	}
	if u, err := url.Parse(inv.AuthURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		errs = append(errs, FieldError{"authUrl", CodeInvalidURL, "The link must be an absolute http or https URL."})
	}
	if inv.ExpiresAt.IsZero() {
		errs = append(errs, FieldError{"expiresAt", CodeRequired, "Enter when the link expires."})
	}
	return errs
}

// InvalidError is returned by a Renderer when its input is refused.
type InvalidError struct {
	Fields []FieldError
}

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Code
	}
	return "mail: invalid input: " + strings.Join(parts, ", ")
}

// Values returns what each placeholder stands for in inv's mails.
func (inv Invitation) Values() map[string]string {
	return map[string]string{
		PlaceholderCustomer: inv.CustomerName,
		PlaceholderService:  inv.ServiceName,
		PlaceholderLink:     inv.AuthURL,
		PlaceholderExpires:  FormatExpiry(inv.ExpiresAt),
		PlaceholderOperator: inv.Branding.OperatorName,
	}
}

// FormatExpiry writes t for people, in UTC, for example
// "Monday 7 December 2026, 17:30 UTC".
func FormatExpiry(t time.Time) string {
	return t.UTC().Format("Monday 2 January 2006, 15:04 UTC")
}

// OneLine replaces control characters, line breaks included, by spaces.
func OneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
