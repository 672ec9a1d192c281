package upgrade_test

import (
	"regexp"
	"testing"

	"github.com/ocpro/upgrade/internal/upgrade"
)

var lowerGUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestValidateTenantID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"5E1D0C2B-7A49-4F38-8B6D-0C9E3F2A1B74", "5e1d0c2b-7a49-4f38-8b6d-0c9e3f2a1b74", true},
		{"contoso.onmicrosoft.com", "", false},
		{"{5e1d0c2b-7a49-4f38-8b6d-0c9e3f2a1b74}", "", false},
		{"5e1d0c2b7a494f388b6d0c9e3f2a1b74", "", false},
		{" 5e1d0c2b-7a49-4f38-8b6d-0c9e3f2a1b74", "", false},
	}
	for _, tt := range tests {
		got, errs := upgrade.ValidateTenantID(tt.in)
		if (len(errs) == 0) != tt.ok || tt.ok && got != tt.want {
			t.Errorf("ValidateTenantID(%q) = %q, %v", tt.in, got, errs)
		}
		for _, e := range errs {
			if e.Field != upgrade.FieldTenantID || e.Code != upgrade.CodeInvalidTenantID || e.Message == "" {
				t.Errorf("field error %+v", e)
			}
		}
	}
}

func FuzzValidateTenantID(f *testing.F) {
	for _, s := range []string{"", "5e1d0c2b-7a49-4f38-8b6d-0c9e3f2a1b74", "contoso.example", "\x00", "5E1D0C2B-7A49-4F38-8B6D-0C9E3F2A1B74\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, errs := upgrade.ValidateTenantID(s)
		if len(errs) > 1 {
			t.Fatalf("%d errors", len(errs))
		}
		if len(errs) == 0 && s != "" && !lowerGUID.MatchString(got) {
			t.Fatalf("accepted %q as %q", s, got)
		}
	})
}
