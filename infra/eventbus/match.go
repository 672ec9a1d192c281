package eventbus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Pattern is a compiled event pattern, for the stand-ins of other services
// that filter with EventBridge's pattern language (EventBridge Pipes'
// FilterCriteria): one matcher, the bus's own, for all of them.
type Pattern struct {
	root *node
}

// CompilePattern checks the JSON text of an event pattern and compiles it,
// refusing what the bus's rules would refuse.
func CompilePattern(text string) (*Pattern, error) {
	doc, err := decodeObject([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("eventbus: pattern: %w", err)
	}
	root, err := compilePattern(doc)
	if err != nil {
		return nil, fmt.Errorf("eventbus: pattern: %w", err)
	}
	return &Pattern{root: root}, nil
}

// Match reports whether the JSON object event matches the pattern.
func (p *Pattern) Match(event []byte) (bool, error) {
	doc, err := decodeObject(event)
	if err != nil {
		return false, fmt.Errorf("eventbus: event: %w", err)
	}
	return p.root.match(doc), nil
}

// decodeObject decodes one JSON object, keeping numbers as written: literal
// numbers in patterns match as written.
func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	return doc, nil
}

// AddDeadLetter keeps a dead letter of another stand-in that sends to the
// same dead-letter queue as the bus's rules (an EventBridge pipe's
// DeadLetterConfig), so that /_local/dead-letters lists every one.
func (b *Bus) AddDeadLetter(d DeadLetter) {
	if d.At.IsZero() {
		d.At = b.now()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dead = append(b.dead, d)
}
