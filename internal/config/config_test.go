package config

import (
	"github.com/ocpro/upgrade/internal/quota"
	"slices"
	"strings"
	"testing"
	"time"
)

func getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func TestReaderNamesEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		read    func(*Reader)
		wantErr string
	}{
		{"all set", map[string]string{"TABLE_NAME": "t", "OPERATOR_NAME": "b"},
			func(r *Reader) { Table.Read(r); OperatorName.Read(r) }, ""},
		{"one missing", map[string]string{"TABLE_NAME": "t"},
			func(r *Reader) { Table.Read(r); PublicBaseURL.Read(r) }, "not set: PUBLIC_BASE_URL"},
		{"every missing one, sorted", map[string]string{"TABLE_NAME": "t"},
			func(r *Reader) { TokenKeyID.Read(r); Table.Read(r); LinkKeySecretARN.Read(r) },
			"not set: LINK_KEY_SECRET_ARN, TOKEN_KMS_KEY_ID"},
		{"missing and malformed together", map[string]string{"INVITATION_TTL_HOURS": "a week", "REMINDER_OFFSETS_HOURS": "72,24"},
			func(r *Reader) { Table.Read(r); InvitationTTL.Read(r); Reminders.Read(r) },
			`not set: TABLE_NAME; INVITATION_TTL_HOURS: invitation TTL "a week": want whole hours from 1 to 720; REMINDER_OFFSETS_HOURS: reminder offsets "72,24": must increase`},
		{"nothing read", nil, func(*Reader) {}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := NewReader(getenv(tt.env))
			tt.read(r)
			err := r.Err()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Err() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestRules(t *testing.T) {
	t.Parallel()
	t.Run("the public base URL loses its trailing slash", func(t *testing.T) {
		t.Parallel()
		r := NewReader(getenv(map[string]string{"PUBLIC_BASE_URL": "https://portal.example.net/"}))
		if got := PublicBaseURL.Read(r); got != "https://portal.example.net" || r.Err() != nil {
			t.Errorf("PublicBaseURL = %q, %v", got, r.Err())
		}
	})
	t.Run("the link lifetime defaults to a week", func(t *testing.T) {
		t.Parallel()
		r := NewReader(getenv(nil))
		if got := InvitationTTL.Read(r); got != 168*time.Hour || r.Err() != nil {
			t.Errorf("InvitationTTL = %v, %v", got, r.Err())
		}
	})
	t.Run("no reminder offsets mean no reminders", func(t *testing.T) {
		t.Parallel()
		r := NewReader(getenv(nil))
		if got := Reminders.Read(r); len(got.Offsets) != 0 || r.Err() != nil {
			t.Errorf("Reminders = %+v, %v", got, r.Err())
		}
	})
	t.Run("reminder offsets", func(t *testing.T) {
		t.Parallel()
		r := NewReader(getenv(map[string]string{"REMINDER_OFFSETS_HOURS": "24,72"}))
		if got := Reminders.Read(r); !slices.Equal(got.Offsets, []time.Duration{24 * time.Hour, 72 * time.Hour}) || r.Err() != nil {
			t.Errorf("Reminders = %+v, %v", got, r.Err())
		}
	})
	t.Run("required roles are a list of at least one", func(t *testing.T) {
		t.Parallel()
		r := NewReader(getenv(map[string]string{"ENTRA_REQUIRED_ROLES": " Organization.Read.All, User.Read.All ,"}))
		if got := EntraRequiredRoles.Read(r); !slices.Equal(got, []string{"Organization.Read.All", "User.Read.All"}) || r.Err() != nil {
			t.Errorf("EntraRequiredRoles = %q, %v", got, r.Err())
		}
		for _, bad := range []string{"", " , ,"} {
			r := NewReader(getenv(map[string]string{"ENTRA_REQUIRED_ROLES": bad}))
			if got := EntraRequiredRoles.Read(r); got != nil || r.Err() == nil {
				t.Errorf("EntraRequiredRoles(%q) = %q, %v; want an error", bad, got, r.Err())
			}
		}
	})
	t.Run("the support address is optional but must be one bare address", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			in      string
			wantErr bool
		}{{"", false}, {"help@live.example.net", false}, {"Help <help@live.example.net>", true}, {"a@b\r\nBcc: x@y", true}} {
			r := NewReader(getenv(map[string]string{"SUPPORT_ADDRESS": tt.in}))
			got := SupportAddress.Read(r)
			if (r.Err() != nil) != tt.wantErr || (!tt.wantErr && got != tt.in) {
				t.Errorf("SupportAddress(%q) = %q, %v; wantErr %v", tt.in, got, r.Err(), tt.wantErr)
			}
		}
	})
	t.Run("per-operator limits", func(t *testing.T) {
		t.Parallel()
		r := NewReader(getenv(map[string]string{"TEST_MAILS_PER_HOUR": "3"}))
		if got := OperatorRequests.Read(r); got != (quota.Rule{Limit: 600, Window: time.Minute}) || r.Err() != nil {
			t.Errorf("OperatorRequests = %+v, %v", got, r.Err())
		}
		if got := TestMails.Read(r); got != (quota.Rule{Limit: 3, Window: time.Hour}) || r.Err() != nil {
			t.Errorf("TestMails = %+v, %v", got, r.Err())
		}
		for _, bad := range []string{"0", "-1", "1.5", "+5", " 5", "100001", "ten"} {
			r := NewReader(getenv(map[string]string{"OPERATOR_REQUESTS_PER_MINUTE": bad}))
			if got := OperatorRequests.Read(r); got.Limit != 0 || r.Err() == nil {
				t.Errorf("OperatorRequests(%q) = %+v, %v; want an error", bad, got, r.Err())
			}
		}
	})
	t.Run("a malformed value reads as the zero value", func(t *testing.T) {
		t.Parallel()
		r := NewReader(getenv(map[string]string{"INVITATION_TTL_HOURS": "0"}))
		if got := InvitationTTL.Read(r); got != 0 || !strings.HasPrefix(r.Err().Error(), "INVITATION_TTL_HOURS: ") {
			t.Errorf("InvitationTTL = %v, %v", got, r.Err())
		}
	})
}

func TestReadEntra(t *testing.T) {
	t.Parallel()
	r := NewReader(getenv(map[string]string{"ENTRA_AUTHORITY_HOST": "https://login.example", "ENTRA_CLIENT_ID": "c",
		"ENTRA_REQUIRED_ROLES": "Organization.Read.All"}))
	e := ReadEntra(r)
	if e.AuthorityHost != "https://login.example" || e.ClientID != "c" || !slices.Equal(e.RequiredRoles, []string{"Organization.Read.All"}) {
		t.Errorf("ReadEntra = %+v", e)
	}
	if err := r.Err(); err == nil || err.Error() != "not set: ENTRA_CREDENTIAL_SECRET_ARN, TOKEN_KMS_KEY_ID" {
		t.Errorf("Err() = %v", err)
	}
}

func TestNamesListsEveryDefinitionOnce(t *testing.T) {
	t.Parallel()
	names := Names()
	if len(names) < 18 {
		t.Fatalf("Names() = %v; some definitions are not listed", names)
	}
	for i, n := range names {
		if i > 0 && names[i-1] == n {
			t.Errorf("%s is defined twice", n)
		}
		if n != strings.ToUpper(n) || strings.HasPrefix(n, "AWS_") {
			t.Errorf("%s: want upper case, outside Lambda's reserved AWS_ names", n)
		}
	}
	for _, n := range []string{Table.Name, EntraRequiredRoles.Name, SupportAddress.Name, Reminders.Name} {
		if !slices.Contains(names, n) {
			t.Errorf("Names() misses %s", n)
		}
	}
}

// FuzzRead gives every variable the same arbitrary text: reading never
// panics, and a refusal names the variables it refuses.
func FuzzRead(f *testing.F) {
	for _, s := range []string{"", "24,72", " , ,", "168", "help@live.example.net", "a@b\r\nBcc: x@y", "Organization.Read.All,User.Read.All"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := NewReader(func(string) string { return s })
		Table.Read(r)
		PublicBaseURL.Read(r)
		InvitationTTL.Read(r)
		Reminders.Read(r)
		SupportAddress.Read(r)
		ReadEntra(r)
		if err := r.Err(); err != nil {
			msg := err.Error()
			named := strings.HasPrefix(msg, "not set: ") || slices.ContainsFunc(Names(), func(n string) bool {
				return strings.HasPrefix(msg, n+": ")
			})
			if !named {
				t.Errorf("Err() = %q does not start with a variable's name", msg)
			}
		}
	})
}
