package mail

import (
	"fmt"
	"strings"
)

// The placeholder names an operator may use in subjects and bodies.
const (
	PlaceholderCustomer = "customer"
	PlaceholderService  = "service"
	PlaceholderLink     = "link"
	PlaceholderExpires  = "expires"
	PlaceholderOperator = "operator"
)

// knownPlaceholders lists every placeholder an operator template may use.
var knownPlaceholders = map[string]bool{
	PlaceholderCustomer: true,
	PlaceholderService:  true,
	PlaceholderLink:     true,
	PlaceholderExpires:  true,
	PlaceholderOperator: true,
}

// Segment is one piece of a parsed operator template: either literal text or
// the name of a placeholder, never both. The layout package lays segments
// out; this package only parses them, so that validating settings never
// needs a template engine.
type Segment struct {
	Text        string
	Placeholder string
}

// placeholderError says why an operator template does not parse. Code is one
// of the FieldError codes so that Settings.Validate can report it unchanged.
type placeholderError struct {
	code   string
	name   string
	offset int
}

func (e *placeholderError) Error() string {
	switch e.code {
	case CodeUnknownPlaceholder:
		return fmt.Sprintf("unknown placeholder {{%s}} at character %d", e.name, e.offset)
	case CodeUnbalancedBraces:
		return fmt.Sprintf("unbalanced braces at character %d: placeholders are written {{name}}", e.offset)
	default:
		return fmt.Sprintf("invalid placeholder at character %d", e.offset)
	}
}

// ParsePlaceholders splits an operator template into literal text and
// placeholders. The syntax is deliberately tiny: "{{" always opens a
// placeholder, which holds one known name (spaces or tabs around it allowed) and is
// closed by "}}"; a "}}" outside a placeholder is refused, so that a typo
// never silently reaches a customer. Nothing else is interpreted, which is
// why operators cannot run template actions.
func ParsePlaceholders(s string) ([]Segment, error) {
	var segs []Segment
	pos := 0
	for pos < len(s) {
		open := strings.Index(s[pos:], "{{")
		stray := strings.Index(s[pos:], "}}")
		if stray >= 0 && (open < 0 || stray < open) {
			return nil, &placeholderError{code: CodeUnbalancedBraces, offset: pos + stray}
		}
		if open < 0 {
			segs = append(segs, Segment{Text: s[pos:]})
			break
		}
		if open > 0 {
			segs = append(segs, Segment{Text: s[pos : pos+open]})
		}
		start := pos + open
		rest := s[start+2:]
		end := strings.Index(rest, "}}")
		if end < 0 {
			return nil, &placeholderError{code: CodeUnbalancedBraces, offset: start}
		}
		inner := rest[:end]
		if strings.ContainsAny(inner, "{}") {
			return nil, &placeholderError{code: CodeUnbalancedBraces, offset: start}
		}
		name := strings.Trim(inner, " \t")
		if !knownPlaceholders[name] {
			return nil, &placeholderError{code: CodeUnknownPlaceholder, name: name, offset: start}
		}
		segs = append(segs, Segment{Placeholder: name})
		pos = start + 2 + end + 2
	}
	return segs, nil
}

// hasPlaceholder reports whether segs use the named placeholder.
func hasPlaceholder(segs []Segment, name string) bool {
	for _, sg := range segs {
		if sg.Placeholder == name {
			return true
		}
	}
	return false
}

// Substitute joins segs, replacing each placeholder by its value. Values are
// inserted as they are: they are never parsed again, so a customer called
// "{{link}}" stays literal text.
func Substitute(segs []Segment, values map[string]string) string {
	var b strings.Builder
	for _, sg := range segs {
		if sg.Placeholder != "" {
			b.WriteString(values[sg.Placeholder])
			continue
		}
		b.WriteString(sg.Text)
	}
	return b.String()
}
