package mail

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestParsePlaceholders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []Segment
		code string
		// offset is where the error is reported, for refused input.
		offset int
	}{
		{name: "empty", in: "", want: nil},
		{name: "plain text", in: "Hello", want: []Segment{{Text: "Hello"}}},
		{name: "one placeholder", in: "{{link}}", want: []Segment{{Placeholder: "link"}}},
		{name: "text around", in: "Hi {{customer}}!", want: []Segment{{Text: "Hi "}, {Placeholder: "customer"}, {Text: "!"}}},
		{name: "spaces inside", in: "{{  expires }}", want: []Segment{{Placeholder: "expires"}}},
		{name: "adjacent", in: "{{service}}{{operator}}", want: []Segment{{Placeholder: "service"}, {Placeholder: "operator"}}},
		{name: "single braces", in: "{a} }", want: []Segment{{Text: "{a} }"}}},
		{name: "unknown", in: "x {{tenant}}", code: CodeUnknownPlaceholder, offset: 2},
		{name: "empty placeholder", in: "{{}}", code: CodeUnknownPlaceholder},
		{name: "case matters", in: "{{Link}}", code: CodeUnknownPlaceholder},
		{name: "template action", in: "{{.AuthURL}}", code: CodeUnknownPlaceholder},
		{name: "template pipeline", in: "{{link | html}}", code: CodeUnknownPlaceholder},
		{name: "unclosed", in: "Hi {{customer", code: CodeUnbalancedBraces, offset: 3},
		{name: "stray close", in: "Hi }} {{link}}", code: CodeUnbalancedBraces, offset: 3},
		{name: "triple open", in: "{{{link}}}", code: CodeUnbalancedBraces},
		{name: "nested", in: "{{ {{link}} }}", code: CodeUnbalancedBraces},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePlaceholders(tt.in)
			if tt.code != "" {
				var pe *placeholderError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want a placeholderError", err)
				}
				if pe.code != tt.code || pe.offset != tt.offset {
					t.Errorf("got %s at %d, want %s at %d", pe.code, pe.offset, tt.code, tt.offset)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("Segment %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestSubstituteDoesNotReparseValues(t *testing.T) {
	t.Parallel()
	segs, err := ParsePlaceholders("Hi {{customer}}, open {{link}}")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	got := Substitute(segs, map[string]string{"customer": "{{link}}", "link": "https://x.example/{{customer}}"})
	want := "Hi {{link}}, open https://x.example/{{customer}}"
	if got != want {
		t.Errorf("substitute = %q, want %q", got, want)
	}
}

// spacesInPlaceholders matches a placeholder written with blanks inside.
var spacesInPlaceholders = regexp.MustCompile(`\{\{[ \t]*([a-z]+)[ \t]*\}\}`)

// FuzzParsePlaceholders checks that the parser never panics, that accepted
// input is split without losing or inventing a character, and that only
// known placeholders come out.
func FuzzParsePlaceholders(f *testing.F) {
	for _, s := range []string{"", "{{link}}", "Hi {{ customer }}!", "{{", "}}", "{{{link}}}", "{{.X}}", "a{b}c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		segs, err := ParsePlaceholders(in)
		if err != nil {
			var pe *placeholderError
			if !errors.As(err, &pe) || pe.offset < 0 || pe.offset > len(in) {
				t.Fatalf("bad error %v for %q", err, in)
			}
			return
		}
		var rebuilt strings.Builder
		for _, sg := range segs {
			if sg.Placeholder != "" {
				if !knownPlaceholders[sg.Placeholder] || sg.Text != "" {
					t.Fatalf("bad Segment %+v", sg)
				}
				rebuilt.WriteString("{{" + sg.Placeholder + "}}")
				continue
			}
			if strings.Contains(sg.Text, "{{") || strings.Contains(sg.Text, "}}") {
				t.Fatalf("text Segment %q holds braces", sg.Text)
			}
			rebuilt.WriteString(sg.Text)
		}
		// Spaces inside a placeholder are dropped; nothing else changes.
		normalised := spacesInPlaceholders.ReplaceAllString(in, "{{$1}}")
		if rebuilt.String() != normalised {
			t.Fatalf("rebuilt %q, want %q", rebuilt.String(), normalised)
		}
	})
}
