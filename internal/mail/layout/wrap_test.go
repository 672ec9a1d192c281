package layout

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ocpro/upgrade/internal/mail"
)

// onlySpacesBecameBreaks fails unless out is in with some spaces turned
// into line breaks and nothing else changed.
func onlySpacesBecameBreaks(t *testing.T, in, out string) {
	t.Helper()
	if len(in) != len(out) {
		t.Fatalf("length %d became %d", len(in), len(out))
	}
	for i := range len(in) {
		if in[i] != out[i] && (in[i] != ' ' || out[i] != '\n') {
			t.Fatalf("byte %d: %q became %q", i, in[i], out[i])
		}
	}
}

// attrWithBreak finds a line break inside a quoted attribute value.
var attrWithBreak = regexp.MustCompile(`="[^"]*\n`)

func TestWrapHTML(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"short stays", `<p class="a b">Hello, world.</p>`, `<p class="a b">Hello, world.</p>`},
		{"text breaks at the last space that fits",
			"<p>" + strings.Repeat("word ", 20) + "end</p>",
			"<p>word word word word word word word word word word word word word word word\nword word word word word end</p>"},
		{"between attributes, never inside a value",
			`<td style="` + strings.Repeat("a:b; ", 20) + `" align="center" bgcolor="#FFFFFF">x</td>`,
			"<td\n" + `style="` + strings.Repeat("a:b; ", 20) + `"` + "\n" + `align="center" bgcolor="#FFFFFF">x</td>`},
		{"an apostrophe in text is not a quote",
			"<p>it's " + strings.Repeat("x ", 40) + "</p>",
			"<p>it's " + strings.Repeat("x ", 34) + "x\nx x x x x </p>"},
		{"an unbreakable run stays whole", "<a href=\"https://x/" + strings.Repeat("y", 100) + "\">link</a>",
			"<a\nhref=\"https://x/" + strings.Repeat("y", 100) + "\">link</a>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := wrapHTML(tt.in)
			if got != tt.want {
				t.Errorf("wrapHTML =\n%s\nwant\n%s", got, tt.want)
			}
			onlySpacesBecameBreaks(t, tt.in, got)
		})
	}
}

// Every mail the renderer writes keeps its lines within RFC 5322's limit,
// and the HTML within 78 characters wherever a break is possible; no
// attribute value is broken.
func TestRenderedLinesFit(t *testing.T) {
	t.Parallel()
	r := NewRenderer()
	inv := sampleInvitation(mail.KindWelcome)
	long := mail.DefaultSettings("Live Platform")
	long.WelcomeBody = strings.Repeat("A very long paragraph without a single line break. ", 60) + "{{link}}"
	for name, render := range map[string]func() (string, string, error){
		"built-in": func() (string, string, error) {
			m, err := r.Render(inv)
			return m.HTML, m.Text, err
		},
		"long operator paragraph": func() (string, string, error) {
			m, err := r.RenderWithSettings(inv, long)
			return m.HTML, m.Text, err
		},
	} {
		html, text, err := render()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for part, body := range map[string]string{"HTML": html, "text": text} {
			for i, line := range strings.Split(body, "\n") {
				if len(line) > hardWidth {
					t.Errorf("%s %s line %d has %d bytes", name, part, i+1, len(line))
				}
			}
		}
		if attrWithBreak.MatchString(html) {
			t.Errorf("%s: a line break inside an attribute value", name)
		}
		long := 0
		for _, line := range strings.Split(html, "\n") {
			if len(line) > htmlWidth {
				long++
			}
		}
		// Only lines holding a long style attribute may run over.
		if lines := strings.Count(html, "\n") + 1; long*4 > lines {
			t.Errorf("%s: %d of %d HTML lines are longer than %d", name, long, lines, htmlWidth)
		}
	}
}

func TestWrapText(t *testing.T) {
	t.Parallel()
	short := "Hello,\n\nA line of ordinary length stays exactly as it is.\n"
	if got := wrapText(short); got != short {
		t.Errorf("wrapText changed a short text: %q", got)
	}
	para := strings.Repeat("word ", 500) + "end"
	got := wrapText("x\n" + para + "\ny")
	onlySpacesBecameBreaks(t, "x\n"+para+"\ny", got)
	for _, line := range strings.Split(got, "\n") {
		if len(line) > hardWidth {
			t.Errorf("line of %d bytes", len(line))
		}
	}
	word := strings.Repeat("y", hardWidth+10)
	if got := wrapText(word); got != word {
		t.Error("wrapText changed a word it cannot break")
	}
}

func FuzzWrap(f *testing.F) {
	f.Add(`<p class="a b">` + strings.Repeat("word ", 30) + `</p>`)
	f.Add(`<a href='x y' title="a > b">it's ` + strings.Repeat("z ", 60) + "</a>\n<p>")
	f.Add(strings.Repeat("plain text ", 200))
	f.Fuzz(func(t *testing.T, s string) {
		onlySpacesBecameBreaks(t, s, wrapHTML(s))
		onlySpacesBecameBreaks(t, s, wrapText(s))
		for _, line := range strings.Split(wrapText(s), "\n") {
			if len(line) > hardWidth && strings.Contains(line[:hardWidth+1], " ") {
				t.Fatalf("wrapText left a breakable line of %d bytes", len(line))
			}
		}
	})
}
