package upgrade_test

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/upgrade"
)

var knownCodes = []string{
	upgrade.CodeRequired, upgrade.CodeTooShort, upgrade.CodeTooLong, upgrade.CodeWhitespace,
	upgrade.CodeNotPrintableASCII, upgrade.CodeForbiddenCharacter, upgrade.CodeReserved,
	upgrade.CodeControlCharacter, upgrade.CodeInvalidUTF8, upgrade.CodeUnknownValue, upgrade.CodeOutOfRange,
	upgrade.CodeInvalidEmail, upgrade.CodeInvalidDomain, upgrade.CodeCustomerLimit,
}

func checkErrs(t *testing.T, field string, errs []fault.FieldError) {
	t.Helper()
	if len(errs) > 1 {
		t.Fatalf("%d errors for one field: %v", len(errs), errs)
	}
	for _, e := range errs {
		if e.Field != field || e.Message == "" || !slices.Contains(knownCodes, e.Code) {
			t.Fatalf("bad field error %+v", e)
		}
	}
}

func FuzzValidateShortName(f *testing.F) {
	for _, s := range []string{"abc", "audit", "a.b", "a b", "Contoso-OCP", "café", strings.Repeat("x", 16), `a\b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		errs := upgrade.ValidateShortName(s)
		checkErrs(t, upgrade.FieldServiceShortName, errs)
		if errs == nil {
			// Every accepted name obeys every rule of guide step 3.
			if len(s) < 3 || len(s) > 15 || strings.ContainsAny(s, `\/:*?"<>|. `) || strings.EqualFold(s, "audit") {
				t.Fatalf("accepted %q", s)
			}
			for i := 0; i < len(s); i++ {
				if s[i] < 0x21 || s[i] > 0x7e {
					t.Fatalf("accepted non-printable %q", s)
				}
			}
		}
	})
}

func FuzzValidateFullName(f *testing.F) {
	for _, s := range []string{"Contoso", "  x  ", "a\nb", "\xff", strings.Repeat("é", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, errs := upgrade.ValidateFullName(s)
		checkErrs(t, upgrade.FieldServiceFullName, errs)
		if errs == nil {
			n := utf8.RuneCountInString(got)
			if n < 1 || n > 128 || got != strings.TrimSpace(got) || !utf8.ValidString(got) {
				t.Fatalf("accepted %q as %q", s, got)
			}
			// Normalising is idempotent: the stored name validates to itself.
			if again, errs := upgrade.ValidateFullName(got); errs != nil || again != got {
				t.Fatalf("%q does not round-trip: %q %v", got, again, errs)
			}
		}
	})
}

func FuzzValidateAdminEmail(f *testing.F) {
	for _, s := range []string{"a@contoso.com", "A <a@b.c>", "a@b.c\r\nBcc: x", "@", "a@@b.c", "\"a b\"@c.d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		errs := upgrade.ValidateAdminEmail(s)
		checkErrs(t, upgrade.FieldAdminEmail, errs)
		if errs == nil && (len(s) > 254 || strings.ContainsAny(s, "\r\n <>,") || strings.Count(s, "@") < 1) {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzLicenceAndUsers(f *testing.F) {
	f.Add("OC_PRO", "OC_ESSENTIALS", 0, 10)
	f.Add("OC_ESSENTIALS_PLUS", "OC_PRO", 490, 11)
	f.Add("", "OC_ESSENTIALS_PLUS", -5, 501)
	f.Fuzz(func(t *testing.T, target, current string, reserved, n int) {
		l, errs := upgrade.ValidateTargetLicense(target)
		checkErrs(t, upgrade.FieldLicenseType, errs)
		if errs == nil {
			if l != upgrade.EssentialsPlus && l != upgrade.Pro {
				t.Fatalf("accepted licence %q", target)
			}
			for _, e := range upgrade.CheckUpgradePath(upgrade.License(current), l) {
				if e.Code != upgrade.CodeDowngrade && e.Code != upgrade.CodeSameLicense {
					t.Fatalf("licence path error %+v", e)
				}
			}
		}
		uerrs := upgrade.ValidateLicensedUsers(n)
		checkErrs(t, upgrade.FieldLicensedUsers, uerrs)
		if (uerrs == nil) != (n >= 1 && n <= 500) {
			t.Fatalf("ValidateLicensedUsers(%d) = %v", n, uerrs)
		}
		if reserved >= 0 && reserved <= 500 && n >= 0 && n <= 500 {
			cerrs := upgrade.CheckCustomerUsers(reserved, n)
			checkErrs(t, upgrade.FieldLicensedUsers, cerrs)
			if (cerrs == nil) != (reserved+n <= 500) {
				t.Fatalf("CheckCustomerUsers(%d, %d) = %v", reserved, n, cerrs)
			}
		}
	})
}

func FuzzCustomerRules(f *testing.F) {
	f.Add("Contoso", "LEAD", "contoso.com")
	f.Add("", "PARTNER", "-x-.com")
	f.Fuzz(func(t *testing.T, name, kind, domain string) {
		_, errs := upgrade.NormalizeFreeText(upgrade.FieldName, name, upgrade.CustomerNameMax)
		checkErrs(t, upgrade.FieldName, errs)
		_, errs = upgrade.ValidateCustomerKind(kind)
		checkErrs(t, upgrade.FieldKind, errs)
		d, errs := upgrade.ValidateDomain(domain)
		checkErrs(t, upgrade.FieldDomain, errs)
		if errs == nil && d != "" {
			if again, errs := upgrade.ValidateDomain(d); errs != nil || again != d {
				t.Fatalf("domain %q does not round-trip", d)
			}
		}
	})
}
