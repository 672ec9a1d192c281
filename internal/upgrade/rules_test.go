package upgrade_test

import (
	"strings"
	"testing"

	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/upgrade"
)

func code(errs []fault.FieldError) string {
	if len(errs) == 0 {
		return ""
	}
	return errs[0].Code
}

// Guide step 3: "The string should be 3-15 characters long", "The following
// characters cannot be used: \ / : * ? " < > |audit", "cannot contain the
// dot (.) or blank spaces".
func TestValidateShortName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"three characters is the shortest (guide step 3)", "abc", ""},
		{"fifteen characters is the longest (guide step 3)", strings.Repeat("a", 15), ""},
		{"letters of both cases, digits, specials (guide step 3)", "Ab-1_+!@#$%^&()", ""},
		{"empty", "", upgrade.CodeRequired},
		{"two characters (guide step 3)", "ab", upgrade.CodeTooShort},
		{"sixteen characters (guide step 3)", strings.Repeat("a", 16), upgrade.CodeTooLong},
		{"backslash (guide step 3)", `a\bc`, upgrade.CodeForbiddenCharacter},
		{"slash (guide step 3)", "a/bc", upgrade.CodeForbiddenCharacter},
		{"colon (guide step 3)", "a:bc", upgrade.CodeForbiddenCharacter},
		{"star (guide step 3)", "a*bc", upgrade.CodeForbiddenCharacter},
		{"question mark (guide step 3)", "a?bc", upgrade.CodeForbiddenCharacter},
		{"double quote (guide step 3)", `a"bc`, upgrade.CodeForbiddenCharacter},
		{"less than (guide step 3)", "a<bc", upgrade.CodeForbiddenCharacter},
		{"greater than (guide step 3)", "a>bc", upgrade.CodeForbiddenCharacter},
		{"pipe (guide step 3)", "a|bc", upgrade.CodeForbiddenCharacter},
		{"dot (guide step 3)", "a.bc", upgrade.CodeForbiddenCharacter},
		{"blank space (guide step 3)", "a bc", upgrade.CodeWhitespace},
		{"tab", "a\tbc", upgrade.CodeWhitespace},
		{"no-break space", "a\u00a0bc", upgrade.CodeWhitespace},
		{"non-ASCII letter", "café", upgrade.CodeNotPrintableASCII},
		{"control character", "a\x01bc", upgrade.CodeNotPrintableASCII},
		{"invalid UTF-8", "ab\xffc", upgrade.CodeNotPrintableASCII},
		{"reserved audit (guide step 3)", "audit", upgrade.CodeReserved},
		{"reserved audit in any case (guide step 3)", "AuDiT", upgrade.CodeReserved},
		{"audit inside a longer name is fine", "audit-team", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := upgrade.ValidateShortName(tt.in)
			if got := code(errs); got != tt.want {
				t.Errorf("ValidateShortName(%q) = %v, want code %q", tt.in, errs, tt.want)
			}
			for _, e := range errs {
				if e.Field != upgrade.FieldServiceShortName || e.Message == "" {
					t.Errorf("bad field error %+v", e)
				}
			}
		})
	}
}

// Guide step 2: "Enter Full Name of service – Free Text."
func TestValidateFullName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want, wantName string
	}{
		{"free text (guide step 2)", "Contoso – Teams Calling (UK)", "", "Contoso – Teams Calling (UK)"},
		{"trimmed", "  Contoso  ", "", "Contoso"},
		{"128 characters", strings.Repeat("é", 128), "", strings.Repeat("é", 128)},
		{"129 characters", strings.Repeat("é", 129), upgrade.CodeTooLong, ""},
		{"blank", "   ", upgrade.CodeRequired, ""},
		{"line break", "Contoso\nCalling", upgrade.CodeControlCharacter, ""},
		{"invalid UTF-8", "Contoso\xff", upgrade.CodeInvalidUTF8, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, errs := upgrade.ValidateFullName(tt.in)
			if code(errs) != tt.want {
				t.Errorf("ValidateFullName(%q) = %v, want %q", tt.in, errs, tt.want)
			}
			if tt.want == "" && got != tt.wantName {
				t.Errorf("ValidateFullName(%q) = %q, want %q", tt.in, got, tt.wantName)
			}
		})
	}
}

// Guide step 4: "Select the OC Essentials Plus or OC Pro license Type."
func TestLicenceRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		current upgrade.License
		target  string
		want    string
	}{
		{"essentials to plus (guide step 4)", upgrade.Essentials, "OC_ESSENTIALS_PLUS", ""},
		{"essentials to pro (guide step 4)", upgrade.Essentials, "OC_PRO", ""},
		{"plus to pro", upgrade.EssentialsPlus, "OC_PRO", ""},
		{"pro to pro", upgrade.Pro, "OC_PRO", upgrade.CodeSameLicense},
		{"plus to plus", upgrade.EssentialsPlus, "OC_ESSENTIALS_PLUS", upgrade.CodeSameLicense},
		{"pro to plus", upgrade.Pro, "OC_ESSENTIALS_PLUS", upgrade.CodeDowngrade},
		{"essentials is not a target", upgrade.Essentials, "OC_ESSENTIALS", upgrade.CodeUnknownValue},
		{"unknown licence", upgrade.Essentials, "OC_GOLD", upgrade.CodeUnknownValue},
		{"lower case is not accepted", upgrade.Essentials, "oc_pro", upgrade.CodeUnknownValue},
		{"missing", upgrade.Essentials, "", upgrade.CodeRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target, errs := upgrade.ValidateTargetLicense(tt.target)
			if errs == nil {
				errs = upgrade.CheckUpgradePath(tt.current, target)
			}
			if code(errs) != tt.want {
				t.Errorf("got %v, want code %q", errs, tt.want)
			}
		})
	}
}

// Guide step 5: "A maximum of 500 users can be configured per customer."
func TestUserRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		reserved, n int
		want        string
	}{
		{"one user", 0, 1, ""},
		{"500 users (guide step 5)", 0, 500, ""},
		{"zero users", 0, 0, upgrade.CodeOutOfRange},
		{"negative", 0, -1, upgrade.CodeOutOfRange},
		{"501 users (guide step 5)", 0, 501, upgrade.CodeOutOfRange},
		{"fills the customer to 500 (guide step 5)", 380, 120, ""},
		{"one over the customer's 500 (guide step 5)", 381, 120, upgrade.CodeCustomerLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := upgrade.ValidateLicensedUsers(tt.n)
			if errs == nil {
				errs = upgrade.CheckCustomerUsers(tt.reserved, tt.n)
			}
			if code(errs) != tt.want {
				t.Errorf("got %v, want %q", errs, tt.want)
			}
		})
	}
}

// Guide step 6: "enter the email address of the Tenant service Global admin
// or Service account admin."
func TestValidateAdminEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"plain address (guide step 6)", "globaladmin@contoso.com", ""},
		{"plus and subdomain", "it+ocp@mail.contoso.co.uk", ""},
		{"empty", "", upgrade.CodeRequired},
		{"display name", "Admin <admin@contoso.com>", upgrade.CodeInvalidEmail},
		{"two addresses", "a@contoso.com,b@contoso.com", upgrade.CodeInvalidEmail},
		{"header injection", "a@contoso.com\r\nBcc: x@evil.example", upgrade.CodeInvalidEmail},
		{"no domain dot", "admin@localhost", upgrade.CodeInvalidEmail},
		{"no at", "admin.contoso.com", upgrade.CodeInvalidEmail},
		{"255 characters", strings.Repeat("a", 243) + "@contoso.com", upgrade.CodeTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := code(upgrade.ValidateAdminEmail(tt.in)); got != tt.want {
				t.Errorf("ValidateAdminEmail(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// Guide step 1: a lead or a customer of the Tenants page.
func TestCustomerRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, kind, domain, want string
	}{
		{"lead (guide step 1)", "LEAD", "", ""},
		{"customer with domain (guide step 1)", "CUSTOMER", "Contoso.COM", ""},
		{"unknown kind", "PARTNER", "", upgrade.CodeUnknownValue},
		{"missing kind", "", "", upgrade.CodeRequired},
		{"single-label domain", "LEAD", "contoso", upgrade.CodeInvalidDomain},
		{"domain with hyphen edge", "LEAD", "-contoso.com", upgrade.CodeInvalidDomain},
		{"domain with space", "LEAD", "con toso.com", upgrade.CodeInvalidDomain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, errs := upgrade.ValidateCustomerKind(tt.kind)
			d, derrs := upgrade.ValidateDomain(tt.domain)
			errs = append(errs, derrs...)
			if code(errs) != tt.want {
				t.Errorf("got %v, want %q", errs, tt.want)
			}
			if tt.want == "" && d != strings.ToLower(tt.domain) {
				t.Errorf("domain = %q, want lower case", d)
			}
		})
	}
}
