package mail_test

import (
	"regexp"
	"testing"

	"github.com/ocpro/upgrade/internal/mail"
)

// autolink is what a mail client would turn into a link: a scheme, "www.",
// or a host name ending in a label of letters, with look-alike dots.
var autolink = regexp.MustCompile(`(?i)[a-z][a-z0-9+.\-]*://|www[.．。]|\b(?:mailto|tel|sip):|[\p{L}\p{N}-]+(?:[.．。｡․﹒][\p{L}\p{N}-]+)*[.．。｡․﹒]\p{L}[\p{L}\p{N}-]*`)

func TestDefang(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"Visit https://evil.example/login now", "Visit https[:]//evil[.]example/login now"},
		{"www.evil.example", "www[.]evil[.]example"},
		{"Contoso.com Ltd", "Contoso[.]com Ltd"},
		{"write to it@contoso.com", "write to it@contoso[.]com"},
		{"mailto:boss", "mailto[:]boss"},
		{"evil。example", "evil[.]example"},
		{"Version 1.5 of 2026.12", "Version 1.5 of 2026.12"},
		{"Microsoft 365 Security", "Microsoft 365 Security"},
		{"", ""},
	} {
		if got := mail.Defang(tc.in); got != tc.want {
			t.Errorf("Defang(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	link := "https://portal.example.net/invite/abc.def"
	if got := mail.DefangAround("Open "+link+" or evil.example", link); got != "Open "+link+" or evil[.]example" {
		t.Errorf("DefangAround = %q", got)
	}
}

func FuzzDefang(f *testing.F) {
	for _, s := range []string{"https://evil.example", "www.x.y", "a.b.c.de", "x@y.zz", "HTTPS://A.B", "tel:+4412", "1.2.3", "evil．example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if m := autolink.FindString(mail.Defang(s)); m != "" {
			t.Fatalf("Defang(%q) = %q still links %q", s, mail.Defang(s), m)
		}
	})
}
