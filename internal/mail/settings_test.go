package mail

import (
	"strings"
	"testing"
)

func TestDefaultSettingsAreValid(t *testing.T) {
	t.Parallel()
	for _, op := range []string{"Live Platform", "Zürich Telecom AG"} {
		if errs := DefaultSettings(op).Validate(); errs != nil {
			t.Errorf("DefaultSettings(%q).Validate() = %+v", op, errs)
		}
	}
}

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*Settings)
		field  string
		code   string
		// inMessage must appear in the FieldError's message.
		inMessage string
	}{
		{"sender name empty", func(s *Settings) { s.SenderName = "" }, "senderName", CodeRequired, ""},
		{"sender name blank", func(s *Settings) { s.SenderName = "   " }, "senderName", CodeRequired, ""},
		{"sender name too long", func(s *Settings) { s.SenderName = strings.Repeat("a", 65) }, "senderName", CodeTooLong, "64"},
		{"sender name with CR LF", func(s *Settings) { s.SenderName = "Op\r\nBcc: x@example.net" }, "senderName", CodeInvalidCharacters, ""},
		{"sender name with angle bracket", func(s *Settings) { s.SenderName = "Op <evil@example.net>" }, "senderName", CodeInvalidCharacters, ""},
		{"sender name with quote", func(s *Settings) { s.SenderName = `Op "Support"` }, "senderName", CodeInvalidCharacters, ""},
		{"reply-to with display name", func(s *Settings) { s.ReplyTo = "Help <help@example.net>" }, "replyTo", CodeInvalidAddress, ""},
		{"reply-to in brackets", func(s *Settings) { s.ReplyTo = "<help@example.net>" }, "replyTo", CodeInvalidAddress, ""},
		{"reply-to two addresses", func(s *Settings) { s.ReplyTo = "a@example.net, b@example.net" }, "replyTo", CodeInvalidAddress, ""},
		{"reply-to not an address", func(s *Settings) { s.ReplyTo = "helpdesk" }, "replyTo", CodeInvalidAddress, ""},
		{"reply-to with newline", func(s *Settings) { s.ReplyTo = "a@example.net\nBcc: b@example.net" }, "replyTo", CodeInvalidAddress, ""},
		{"reply-to too long", func(s *Settings) { s.ReplyTo = strings.Repeat("a", 250) + "@example.net" }, "replyTo", CodeTooLong, "254"},
		{"welcome subject empty", func(s *Settings) { s.WelcomeSubject = "" }, "welcomeSubject", CodeRequired, ""},
		{"welcome subject too long", func(s *Settings) { s.WelcomeSubject = strings.Repeat("é", 201) }, "welcomeSubject", CodeTooLong, "200"},
		{"welcome subject with newline", func(s *Settings) { s.WelcomeSubject = "Hi\nBcc: x" }, "welcomeSubject", CodeInvalidCharacters, ""},
		{"reminder subject unknown placeholder", func(s *Settings) { s.ReminderSubject = "Hi {{tenant}}" }, "reminderSubject", CodeUnknownPlaceholder, "{{tenant}}"},
		{"reminder subject unbalanced", func(s *Settings) { s.ReminderSubject = "Hi {{customer" }, "reminderSubject", CodeUnbalancedBraces, ""},
		{"welcome body empty", func(s *Settings) { s.WelcomeBody = "" }, "welcomeBody", CodeRequired, ""},
		{"welcome body without link", func(s *Settings) { s.WelcomeBody = "Hello {{customer}}" }, "welcomeBody", CodeMissingLink, "{{link}}"},
		{"reminder body without link", func(s *Settings) { s.ReminderBody = "Please act." }, "reminderBody", CodeMissingLink, ""},
		{"welcome body too long", func(s *Settings) { s.WelcomeBody = "{{link}}" + strings.Repeat("x", 20000) }, "welcomeBody", CodeTooLong, "20000"},
		{"welcome body unknown placeholder", func(s *Settings) { s.WelcomeBody = "{{link}} {{password}}" }, "welcomeBody", CodeUnknownPlaceholder, "{{password}}"},
		{"welcome body Go template action", func(s *Settings) { s.WelcomeBody = "{{link}} {{.Customer}}" }, "welcomeBody", CodeUnknownPlaceholder, "{{.Customer}}"},
		{"welcome body Go template call", func(s *Settings) { s.WelcomeBody = `{{link}} {{printf "%s" "x"}}` }, "welcomeBody", CodeUnknownPlaceholder, "printf"},
		{"welcome body stray closing braces", func(s *Settings) { s.WelcomeBody = "{{link}} oops}}" }, "welcomeBody", CodeUnbalancedBraces, ""},
		{"welcome body unclosed", func(s *Settings) { s.WelcomeBody = "{{link}} {{customer" }, "welcomeBody", CodeUnbalancedBraces, ""},
		{"welcome body nested", func(s *Settings) { s.WelcomeBody = "{{link}} {{ {{customer}} }}" }, "welcomeBody", CodeUnbalancedBraces, ""},
		{"welcome body control character", func(s *Settings) { s.WelcomeBody = "{{link}}\x00" }, "welcomeBody", CodeInvalidCharacters, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := DefaultSettings("Live Platform")
			tt.modify(&s)
			errs := s.Validate()
			if len(errs) != 1 {
				t.Fatalf("Validate() = %+v, want exactly one error", errs)
			}
			got := errs[0]
			if got.Field != tt.field || got.Code != tt.code {
				t.Errorf("got %s/%s, want %s/%s", got.Field, got.Code, tt.field, tt.code)
			}
			if got.Message == "" || !strings.Contains(got.Message, tt.inMessage) {
				t.Errorf("message %q should mention %q", got.Message, tt.inMessage)
			}
		})
	}
}

func TestSettingsValidateAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*Settings)
	}{
		{"reply-to set", func(s *Settings) { s.ReplyTo = "it-support@example.net" }},
		{"non-ASCII sender name", func(s *Settings) { s.SenderName = "Zürich Telecom – Onboarding" }},
		{"sender name at limit", func(s *Settings) { s.SenderName = strings.Repeat("ü", 64) }},
		{"spaces inside placeholder", func(s *Settings) { s.WelcomeBody = "Open {{ link }}" }},
		{"single braces are text", func(s *Settings) { s.WelcomeBody = "JSON {\"a\": 1} {{link}}" }},
		{"body at limit", func(s *Settings) { s.WelcomeBody = "{{link}}" + strings.Repeat("x", 20000-8) }},
		{"tabs and CRLF in body", func(s *Settings) { s.ReminderBody = "Hi\r\n\tthere\r\n\r\n{{link}}" }},
		{"subject without placeholders", func(s *Settings) { s.WelcomeSubject = "Please approve access" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := DefaultSettings("Live Platform")
			tt.modify(&s)
			if errs := s.Validate(); errs != nil {
				t.Errorf("Validate() = %+v, want nil", errs)
			}
		})
	}
}

func TestSettingsValidateReportsEveryField(t *testing.T) {
	t.Parallel()
	errs := Settings{}.Validate()
	want := []string{"senderName", "welcomeSubject", "welcomeBody", "reminderSubject", "reminderBody"}
	if len(errs) != len(want) {
		t.Fatalf("Validate() = %+v, want %d errors", errs, len(want))
	}
	for i, f := range want {
		if errs[i].Field != f {
			t.Errorf("error %d is for %q, want %q", i, errs[i].Field, f)
		}
	}
}

// FuzzSettingsValidate checks that Validate never panics and that settings
// it accepts can always be rendered: what an operator saves must not fail
// later, when a customer's mail is due.
func FuzzSettingsValidate(f *testing.F) {
	d := DefaultSettings("Live Platform")
	f.Add(d.SenderName, d.ReplyTo, d.WelcomeSubject, d.WelcomeBody)
	f.Add("Op", "a@example.net", "{{customer}}", "{{link}}")
	f.Add("Op\r\n", "<a@b>", "{{", "}}{{link}}")
	f.Add("Zürich", "x@y.z", "{{ expires }}", "{{link}}\n\n{{link}} {{operator}}")
	f.Fuzz(func(t *testing.T, sender, replyTo, subject, body string) {
		s := Settings{SenderName: sender, ReplyTo: replyTo, WelcomeSubject: subject, WelcomeBody: body, ReminderSubject: subject, ReminderBody: body}
		for _, fe := range s.Validate() {
			if fe.Field == "" || fe.Code == "" || fe.Message == "" {
				t.Fatalf("incomplete FieldError %+v", fe)
			}
		}
	})
}
