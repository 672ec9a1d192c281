package mail

import (
	"fmt"
	netmail "net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what an operator may save in its email settings.
const (
	maxSenderNameLen = 64
	maxAddressLen    = 254
	maxSubjectLen    = 200
	maxBodyLen       = 20000
	// MaxTestRecipients bounds the list of addresses test mails may go to.
	MaxTestRecipients = 10
)

// Codes of a FieldError. They are stable: the portal may switch on them.
const (
	CodeRequired           = "required"
	CodeTooLong            = "too_long"
	CodeInvalidCharacters  = "invalid_characters"
	CodeInvalidAddress     = "invalid_address"
	CodeInvalidColor       = "invalid_color"
	CodeInvalidURL         = "invalid_url"
	CodeInvalidKind        = "invalid_kind"
	CodeMissingLink        = "missing_link"
	CodeUnknownPlaceholder = "unknown_placeholder"
	CodeUnbalancedBraces   = "unbalanced_braces"
	CodeTooMany            = "too_many"
	CodeDuplicate          = "duplicate"
)

// FieldError describes one refused field: Field is the JSON name of the
// field, Code a stable machine-readable reason and Message a sentence for
// the operator.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Settings are an operator's invitation mail settings (the guide's
// "Configuring Email Settings"). Subjects and bodies are plain text with the
// placeholders {{customer}}, {{service}}, {{link}}, {{expires}} and
// {{operator}}; nothing else in them is interpreted.
type Settings struct {
	// SenderName signs the operator's own mail text, as its last line. It
	// is never a From display name: the From name is the deployment's
	// operator name, so that no operator can send as "Microsoft 365
	// Security".
	SenderName string `json:"senderName"`
	// ReplyTo is an optional bare address that replies go to.
	ReplyTo         string `json:"replyTo,omitempty"`
	WelcomeSubject  string `json:"welcomeSubject"`
	WelcomeBody     string `json:"welcomeBody"`
	ReminderSubject string `json:"reminderSubject"`
	ReminderBody    string `json:"reminderBody"`
	// TestRecipients are the addresses, besides the staff member's own,
	// that test mails may go to.
	TestRecipients []string `json:"testRecipients,omitempty"`
}

// defaultWelcomeSubject and the other defaults are shared by DefaultSettings
// and the built-in templates, so that the subject an operator sees in its
// settings is the one customers get.
const (
	defaultWelcomeSubject  = "{{operator}}: approve Microsoft Teams calling for {{customer}}"
	defaultReminderSubject = "Reminder: {{operator}} is waiting for your approval for {{customer}}"
	defaultWelcomeBody     = `Hello,

{{operator}} is upgrading {{customer}} to {{service}}. To finish, an administrator of your Microsoft 365 tenant needs to approve access once, in the Token Invitation wizard:

{{link}}

You will be asked to sign in as the tenant's Global Admin or service account admin, and to approve the requested permissions on behalf of your organization.

This link expires on {{expires}}. If it has expired, ask {{operator}} for a new one.`
	defaultReminderBody = `Hello,

{{operator}} is still waiting for an administrator of {{customer}} to approve access for {{service}}. It takes a few minutes in the Token Invitation wizard:

{{link}}

Sign in as the tenant's Global Admin or service account admin, and approve the requested permissions on behalf of your organization.

This link expires on {{expires}}.`
)

// DefaultSettings returns the settings that apply until an operator saves
// its own. They always pass Validate.
func DefaultSettings(operatorName string) Settings {
	return Settings{
		SenderName:      operatorName,
		WelcomeSubject:  defaultWelcomeSubject,
		WelcomeBody:     defaultWelcomeBody,
		ReminderSubject: defaultReminderSubject,
		ReminderBody:    defaultReminderBody,
	}
}

// Validate checks the settings as the operator saves them and returns one
// FieldError per refused field, or nil when they can be used.
func (s Settings) Validate() []FieldError {
	var errs []FieldError
	add := func(fe *FieldError) {
		if fe != nil {
			errs = append(errs, *fe)
		}
	}
	add(ValidateSenderName("senderName", s.SenderName))
	if s.ReplyTo != "" {
		add(ValidateAddress("replyTo", s.ReplyTo))
	}
	add(validateRecipients("testRecipients", s.TestRecipients))
	add(validateSubject("welcomeSubject", s.WelcomeSubject))
	add(validateBody("welcomeBody", s.WelcomeBody))
	add(validateSubject("reminderSubject", s.ReminderSubject))
	add(validateBody("reminderBody", s.ReminderBody))
	return errs
}

// ValidateSenderName checks a display name for a From header and reports
// it as a refusal of field, or nil when it can be used.
func ValidateSenderName(field, v string) *FieldError {
	switch {
	case strings.TrimSpace(v) == "":
		return &FieldError{field, CodeRequired, "Enter the sender name shown to customers."}
	case utf8.RuneCountInString(v) > maxSenderNameLen:
		return &FieldError{field, CodeTooLong, fmt.Sprintf("The sender name can be at most %d characters.", maxSenderNameLen)}
	case !utf8.ValidString(v) || hasControl(v) || strings.ContainsAny(v, `<>"`):
		return &FieldError{field, CodeInvalidCharacters, `The sender name cannot contain line breaks, control characters or < > ".`}
	}
	return nil
}

// ValidateAddress accepts exactly one bare address: no display name, no
// angle brackets, no line breaks that could add a header. A refusal names
// field.
func ValidateAddress(field, v string) *FieldError {
	if len(v) > maxAddressLen {
		return &FieldError{field, CodeTooLong, fmt.Sprintf("The address can be at most %d characters.", maxAddressLen)}
	}
	if hasControl(v) {
		return &FieldError{field, CodeInvalidAddress, "Enter one email address, such as it-support@example.com."}
	}
	a, err := netmail.ParseAddress(v)
	if err != nil || a.Name != "" || a.Address != v {
		return &FieldError{field, CodeInvalidAddress, "Enter one email address, such as it-support@example.com."}
	}
	return nil
}

func validateRecipients(field string, list []string) *FieldError {
	if len(list) > MaxTestRecipients {
		return &FieldError{field, CodeTooMany, fmt.Sprintf("Name at most %d test recipients.", MaxTestRecipients)}
	}
	seen := map[string]bool{}
	for _, a := range list {
		if fe := ValidateAddress(field, a); fe != nil {
			return fe
		}
		k := strings.ToLower(a)
		if seen[k] {
			return &FieldError{field, CodeDuplicate, "Name each test recipient once."}
		}
		seen[k] = true
	}
	return nil
}

// MayReceiveTest reports whether a test mail may go to "to": the staff
// member's own address (staff, from the sign-in token) or one of the
// operator's test recipients. Anything else would make the test mail a way
// to send the operator's text, under the service's name, to anyone.
func (s Settings) MayReceiveTest(to, staff string) bool {
	if staff != "" && strings.EqualFold(to, staff) {
		return true
	}
	for _, r := range s.TestRecipients {
		if strings.EqualFold(to, r) {
			return true
		}
	}
	return false
}

func validateSubject(field, v string) *FieldError {
	switch {
	case strings.TrimSpace(v) == "":
		return &FieldError{field, CodeRequired, "Enter a subject."}
	case utf8.RuneCountInString(v) > maxSubjectLen:
		return &FieldError{field, CodeTooLong, fmt.Sprintf("The subject can be at most %d characters.", maxSubjectLen)}
	case !utf8.ValidString(v) || hasControl(v):
		return &FieldError{field, CodeInvalidCharacters, "The subject cannot contain line breaks or control characters."}
	}
	if _, err := ParsePlaceholders(v); err != nil {
		return placeholderFieldError(field, err)
	}
	return nil
}

func validateBody(field, v string) *FieldError {
	switch {
	case strings.TrimSpace(v) == "":
		return &FieldError{field, CodeRequired, "Enter the mail text; it must contain {{link}}."}
	case utf8.RuneCountInString(v) > maxBodyLen:
		return &FieldError{field, CodeTooLong, fmt.Sprintf("The mail text can be at most %d characters.", maxBodyLen)}
	case !utf8.ValidString(v) || hasControlExceptLayout(v):
		return &FieldError{field, CodeInvalidCharacters, "The mail text cannot contain control characters."}
	}
	segs, err := ParsePlaceholders(v)
	if err != nil {
		return placeholderFieldError(field, err)
	}
	if !hasPlaceholder(segs, PlaceholderLink) {
		return &FieldError{field, CodeMissingLink, "The mail text must contain {{link}}, where the link to the Token Invitation wizard goes."}
	}
	return nil
}

func placeholderFieldError(field string, err error) *FieldError {
	pe, ok := err.(*placeholderError)
	if !ok {
		return &FieldError{field, CodeUnbalancedBraces, err.Error()}
	}
	switch pe.code {
	case CodeUnknownPlaceholder:
		return &FieldError{field, pe.code, fmt.Sprintf("Unknown placeholder {{%s}}; use {{customer}}, {{service}}, {{link}}, {{expires}} or {{operator}}.", pe.name)}
	default:
		return &FieldError{field, pe.code, fmt.Sprintf("Unbalanced braces at character %d; placeholders are written like {{link}}.", pe.offset+1)}
	}
}

// hasControl reports whether v holds any control character, line breaks
// included.
func hasControl(v string) bool {
	return strings.IndexFunc(v, unicode.IsControl) >= 0
}

// hasControlExceptLayout is hasControl for multi-line text: newlines,
// carriage returns and tabs are layout there, not injection.
func hasControlExceptLayout(v string) bool {
	return strings.IndexFunc(v, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
	}) >= 0
}
