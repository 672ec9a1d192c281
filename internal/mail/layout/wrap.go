package layout

import "strings"

// Mail lines have limits (RFC 5322, section 2.1.1): at most 998 characters,
// and no more than 78 where possible. Mail servers on the way enforce the
// hard limit by breaking longer lines wherever they like, in the middle of
// a URL or a tag if that is where the count runs out. SES picks the
// transfer encoding of a simple message itself, so the parts are kept
// within the limits before they are handed over.
const (
	// htmlWidth is where the HTML part breaks lines when it can.
	htmlWidth = 78
	// hardWidth is the longest line RFC 5322 allows, in bytes. Breaks
	// are made at ASCII spaces, so they never split a UTF-8 sequence.
	hardWidth = 998
)

// wrapHTML breaks the lines of an HTML document at places where a line
// break renders exactly as the space it replaces: a space in text, or the
// space between two attributes of a tag. It never touches an attribute
// value. A line is broken at the last such place before htmlWidth or, when
// there is none, at the first one after it; only an unbroken run longer than
// that (a URL of hundreds of characters) can leave a line longer.
//
// The templates hold no <pre>, <textarea> or white-space style, where a
// line break would show.
func wrapHTML(s string) string {
	b := []byte(s)
	// lastBreak is the last place on the current line where it may break.
	lineStart, lastBreak := 0, -1
	fit := func(end int) {
		if end-lineStart > htmlWidth && lastBreak >= 0 {
			b[lastBreak] = '\n'
			lineStart, lastBreak = lastBreak+1, -1
		}
	}
	inTag := false
	var quote byte
	for i, c := range b {
		switch {
		case c == '\n':
			fit(i)
			lineStart, lastBreak = i+1, -1
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case inTag && (c == '"' || c == '\''):
			quote = c
		case c == '<':
			inTag = true
		case c == '>':
			inTag = false
		case c == ' ':
			fit(i)
			lastBreak = i
		}
	}
	fit(len(b))
	return string(b)
}

// wrapText breaks plain-text lines longer than the hard limit at their last
// space before it, so that no server breaks them in a word or a link. Lines
// within the limit, which is every line of the built-in mails, stay as they
// are: a plain-text line break shows, so the text is not reflowed further.
func wrapText(s string) string {
	if !hasLongLine(s) {
		return s
	}
	var out strings.Builder
	for i, line := range strings.Split(s, "\n") {
		if i > 0 {
			out.WriteByte('\n')
		}
		for len(line) > hardWidth {
			cut := strings.LastIndexByte(line[:hardWidth+1], ' ')
			if cut <= 0 {
				// One word longer than a line: nothing can break it
				// without changing it.
				break
			}
			out.WriteString(line[:cut])
			out.WriteByte('\n')
			line = line[cut+1:]
		}
		out.WriteString(line)
	}
	return out.String()
}

func hasLongLine(s string) bool {
	for line := range strings.SplitSeq(s, "\n") {
		if len(line) > hardWidth {
			return true
		}
	}
	return false
}
