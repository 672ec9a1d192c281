// Package layout renders invitation mails: a mail.Invitation and, when the
// operator saved its own, its mail.Settings become a mail.Message in HTML
// and plain text, from the html/template and text/template files embedded
// here.
//
// Only InvitationEmailFunction imports it. Executing a text/template turns
// off the Go linker's dead-method elimination, which keeps every exported
// method of every AWS SDK type linked into the same binary (issue 7), so
// the portal API validates settings with package mail alone and leaves
// rendering, the test mail included, to the mail function.
package layout

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"math"
	"strconv"
	"strings"
	texttemplate "text/template"

	"github.com/ocpro/upgrade/internal/mail"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// defaultAccent is the button colour when the operator has not chosen one.
const defaultAccent = "#0B5CAD"

// testSubjectPrefix marks a test mail so that nobody mistakes it for a real
// invitation.
const testSubjectPrefix = "[Test] "

// Renderer turns a mail.Invitation into a mail.Message with the embedded
// html/template and text/template layouts. It is safe for concurrent use.
type Renderer struct {
	html map[string]*htmltemplate.Template
	text map[string]*texttemplate.Template
}

// The template sets: the built-in welcome and reminder mails, and the frame
// for an operator's own text.
const (
	setWelcome  = "welcome"
	setReminder = "reminder"
	setCustom   = "custom"
)

// NewRenderer parses the embedded templates.
func NewRenderer() (*Renderer, error) {
	r := &Renderer{
		html: make(map[string]*htmltemplate.Template),
		text: make(map[string]*texttemplate.Template),
	}
	for _, set := range []string{setWelcome, setReminder, setCustom} {
		h, err := htmltemplate.New(set).Option("missingkey=error").
			ParseFS(templateFS, "templates/layout.html.tmpl", "templates/"+set+".html.tmpl")
		if err != nil {
			return nil, fmt.Errorf("layout: parse %s HTML template: %w", set, err)
		}
		t, err := texttemplate.New(set).Option("missingkey=error").
			ParseFS(templateFS, "templates/layout.txt.tmpl", "templates/"+set+".txt.tmpl")
		if err != nil {
			return nil, fmt.Errorf("layout: parse %s text template: %w", set, err)
		}
		r.html[set], r.text[set] = h, t
	}
	return r, nil
}

// view is what the templates see. Every field is plain text; html/template
// escapes each one for where it appears.
type view struct {
	Subject    string
	Preheader  string
	Operator   string
	Support    string
	Customer   string
	Service    string
	AuthURL    string
	Expires    string
	Accent     string
	ButtonText string
	Test       bool
	Final      bool
	// Paragraphs and Body carry an operator's own text.
	Paragraphs []paragraph
	Body       string
}

// paragraph is one block of an operator's text.
type paragraph struct {
	// Button is set when the paragraph holds nothing but {{link}}.
	Button bool
	Lines  [][]part
}

// part is a run of text or the link within a line.
type part struct {
	Text string
	Link bool
}

// Render renders the built-in mail for inv: the wording an operator gets
// until it saves its own settings.
func (r *Renderer) Render(inv mail.Invitation) (mail.Message, error) {
	if errs := inv.Validate(); errs != nil {
		return mail.Message{}, &mail.InvalidError{Fields: errs}
	}
	defaults := mail.DefaultSettings(inv.Branding.OperatorName)
	v := newView(inv)
	subject, err := r.subject(inv, defaults)
	if err != nil {
		return mail.Message{}, err
	}
	v.Subject = subject
	set := setWelcome
	if inv.Kind.IsReminder() {
		set = setReminder
	}
	msg, err := r.execute(set, v)
	if err != nil {
		return mail.Message{}, err
	}
	// The operator's name is the natural sender name, but only if it fits
	// in a From header; otherwise the Sender's configured name applies.
	if mail.ValidateSenderName("senderName", defaults.SenderName) == nil {
		msg.SenderName = defaults.SenderName
	}
	return msg, nil
}

// RenderWithSettings renders inv with an operator's saved settings: its
// subject and its plain-text body, escaped and set into the same frame as
// the built-in mails, so the contact and the password warning stay.
func (r *Renderer) RenderWithSettings(inv mail.Invitation, s mail.Settings) (mail.Message, error) {
	errs := append(inv.Validate(), s.Validate()...)
	if errs != nil {
		return mail.Message{}, &mail.InvalidError{Fields: errs}
	}
	body := s.WelcomeBody
	if inv.Kind.IsReminder() {
		body = s.ReminderBody
	}
	segs, err := mail.ParsePlaceholders(body)
	if err != nil {
		// Validate has parsed the same text, so this is a bug, not bad input.
		return mail.Message{}, fmt.Errorf("layout: parse body: %w", err)
	}
	v := newView(inv)
	v.Subject, err = r.subject(inv, s)
	if err != nil {
		return mail.Message{}, err
	}
	values := inv.Values()
	v.Body = mail.Substitute(segs, values)
	v.Paragraphs = paragraphs(segs, values)
	v.Preheader = firstWords(v.Body, 100)
	msg, err := r.execute(setCustom, v)
	if err != nil {
		return mail.Message{}, err
	}
	msg.SenderName, msg.ReplyTo = s.SenderName, s.ReplyTo
	return msg, nil
}

// subject fills in the subject of s that fits inv.Kind.
func (r *Renderer) subject(inv mail.Invitation, s mail.Settings) (string, error) {
	tmpl := s.WelcomeSubject
	if inv.Kind.IsReminder() {
		tmpl = s.ReminderSubject
	}
	segs, err := mail.ParsePlaceholders(tmpl)
	if err != nil {
		return "", fmt.Errorf("layout: parse subject: %w", err)
	}
	values := inv.Values()
	// A subject is one header line: a value with a line break in it must
	// not start a new header.
	for k, val := range values {
		values[k] = mail.OneLine(val)
	}
	subject := mail.Substitute(segs, values)
	if inv.Kind == mail.KindTest {
		subject = testSubjectPrefix + subject
	}
	return subject, nil
}

func (r *Renderer) execute(set string, v view) (mail.Message, error) {
	var h, t bytes.Buffer
	if err := r.html[set].ExecuteTemplate(&h, "layout", v); err != nil {
		return mail.Message{}, fmt.Errorf("layout: render %s HTML: %w", set, err)
	}
	if err := r.text[set].ExecuteTemplate(&t, "layout", v); err != nil {
		return mail.Message{}, fmt.Errorf("layout: render %s text: %w", set, err)
	}
	return mail.Message{Subject: v.Subject, HTML: h.String(), Text: t.String()}, nil
}

func newView(inv mail.Invitation) view {
	accent := inv.Branding.AccentColor
	if accent == "" {
		accent = defaultAccent
	}
	expires := mail.FormatExpiry(inv.ExpiresAt)
	return view{
		Operator:   inv.Branding.OperatorName,
		Support:    inv.Branding.SupportAddress,
		Customer:   inv.CustomerName,
		Service:    inv.ServiceName,
		AuthURL:    inv.AuthURL,
		Expires:    expires,
		Accent:     accent,
		ButtonText: buttonTextColor(accent),
		Test:       inv.Kind == mail.KindTest,
		Final:      inv.Kind == mail.KindReminder2,
	}
}

// paragraphs lays out an operator's parsed body: lines split at newlines,
// paragraphs at blank lines. Placeholder values become text parts here,
// never markup, and are not split even if they hold a newline.
func paragraphs(segs []mail.Segment, values map[string]string) []paragraph {
	lines := [][]part{nil}
	for _, sg := range segs {
		last := len(lines) - 1
		switch {
		case sg.Placeholder == mail.PlaceholderLink:
			lines[last] = append(lines[last], part{Link: true})
		case sg.Placeholder != "":
			lines[last] = append(lines[last], part{Text: values[sg.Placeholder]})
		default:
			text := strings.ReplaceAll(sg.Text, "\r\n", "\n")
			for i, piece := range strings.Split(text, "\n") {
				if i > 0 {
					lines = append(lines, nil)
				}
				if piece != "" {
					lines[len(lines)-1] = append(lines[len(lines)-1], part{Text: piece})
				}
			}
		}
	}

	var out []paragraph
	var cur [][]part
	flush := func() {
		if len(cur) > 0 {
			out = append(out, paragraph{Button: isLinkOnly(cur), Lines: cur})
			cur = nil
		}
	}
	for _, line := range lines {
		if isBlank(line) {
			flush()
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return out
}

func isBlank(line []part) bool {
	for _, p := range line {
		if p.Link || strings.TrimSpace(p.Text) != "" {
			return false
		}
	}
	return true
}

// isLinkOnly reports whether a paragraph is a single line holding just the
// link, which is then shown as the button.
func isLinkOnly(lines [][]part) bool {
	if len(lines) != 1 {
		return false
	}
	links := 0
	for _, p := range lines[0] {
		switch {
		case p.Link:
			links++
		case strings.TrimSpace(p.Text) != "":
			return false
		}
	}
	return links == 1
}

// firstWords returns about n characters of s on one line, for the preheader.
func firstWords(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	cut := string(r[:n])
	if i := strings.LastIndex(cut, " "); i > 0 {
		cut = cut[:i]
	}
	return cut + "…"
}

// buttonTextColor picks white or near-black text for a button of colour
// accent (#RRGGBB), whichever contrasts more, so an operator's light brand
// colour still gives a readable button.
func buttonTextColor(accent string) string {
	l := luminance(accent)
	white := 1.05 / (l + 0.05)
	dark := (l + 0.05) / (luminance("#111111") + 0.05)
	if white >= dark {
		return "#FFFFFF"
	}
	return "#111111"
}

// luminance is the WCAG relative luminance of a #RRGGBB colour.
func luminance(hex string) float64 {
	channel := func(i int) float64 {
		v, err := strconv.ParseUint(hex[i:i+2], 16, 8)
		if err != nil {
			return 0
		}
		c := float64(v) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*channel(1) + 0.7152*channel(3) + 0.0722*channel(5)
}
