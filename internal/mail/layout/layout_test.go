package layout

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/mail"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// sampleInvitation is a fixed invitation for the golden files.
func sampleInvitation(kind mail.Kind) mail.Invitation {
	return mail.Invitation{
		Kind: kind,
		Branding: mail.Branding{
			OperatorName:   "Live Platform",
			SupportAddress: "support@live.example.net",
			AccentColor:    "#0A7E3D",
		},
		CustomerName: "Contoso Ltd",
		ServiceName:  "Contoso Teams Calling",
		AuthURL:      "https://connect.live.example.net/invite/tok_8f3a2c?ref=mail&lang=en",
		ExpiresAt:    time.Date(2026, 12, 7, 17, 30, 0, 0, time.UTC),
	}
}

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	r := NewRenderer()
	custom := mail.DefaultSettings("Live Platform")
	custom.SenderName = "Live Platform Onboarding"
	custom.ReplyTo = "onboarding@live.example.net"
	custom.WelcomeBody = "Dear admin of {{customer}},\nplease approve {{service}}.\n\n{{link}}\n\nOr paste {{link}} into a browser before {{expires}}.\n\nThanks,\n{{operator}}"

	tests := []struct {
		name     string
		kind     mail.Kind
		settings *mail.Settings
	}{
		{"welcome", mail.KindWelcome, nil},
		{"reminder-1", mail.KindReminder1, nil},
		{"reminder-2", mail.KindReminder2, nil},
		{"test", mail.KindTest, nil},
		{"settings-welcome", mail.KindWelcome, &custom},
		{"settings-reminder-1", mail.KindReminder1, &custom},
		{"settings-test", mail.KindTest, &custom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := sampleInvitation(tt.kind)
			var (
				msg mail.Message
				err error
			)
			if tt.settings == nil {
				msg, err = r.Render(inv)
			} else {
				msg, err = r.RenderWithSettings(inv, *tt.settings)
			}
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			checkMail(t, msg, inv)
			golden(t, tt.name+".html", msg.HTML)
			golden(t, tt.name+".txt", "Subject: "+msg.Subject+"\n\n"+msg.Text)
		})
	}
}

// checkMail asserts what every invitation mail must hold, whatever the
// wording: the link as href and as text, the expiry, no active or remote
// content, a phone-friendly layout.
func checkMail(t *testing.T, msg mail.Message, inv mail.Invitation) {
	t.Helper()
	hrefURL := strings.ReplaceAll(inv.AuthURL, "&", "&amp;")
	expires := mail.FormatExpiry(inv.ExpiresAt)
	mustContain := map[string]string{
		"link as href":       `href="` + hrefURL + `"`,
		"link as text":       ">" + hrefURL + "</a>",
		"expiry":             expires,
		"lang attribute":     `<html lang="en"`,
		"viewport":           `name="viewport"`,
		"max-width":          "max-width:600px",
		"no-password notice": "will never ask for your password",
		"operator":           inv.Branding.OperatorName,
	}
	for what, want := range mustContain {
		if !strings.Contains(oneLine(msg.HTML), want) {
			t.Errorf("HTML lacks the %s %q", what, want)
		}
	}
	lower := strings.ToLower(oneLine(msg.HTML))
	for _, banned := range []string{"<script", `src="http`, "<img", "<link", "@import", "<style", "javascript:"} {
		if strings.Contains(lower, banned) {
			t.Errorf("HTML contains %q", banned)
		}
	}
	for _, want := range []string{inv.AuthURL, expires, "will never ask for your password"} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	// Every href points straight at the wizard or is the support mailto:
	// no redirect or tracking wrapper.
	for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(oneLine(msg.HTML), -1) {
		if m[1] != hrefURL && !strings.HasPrefix(m[1], "mailto:") {
			t.Errorf("unexpected href %q", m[1])
		}
	}
}

// oneLine undoes wrapHTML, which breaks the HTML's lines at spaces, so
// that a check can look for a phrase or a tag whatever the line width.
func oneLine(html string) string { return strings.ReplaceAll(html, "\n", " ") }

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatalf("update golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file; run go test ./internal/mail/layout -update and review the diff\ngot:\n%s", name, got)
	}
}

func TestRenderContent(t *testing.T) {
	t.Parallel()
	r := NewRenderer()
	tests := []struct {
		name        string
		kind        mail.Kind
		subject     string
		htmlHas     []string
		htmlHasNot  []string
		senderName  string
		textHasNot  []string
		accent      string
		buttonColor string
	}{
		{
			name:        "welcome explains sign-in and consent",
			kind:        mail.KindWelcome,
			subject:     "Live Platform: approve Microsoft Teams calling for Contoso Ltd",
			htmlHas:     []string{"Global Admin or service account admin", "Consent on behalf of your organization", "Open the Token Invitation wizard", "mailto:support@live.example.net"},
			htmlHasNot:  []string{"last reminder", "This is a test"},
			senderName:  "Live Platform",
			accent:      "#0A7E3D",
			buttonColor: "#FFFFFF",
		},
		{
			name:        "first reminder is not the last",
			kind:        mail.KindReminder1,
			subject:     "Reminder: Live Platform is waiting for your approval for Contoso Ltd",
			htmlHas:     []string{"still waiting"},
			htmlHasNot:  []string{"last reminder"},
			senderName:  "Live Platform",
			accent:      "#FFD400",
			buttonColor: "#111111",
		},
		{
			name:        "second reminder says it is the last",
			kind:        mail.KindReminder2,
			subject:     "Reminder: Live Platform is waiting for your approval for Contoso Ltd",
			htmlHas:     []string{"This is the last reminder."},
			senderName:  "Live Platform",
			accent:      "",
			buttonColor: "#FFFFFF",
		},
		{
			name:        "test mail is marked as a test",
			kind:        mail.KindTest,
			subject:     "[Test] Live Platform: approve Microsoft Teams calling for Contoso Ltd",
			htmlHas:     []string{"This is a test of your invitation mail settings."},
			senderName:  "Live Platform",
			accent:      "#000000",
			buttonColor: "#FFFFFF",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := sampleInvitation(tt.kind)
			inv.Branding.AccentColor = tt.accent
			msg, err := r.Render(inv)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if msg.Subject != tt.subject {
				t.Errorf("subject = %q, want %q", msg.Subject, tt.subject)
			}
			if msg.SenderName != tt.senderName {
				t.Errorf("sender name = %q, want %q", msg.SenderName, tt.senderName)
			}
			for _, s := range tt.htmlHas {
				if !strings.Contains(oneLine(msg.HTML), s) {
					t.Errorf("HTML lacks %q", s)
				}
			}
			for _, s := range tt.htmlHasNot {
				if strings.Contains(oneLine(msg.HTML), s) {
					t.Errorf("HTML has %q", s)
				}
			}
			if want := "color:" + tt.buttonColor; !strings.Contains(oneLine(msg.HTML), want) {
				t.Errorf("button text colour: HTML lacks %q", want)
			}
		})
	}
}

func TestRenderRefusesBadInvitation(t *testing.T) {
	t.Parallel()
	r := NewRenderer()
	tests := []struct {
		name   string
		modify func(*mail.Invitation)
		field  string
		code   string
	}{
		{"unknown kind", func(i *mail.Invitation) { i.Kind = "reminder-3" }, "kind", mail.CodeInvalidKind},
		{"no operator", func(i *mail.Invitation) { i.Branding.OperatorName = " " }, "operatorName", mail.CodeRequired},
		{"no customer", func(i *mail.Invitation) { i.CustomerName = "" }, "customerName", mail.CodeRequired},
		{"no service", func(i *mail.Invitation) { i.ServiceName = "" }, "serviceName", mail.CodeRequired},
		{"bad support address", func(i *mail.Invitation) { i.Branding.SupportAddress = "Help <help@example.net>" }, "supportAddress", mail.CodeInvalidAddress},
		{"colour name", func(i *mail.Invitation) { i.Branding.AccentColor = "red" }, "accentColor", mail.CodeInvalidColor},
		{"colour CSS injection", func(i *mail.Invitation) { i.Branding.AccentColor = "#fff;background:url(x)" }, "accentColor", mail.CodeInvalidColor},
		{"short colour", func(i *mail.Invitation) { i.Branding.AccentColor = "#fff" }, "accentColor", mail.CodeInvalidColor},
		{"javascript link", func(i *mail.Invitation) { i.AuthURL = "javascript:alert(1)" }, "authUrl", mail.CodeInvalidURL},
		{"relative link", func(i *mail.Invitation) { i.AuthURL = "/invite/abc" }, "authUrl", mail.CodeInvalidURL},
		{"link with credentials", func(i *mail.Invitation) { i.AuthURL = "https://user:pw@example.net/invite" }, "authUrl", mail.CodeInvalidURL},
		{"no expiry", func(i *mail.Invitation) { i.ExpiresAt = time.Time{} }, "expiresAt", mail.CodeRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := sampleInvitation(mail.KindWelcome)
			tt.modify(&inv)
			for _, render := range []func(mail.Invitation) (mail.Message, error){
				r.Render,
				func(inv mail.Invitation) (mail.Message, error) {
					return r.RenderWithSettings(inv, mail.DefaultSettings("Op"))
				},
			} {
				_, err := render(inv)
				var ie *mail.InvalidError
				if !errors.As(err, &ie) {
					t.Fatalf("err = %v, want *mail.InvalidError", err)
				}
				if len(ie.Fields) != 1 || ie.Fields[0].Field != tt.field || ie.Fields[0].Code != tt.code {
					t.Errorf("fields = %+v, want one %s/%s", ie.Fields, tt.field, tt.code)
				}
			}
		})
	}
}

func TestRenderWithSettingsRefusesBadSettings(t *testing.T) {
	t.Parallel()
	r := NewRenderer()
	s := mail.DefaultSettings("Live Platform")
	s.WelcomeBody = "no link here"
	_, err := r.RenderWithSettings(sampleInvitation(mail.KindWelcome), s)
	var ie *mail.InvalidError
	if !errors.As(err, &ie) || len(ie.Fields) != 1 || ie.Fields[0].Code != mail.CodeMissingLink {
		t.Fatalf("err = %v, want a missing_link mail.InvalidError", err)
	}
}

// TestRenderInjection feeds hostile values through both paths: they must
// come out as text, never as markup, never as a placeholder.
func TestRenderInjection(t *testing.T) {
	t.Parallel()
	r := NewRenderer()
	tests := []struct {
		name     string
		customer string
		service  string
		body     string
	}{
		{"script in customer name", `<script>alert("x")</script>`, "Svc", ""},
		{"placeholder in customer name", "{{link}} Corp", "Svc", ""},
		{"attribute breakout in service", `Svc" onmouseover="alert(1)`, "x", ""},
		{"markup in operator body", "Contoso", "Svc", "<b>Hi</b> <script>x()</script>\n\n{{link}}"},
		{"placeholder value with line breaks", "Contoso\r\nBcc: victim@example.net", "Svc", "Hi {{customer}}\n\n{{link}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := sampleInvitation(mail.KindWelcome)
			inv.CustomerName, inv.ServiceName = tt.customer, tt.service
			msgs := map[string]mail.Message{}
			var err error
			if msgs["built-in"], err = r.Render(inv); err != nil {
				t.Fatalf("Render: %v", err)
			}
			s := mail.DefaultSettings("Live Platform")
			if tt.body != "" {
				s.WelcomeBody = tt.body
			}
			if msgs["settings"], err = r.RenderWithSettings(inv, s); err != nil {
				t.Fatalf("RenderWithSettings: %v", err)
			}
			for path, msg := range msgs {
				html := oneLine(msg.HTML)
				lower := strings.ToLower(html)
				if strings.Contains(lower, "<script") || strings.Contains(lower, "<b>") || strings.Contains(html, `" onmouseover`) {
					t.Errorf("%s: hostile input became markup", path)
				}
				if strings.Contains(msg.Subject, "\n") || strings.Contains(msg.Subject, "\r") {
					t.Errorf("%s: subject %q holds a line break", path, msg.Subject)
				}
				// The only links are the wizard and the support address:
				// a customer called "{{link}}" must not add one.
				if n := strings.Count(html, "<a "); n != 3 && path == "built-in" {
					t.Errorf("%s: %d links, want 3 (button, plain URL, support)", path, n)
				}
				if strings.Contains(tt.customer, "{{link}}") && !strings.Contains(msg.Text, "{{link}} Corp") {
					t.Errorf("%s: the customer name's {{link}} was not kept as text", path)
				}
			}
		})
	}
}

// TestButtonSanitizesHostileAccent renders the button with accent colours
// that mail.Invitation.Validate refuses, bypassing it as a future caller
// might: the colour must never leave the bgcolor attribute or become CSS
// other than a single inert value.
func TestButtonSanitizesHostileAccent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		accent string
	}{
		{"extra declaration", "#fff;background:url(https://evil.example/x)"},
		{"attribute breakout", `#fff" onclick="alert(1)`},
		{"style breakout", "#fff</style><script>alert(1)</script>"},
		{"CSS comment", "#fff/**/;position:fixed"},
		{"expression", "expression(alert(1))"},
	}
	styleAttr := regexp.MustCompile(`style="([^"]*)"`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newView(sampleInvitation(mail.KindWelcome))
			v.Accent = tt.accent
			var b strings.Builder
			if err := button(v).Render(context.Background(), &b); err != nil {
				t.Fatalf("render: %v", err)
			}
			html := b.String()
			lower := strings.ToLower(html)
			if strings.Contains(lower, "<script") || strings.Contains(lower, `" onclick`) {
				t.Errorf("hostile accent became markup:\n%s", html)
			}
			for _, m := range styleAttr.FindAllStringSubmatch(html, -1) {
				style := strings.ToLower(m[1])
				for _, banned := range []string{"url(", "expression(", "position:", "background:", "/*", "<"} {
					if strings.Contains(style, banned) {
						t.Errorf("style %q holds %q", m[1], banned)
					}
				}
			}
			if n := strings.Count(html, "background-color:zTemplUnsafeCSSPropertyValue;"); n != 2 {
				t.Errorf("want the accent replaced by templ's inert value in both styles, found %d:\n%s", n, html)
			}
		})
	}
}

func TestParagraphs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		body       string
		paragraphs int
		buttons    int
	}{
		{"link alone is a button", "Hi\n\n{{link}}\n\nBye", 3, 1},
		{"link in a sentence is inline", "Open {{link}} now", 1, 0},
		{"link with spaces around is a button", "Hi\n\n  {{link}}  \n", 2, 1},
		{"windows line breaks", "Hi\r\n\r\n{{link}}\r\n", 2, 1},
		{"lines inside a paragraph stay together", "one\ntwo\nthree\n\n{{link}}", 2, 1},
		{"many blank lines are one break", "a\n\n\n\n\nb {{link}}", 2, 0},
		{"two links on a line are inline", "{{link}} {{link}}", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			segs, err := mail.ParsePlaceholders(tt.body)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			ps := paragraphs(segs, map[string]string{})
			buttons := 0
			for _, p := range ps {
				if p.Button {
					buttons++
				}
			}
			if len(ps) != tt.paragraphs || buttons != tt.buttons {
				t.Errorf("got %d paragraphs, %d buttons; want %d, %d", len(ps), buttons, tt.paragraphs, tt.buttons)
			}
		})
	}
}

func TestFormatExpiry(t *testing.T) {
	t.Parallel()
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"UTC", time.Date(2026, 12, 7, 17, 30, 0, 0, time.UTC), "Monday 7 December 2026, 17:30 UTC"},
		{"other zone converted to UTC", time.Date(2026, 1, 1, 0, 15, 0, 0, berlin), "Wednesday 31 December 2025, 23:15 UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := mail.FormatExpiry(tt.in); got != tt.want {
				t.Errorf("mail.FormatExpiry = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRenderSenderName(t *testing.T) {
	t.Parallel()
	r := NewRenderer()
	tests := []struct {
		name     string
		operator string
		want     string
	}{
		{"operator name is the sender name", "Live Platform", "Live Platform"},
		{"a name unfit for a From header is left to the Sender", `The "Best" Telecom`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := sampleInvitation(mail.KindWelcome)
			inv.Branding.OperatorName = tt.operator
			msg, err := r.Render(inv)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if msg.SenderName != tt.want {
				t.Errorf("SenderName = %q, want %q", msg.SenderName, tt.want)
			}
		})
	}
}

// FuzzRenderWithSettings checks the promise of mail.Settings.Validate that
// the layout relies on: settings it accepts always render, with the link
// and a one-line subject.
func FuzzRenderWithSettings(f *testing.F) {
	d := mail.DefaultSettings("Live Platform")
	f.Add(d.SenderName, d.ReplyTo, d.WelcomeSubject, d.WelcomeBody)
	f.Add("Op", "a@example.net", "{{customer}}", "{{link}}")
	f.Add("Zürich", "x@y.z", "{{ expires }}", "{{link}}\n\n{{link}} {{operator}}")
	f.Add("Microsoft 365 Security", "a@b.example", "Sign in at https://evil.example", "www.evil.example {{link}} evil.example")
	r := NewRenderer()
	f.Fuzz(func(t *testing.T, sender, replyTo, subject, body string) {
		s := mail.Settings{SenderName: sender, ReplyTo: replyTo, WelcomeSubject: subject, WelcomeBody: body, ReminderSubject: subject, ReminderBody: body}
		if s.Validate() != nil {
			return
		}
		for _, kind := range []mail.Kind{mail.KindWelcome, mail.KindReminder2} {
			inv := sampleInvitation(kind)
			msg, err := r.RenderWithSettings(inv, s)
			if err != nil {
				t.Fatalf("valid settings do not render: %v", err)
			}
			if msg.SenderName != inv.Branding.OperatorName {
				t.Fatalf("From display name %q comes from the settings", msg.SenderName)
			}
			if links := operatorLinks(inv, msg); len(links) > 0 {
				t.Fatalf("operator text became links: %q", links)
			}
			if strings.ContainsAny(msg.Subject, "\r\n") {
				t.Fatalf("subject %q holds a line break", msg.Subject)
			}
			if !strings.Contains(msg.Text, sampleInvitation(kind).AuthURL) {
				t.Fatal("rendered text lacks the link")
			}
		}
	})
}

// autolink is what a mail client would turn into a link on its own.
var autolink = regexp.MustCompile(`(?i)[a-z][a-z0-9+.\-]*://|www[.．。]|\b(?:mailto|tel|sip):|[\p{L}\p{N}-]+(?:[.．。｡․﹒][\p{L}\p{N}-]+)*[.．。｡․﹒]\p{L}[\p{L}\p{N}-]*`)

// hrefs finds the targets of the links in a mail's HTML.
var hrefs = regexp.MustCompile(`href="([^"]*)"`)

// operatorLinks returns what in msg would be a link that the service did
// not put there: an href other than the link or the support address, or
// text a client would link once the link and the deployment's own
// addresses are taken out.
func operatorLinks(inv mail.Invitation, msg mail.Message) []string {
	var found []string
	for _, m := range hrefs.FindAllStringSubmatch(msg.HTML, -1) {
		if h := strings.ReplaceAll(m[1], "&amp;", "&"); h != inv.AuthURL && h != "mailto:"+inv.Branding.SupportAddress {
			found = append(found, "href "+h)
		}
	}
	// The preview line may cut the link short: its start is still the
	// service's own.
	origin := inv.AuthURL[:strings.Index(inv.AuthURL, "/invite/")]
	trusted := strings.NewReplacer(inv.AuthURL, " ", strings.ReplaceAll(inv.AuthURL, "&", "&amp;"), " ", origin, " ",
		inv.Branding.SupportAddress, " ", "mailto:", " ")
	for _, part := range []string{msg.Subject, msg.Text, msg.HTML} {
		// Markup is not text: only what a reader sees can be linked.
		text := strings.ReplaceAll(part, "<wbr>", "")
		text = trusted.Replace(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(text, " "))
		found = append(found, autolink.FindAllString(text, -1)...)
	}
	return found
}

// The operator chooses its settings' texts and its customers' and
// services' names: none of them may reach a mail as a link or as the
// sender's name.
func TestOperatorTextLinksNothing(t *testing.T) {
	t.Parallel()
	r := NewRenderer()
	s := mail.Settings{
		SenderName:      "Microsoft 365 Security",
		WelcomeSubject:  "Action needed: sign in at https://evil.example for {{customer}}",
		WelcomeBody:     "Your account is locked. Sign in at www.evil.example or evil.example/login, or mail boss@evil.example.\n\n{{link}}\n\nhttps://{{customer}}/x and {{service}}",
		ReminderSubject: "{{customer}}",
		ReminderBody:    "{{link}}",
	}
	if errs := s.Validate(); errs != nil {
		t.Fatalf("settings refused: %v", errs)
	}
	inv := sampleInvitation(mail.KindTest)
	inv.CustomerName, inv.ServiceName = "contoso.example", "Teams via https://evil.example/teams"
	msg, err := r.RenderWithSettings(inv, s)
	if err != nil {
		t.Fatal(err)
	}
	if msg.SenderName != "Live Platform" {
		t.Errorf("From display name = %q, want the deployment's operator name", msg.SenderName)
	}
	if links := operatorLinks(inv, msg); len(links) > 0 {
		t.Errorf("operator text became links: %q\n%s", links, msg.Text)
	}
	if !strings.Contains(msg.Text, "Microsoft 365 Security") || !strings.Contains(msg.Text, "evil[.]example") {
		t.Errorf("the operator's text is not shown, defanged:\n%s", msg.Text)
	}
	def, err := r.Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	if links := operatorLinks(inv, def); len(links) > 0 {
		t.Errorf("customer and service names became links in the built-in mail: %q", links)
	}
}
