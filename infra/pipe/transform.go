package pipe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The rules below are AWS's, from "Amazon EventBridge Pipes input
// transformation" and "Dynamic path parameters" (EventBridge User Guide):
//
//   - A JSON path is dot notation from $ with names of letters, digits,
//     dashes and underscores, and array indices in square brackets.
//     Wildcards are documented too; the local pipe does not implement them
//     and refuses them when the pipe is read.
//   - A template is free text, one JSON path, or JSON with inline paths;
//     reserved variables (<aws.pipes.pipe-name>, ...) name the pipe.
//   - In JSON, a variable outside quotes that holds a string is quoted by
//     the pipe, and one that holds an object or array is inserted as JSON;
//     inside quotes, and in free text, values are inserted without
//     escaping, and an object's or array's inner quotes are removed.
//   - A dynamic target parameter is one whole JSON path into the event (not
//     into the transformed input); a template's variable or parameter whose
//     path is absent from the event is an error of that record here (AWS
//     leaves the variable out, which for an event bus target leaves an
//     event it refuses).

// pathName is one name of a JSON path.
var pathName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// jsonPath is a compiled JSON path: names and array indices after $.
type jsonPath struct {
	text  string
	steps []step
}

// step is one name, or an index when isIndex.
type step struct {
	name    string
	index   int
	isIndex bool
}

// parsePath compiles a JSON path of the documented syntax.
func parsePath(text string) (*jsonPath, error) {
	if !strings.HasPrefix(text, "$.") {
		return nil, fmt.Errorf("JSON path %q: want $. followed by names", text)
	}
	if strings.Contains(text, "*") {
		return nil, fmt.Errorf("JSON path %q: wildcards are not implemented by the local pipe", text)
	}
	p := &jsonPath{text: text}
	for _, part := range strings.Split(text[2:], ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name == "" && rest == "" {
			return nil, fmt.Errorf("JSON path %q: empty name", text)
		}
		if name != "" {
			if !pathName.MatchString(name) {
				return nil, fmt.Errorf("JSON path %q: %q is not a name of letters, digits, dashes and underscores", text, name)
			}
			p.steps = append(p.steps, step{name: name})
		}
		if rest == "" {
			continue
		}
		// One or more [n] after the name.
		for _, ix := range strings.Split("["+rest, "[")[1:] {
			num, ok := strings.CutSuffix(ix, "]")
			n, err := strconv.Atoi(num)
			if !ok || err != nil || n < 0 {
				return nil, fmt.Errorf("JSON path %q: %q is not an array index", text, "["+ix)
			}
			p.steps = append(p.steps, step{index: n, isIndex: true})
		}
	}
	return p, nil
}

// get returns the value at the path in a document decoded with UseNumber;
// ok is false when it is absent.
func (p *jsonPath) get(doc any) (any, bool) {
	v := doc
	for _, s := range p.steps {
		switch x := v.(type) {
		case map[string]any:
			if s.isIndex {
				return nil, false
			}
			var present bool
			if v, present = x[s.name]; !present {
				return nil, false
			}
		case []any:
			i := s.index
			if !s.isIndex {
				// A name of digits indexes an array, as the console's
				// paths do ($.dynamodb.NewImage.roles.L.0.S).
				n, err := strconv.Atoi(s.name)
				if err != nil {
					return nil, false
				}
				i = n
			}
			if i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// parameter is a target parameter: a static string or a dynamic JSON path.
type parameter struct {
	static string
	path   *jsonPath
}

// parseParameter reads a string target parameter. The whole value is a
// path or none of it is: "$.a" is dynamic, "x $.a" is the literal text.
func parseParameter(v any) (parameter, error) {
	s, ok := v.(string)
	if !ok || s == "" {
		return parameter{}, errors.New("want a non-empty string")
	}
	if !strings.HasPrefix(s, "$.") {
		return parameter{static: s}, nil
	}
	p, err := parsePath(s)
	if err != nil {
		return parameter{}, err
	}
	return parameter{path: p}, nil
}

// value resolves the parameter against the event; a dynamic value must be a
// string, as the parameter is.
func (p parameter) value(event any) (string, error) {
	if p.path == nil {
		return p.static, nil
	}
	v, ok := p.path.get(event)
	if !ok {
		return "", fmt.Errorf("%s is not in the record", p.path.text)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s is a %s, not a string", p.path.text, kind(v))
	}
	return s, nil
}

// inputTemplate is a compiled InputTemplate: literal text and variables.
type inputTemplate struct {
	text  string
	parts []part
	// json is true when the template is JSON with inline variables (it
	// starts with { or [), whose variables outside quotes take JSON values.
	json bool
}

// part is literal text, or a variable: a JSON path or a reserved name.
type part struct {
	literal  string
	path     *jsonPath
	reserved string
	// quoted is true for a variable inside a JSON string of the template.
	quoted bool
}

// reserved are the reserved variables the local pipe implements; the
// enrichment's ARN is left out because the local pipe has no enrichment.
var reserved = map[string]bool{
	"aws.pipes.pipe-arn":             true,
	"aws.pipes.pipe-name":            true,
	"aws.pipes.source-arn":           true,
	"aws.pipes.target-arn":           true,
	"aws.pipes.event.ingestion-time": true,
	"aws.pipes.event":                true,
	"aws.pipes.event.json":           true,
}

// parseInputTemplate compiles a template, refusing variables it cannot
// resolve.
func parseInputTemplate(text string) (*inputTemplate, error) {
	trimmed := strings.TrimSpace(text)
	t := &inputTemplate{text: text, json: strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[")}
	inString := false // inside a JSON string literal of the template
	var lit strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '<' {
			end := strings.IndexByte(text[i:], '>')
			if end < 0 {
				return nil, fmt.Errorf("unclosed < at offset %d", i)
			}
			name := text[i+1 : i+end]
			v := part{quoted: t.json && inString}
			switch {
			case strings.HasPrefix(name, "$."):
				p, err := parsePath(name)
				if err != nil {
					return nil, err
				}
				v.path = p
			case reserved[name]:
				v.reserved = name
				if name == "aws.pipes.event.json" && (v.quoted || !t.json) {
					return nil, errors.New("<aws.pipes.event.json> can only be the value of a JSON field")
				}
			case strings.HasPrefix(name, "aws."):
				return nil, fmt.Errorf("<%s> is not a reserved variable the local pipe implements", name)
			default:
				return nil, fmt.Errorf("<%s> is neither a JSON path ($.…) nor a reserved variable", name)
			}
			if lit.Len() > 0 {
				t.parts = append(t.parts, part{literal: lit.String()})
				lit.Reset()
			}
			t.parts = append(t.parts, v)
			i += end
			continue
		}
		if t.json {
			switch {
			case c == '"':
				inString = !inString
			case c == '\\' && inString && i+1 < len(text):
				lit.WriteByte(c)
				i++
				c = text[i]
			}
		}
		lit.WriteByte(c)
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, part{literal: lit.String()})
	}
	return t, nil
}

// pipeVars are the values of the reserved variables for one record.
type pipeVars struct {
	name, arn, sourceARN, targetARN, ingestionTime string
	event                                          []byte // the record as the pipe received it
}

// render fills the template for one record, given as its JSON and decoded
// with UseNumber.
func (t *inputTemplate) render(event any, vars pipeVars) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.path == nil && p.reserved == "" {
			b.WriteString(p.literal)
			continue
		}
		var v any
		switch p.reserved {
		case "":
			var ok bool
			if v, ok = p.path.get(event); !ok {
				return "", fmt.Errorf("InputTemplate: %s is not in the record", p.path.text)
			}
		case "aws.pipes.event", "aws.pipes.event.json":
			v = json.RawMessage(vars.event)
		case "aws.pipes.pipe-arn":
			v = vars.arn
		case "aws.pipes.pipe-name":
			v = vars.name
		case "aws.pipes.source-arn":
			v = vars.sourceARN
		case "aws.pipes.target-arn":
			v = vars.targetARN
		case "aws.pipes.event.ingestion-time":
			v = vars.ingestionTime
		}
		s, err := insert(v, t.json && !p.quoted)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// insert formats one variable's value: as a JSON value, or as text.
func insert(v any, asJSON bool) (string, error) {
	if s, ok := v.(string); ok {
		if asJSON {
			q, err := json.Marshal(s)
			return string(q), err
		}
		// Inserted as it is: the pipe does not escape values.
		return s, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if asJSON {
		return string(raw), nil
	}
	switch v.(type) {
	case map[string]any, []any, json.RawMessage:
		// An object or array in text loses its inner quotes.
		return string(bytes.ReplaceAll(raw, []byte(`"`), nil)), nil
	}
	return string(raw), nil
}

// kind names a decoded JSON value's type for errors.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// decodeJSON decodes one JSON document keeping numbers as written.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}
