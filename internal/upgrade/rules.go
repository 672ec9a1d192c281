package upgrade

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ocpro/upgrade/internal/fault"
)

// Field names, as the portal sends them. Field errors name these so that the
// portal can put the message next to the right input.
const (
	FieldName             = "name"
	FieldKind             = "kind"
	FieldDomain           = "domain"
	FieldServiceFullName  = "serviceFullName"
	FieldServiceShortName = "serviceShortName"
	FieldLicenseType      = "licenseType"
	FieldLicensedUsers    = "licensedUsers"
	FieldAdminEmail       = "adminEmail"
	FieldStatus           = "status"
	FieldLimit            = "limit"
	FieldCursor           = "cursor"
	FieldIdempotencyKey   = "Idempotency-Key"
)

// Field error codes. They are part of the API: the portal may switch on them.
const (
	CodeRequired              = "required"
	CodeTooShort              = "too_short"
	CodeTooLong               = "too_long"
	CodeWhitespace            = "whitespace"
	CodeNotPrintableASCII     = "not_printable_ascii"
	CodeForbiddenCharacter    = "forbidden_character"
	CodeReserved              = "reserved"
	CodeControlCharacter      = "control_character"
	CodeInvalidUTF8           = "invalid_utf8"
	CodeUnknownValue          = "unknown_value"
	CodeOutOfRange            = "out_of_range"
	CodeDowngrade             = "downgrade"
	CodeSameLicense           = "same_license"
	CodeCustomerLimit         = "customer_limit_exceeded"
	CodeInvalidEmail          = "invalid_email"
	CodeInvalidDomain         = "invalid_domain"
	CodeTaken                 = "taken"
	CodeInvalidCursor         = "invalid_cursor"
	CodeIdempotencyKeyReused  = "idempotency_key_reused"
	CodeInvalidIdempotencyKey = "invalid_idempotency_key"
)

// Limits of the input rules (PRODUCT.md "Rules for input").
const (
	ShortNameMin    = 3
	ShortNameMax    = 15
	FullNameMax     = 128
	CustomerNameMax = 128
	EmailMax        = 254
	DomainMax       = 253
	MinUsers        = 1
)

// forbiddenShortNameChars are the characters guide step 3 forbids, plus the
// dot it forbids in the next bullet.
const forbiddenShortNameChars = `\/:*?"<>|.`

// reservedShortNames are names no service may take; guide step 3 lists
// "audit" right after the forbidden characters.
var reservedShortNames = map[string]bool{"audit": true}

// ValidateShortName checks a service short name (guide step 3): 3 to 15
// characters, printable ASCII only, no white space of any kind, none of
// \ / : * ? " < > | and no dot, and not the reserved name "audit" in any
// case. Uniqueness per operator is the store's job. It reports at most one
// error, the most basic one first.
func ValidateShortName(s string) []fault.FieldError {
	bad := func(code, msg string) []fault.FieldError {
		return []fault.FieldError{{Field: FieldServiceShortName, Code: code, Message: msg}}
	}
	if s == "" {
		return bad(CodeRequired, "Enter a short name for the service.")
	}
	if !utf8.ValidString(s) {
		return bad(CodeNotPrintableASCII, "The short name may only contain printable ASCII characters.")
	}
	for _, r := range s {
		if unicode.IsSpace(r) {
			return bad(CodeWhitespace, "The short name cannot contain spaces or other white space.")
		}
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			return bad(CodeNotPrintableASCII, "The short name may only contain printable ASCII characters.")
		}
	}
	if i := strings.IndexAny(s, forbiddenShortNameChars); i >= 0 {
		return bad(CodeForbiddenCharacter, fmt.Sprintf(`The short name cannot contain %q: \ / : * ? " < > | and the dot are not allowed.`, s[i]))
	}
	if n := len(s); n < ShortNameMin {
		return bad(CodeTooShort, fmt.Sprintf("The short name must be at least %d characters long.", ShortNameMin))
	} else if n > ShortNameMax {
		return bad(CodeTooLong, fmt.Sprintf("The short name must be at most %d characters long.", ShortNameMax))
	}
	if reservedShortNames[strings.ToLower(s)] {
		return bad(CodeReserved, fmt.Sprintf("The short name %q is reserved.", s))
	}
	return nil
}

// NormalizeFreeText trims s and validates it as free text of 1 to max
// characters without control characters, reporting errors on field. It
// returns the trimmed text.
func NormalizeFreeText(field, s string, max int) (string, []fault.FieldError) {
	bad := func(code, msg string) (string, []fault.FieldError) {
		return s, []fault.FieldError{{Field: field, Code: code, Message: msg}}
	}
	if !utf8.ValidString(s) {
		return bad(CodeInvalidUTF8, "The text is not valid UTF-8.")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return bad(CodeRequired, "Enter a name.")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return bad(CodeControlCharacter, "The text cannot contain control characters such as line breaks or tabs.")
		}
	}
	if n := utf8.RuneCountInString(s); n > max {
		return bad(CodeTooLong, fmt.Sprintf("The text must be at most %d characters long.", max))
	}
	return s, nil
}

// ValidateFullName checks the service's full name (guide step 2: free text):
// 1 to 128 characters after trimming, no control characters. It returns the
// trimmed name.
func ValidateFullName(s string) (string, []fault.FieldError) {
	return NormalizeFreeText(FieldServiceFullName, s, FullNameMax)
}

// ValidateTargetLicense checks the licence an upgrade asks for (guide step 4):
// OC_ESSENTIALS_PLUS or OC_PRO.
func ValidateTargetLicense(s string) (License, []fault.FieldError) {
	switch l := License(s); l {
	case EssentialsPlus, Pro:
		return l, nil
	case "":
		return "", []fault.FieldError{{Field: FieldLicenseType, Code: CodeRequired, Message: "Select the OC Essentials Plus or OC Pro licence type."}}
	}
	return "", []fault.FieldError{{Field: FieldLicenseType, Code: CodeUnknownValue,
		Message: fmt.Sprintf("The licence type must be %s or %s.", EssentialsPlus, Pro)}}
}

// CheckUpgradePath refuses a downgrade and an "upgrade" to the licence the
// customer already holds.
func CheckUpgradePath(current, target License) []fault.FieldError {
	switch {
	case target.Rank() == current.Rank():
		return []fault.FieldError{{Field: FieldLicenseType, Code: CodeSameLicense,
			Message: fmt.Sprintf("The customer already holds %s.", current)}}
	case target.Rank() < current.Rank():
		return []fault.FieldError{{Field: FieldLicenseType, Code: CodeDowngrade,
			Message: fmt.Sprintf("The customer holds %s; %s would be a downgrade.", current, target)}}
	}
	return nil
}

// ValidateLicensedUsers checks the number of licensed users of one service
// (guide step 5): a whole number from 1 to 500.
func ValidateLicensedUsers(n int) []fault.FieldError {
	if n < MinUsers || n > MaxUsersPerCustomer {
		return []fault.FieldError{{Field: FieldLicensedUsers, Code: CodeOutOfRange,
			Message: fmt.Sprintf("The number of licensed users must be between %d and %d.", MinUsers, MaxUsersPerCustomer)}}
	}
	return nil
}

// CheckCustomerUsers refuses n more users for a customer that already has
// reserved users, when together they exceed 500 (guide step 5: "a maximum of
// 500 users can be configured per customer").
func CheckCustomerUsers(reserved, n int) []fault.FieldError {
	if reserved+n > MaxUsersPerCustomer {
		return []fault.FieldError{{Field: FieldLicensedUsers, Code: CodeCustomerLimit,
			Message: fmt.Sprintf("The customer already has %d licensed users; at most %d more can be added.",
				reserved, max(0, MaxUsersPerCustomer-reserved))}}
	}
	return nil
}

// ValidateAdminEmail checks the administrator's address (guide step 6): one
// bare address, no display name, no line breaks, at most 254 characters.
func ValidateAdminEmail(s string) []fault.FieldError {
	bad := func(code, msg string) []fault.FieldError {
		return []fault.FieldError{{Field: FieldAdminEmail, Code: code, Message: msg}}
	}
	if s == "" {
		return bad(CodeRequired, "Enter the email address of the tenant's Global Admin or service account admin.")
	}
	if len(s) > EmailMax {
		return bad(CodeTooLong, fmt.Sprintf("The email address must be at most %d characters long.", EmailMax))
	}
	for _, r := range s {
		if r <= 0x20 || r >= 0x7f {
			return bad(CodeInvalidEmail, "Enter one email address without a name, spaces or line breaks.")
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return bad(CodeInvalidEmail, "Enter one email address without a name, spaces or line breaks.")
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || !strings.Contains(s[at+1:], ".") {
		return bad(CodeInvalidEmail, "The email address needs a domain such as contoso.com.")
	}
	return nil
}

// ValidateCustomerKind checks the customer's kind: LEAD or CUSTOMER.
func ValidateCustomerKind(s string) (CustomerKind, []fault.FieldError) {
	switch k := CustomerKind(s); k {
	case KindLead, KindCustomer:
		return k, nil
	case "":
		return "", []fault.FieldError{{Field: FieldKind, Code: CodeRequired, Message: "Say whether this is a LEAD or a CUSTOMER."}}
	}
	return "", []fault.FieldError{{Field: FieldKind, Code: CodeUnknownValue,
		Message: fmt.Sprintf("The kind must be %s or %s.", KindLead, KindCustomer)}}
}

// ValidateDomain checks an optional DNS domain such as contoso.com and
// returns it in lower case: at least two labels of letters, digits and
// hyphens, each 1 to 63 characters not starting or ending with a hyphen.
func ValidateDomain(s string) (string, []fault.FieldError) {
	if s == "" {
		return "", nil
	}
	bad := []fault.FieldError{{Field: FieldDomain, Code: CodeInvalidDomain, Message: "Enter a DNS domain such as contoso.com."}}
	if len(s) > DomainMax {
		return s, bad
	}
	d := strings.ToLower(s)
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return s, bad
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return s, bad
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return s, bad
			}
		}
	}
	return d, nil
}

// ValidateIdempotencyKey checks an Idempotency-Key: 1 to 255 printable ASCII
// characters.
func ValidateIdempotencyKey(s string) []fault.FieldError {
	if s == "" || len(s) > 255 {
		return []fault.FieldError{{Field: FieldIdempotencyKey, Code: CodeInvalidIdempotencyKey,
			Message: "The Idempotency-Key must be 1 to 255 printable characters."}}
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return []fault.FieldError{{Field: FieldIdempotencyKey, Code: CodeInvalidIdempotencyKey,
				Message: "The Idempotency-Key must be 1 to 255 printable characters."}}
		}
	}
	return nil
}

// ValidateInvitationStatus checks a status filter; empty means any.
func ValidateInvitationStatus(s string) (InvitationStatus, []fault.FieldError) {
	if s == "" {
		return "", nil
	}
	for _, st := range InvitationStatuses {
		if string(st) == s {
			return st, nil
		}
	}
	return "", []fault.FieldError{{Field: FieldStatus, Code: CodeUnknownValue, Message: "Unknown invitation status."}}
}

// ValidatePage checks a page request and fills in the default size.
func ValidatePage(p Page) (Page, []fault.FieldError) {
	if p.Limit == 0 {
		p.Limit = DefaultPageSize
	}
	if p.Limit < 1 || p.Limit > MaxPageSize {
		return p, []fault.FieldError{{Field: FieldLimit, Code: CodeOutOfRange,
			Message: fmt.Sprintf("The limit must be between 1 and %d.", MaxPageSize)}}
	}
	return p, nil
}
