package eventbus

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// node is a compiled event pattern object: every field must match, and each
// $or group must have at least one matching alternative.
type node struct {
	fields []field
	ors    [][]*node
}

// field is one key of a pattern object: either a nested object or a leaf
// list of conditions, of which any one must hold.
type field struct {
	name  string
	child *node
	conds []condition
}

// condition reports whether the leaf values of one event field satisfy one
// element of a pattern array. values is empty when the field is absent.
type condition func(values []any) bool

// compilePattern checks an event pattern and turns it into a matcher.
// Patterns arrive as YAML or JSON decoded into map[string]any.
func compilePattern(p map[string]any) (*node, error) {
	if len(p) == 0 {
		return nil, errors.New("pattern is empty")
	}
	return compileNode(p, "")
}

func compileNode(p map[string]any, path string) (*node, error) {
	n := &node{}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys) // stable error messages
	for _, k := range keys {
		at := path + "/" + k
		if k == "$or" {
			alts, ok := p[k].([]any)
			if !ok || len(alts) == 0 {
				return nil, fmt.Errorf("%s: want a non-empty array of patterns", at)
			}
			group := make([]*node, 0, len(alts))
			for i, a := range alts {
				m, ok := a.(map[string]any)
				if !ok || len(m) == 0 {
					return nil, fmt.Errorf("%s[%d]: want a non-empty pattern object", at, i)
				}
				alt, err := compileNode(m, fmt.Sprintf("%s[%d]", at, i))
				if err != nil {
					return nil, err
				}
				group = append(group, alt)
			}
			n.ors = append(n.ors, group)
			continue
		}
		switch v := p[k].(type) {
		case map[string]any:
			child, err := compileNode(v, at)
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, field{name: k, child: child})
		case []any:
			if len(v) == 0 {
				return nil, fmt.Errorf("%s: empty array matches nothing", at)
			}
			conds := make([]condition, 0, len(v))
			for i, e := range v {
				c, err := compileCondition(e)
				if err != nil {
					return nil, fmt.Errorf("%s[%d]: %w", at, i, err)
				}
				conds = append(conds, c)
			}
			n.fields = append(n.fields, field{name: k, conds: conds})
		default:
			return nil, fmt.Errorf("%s: want an array of values or a nested object, got %T", at, v)
		}
	}
	return n, nil
}

// compileCondition compiles one element of a pattern array: a literal or an
// object with exactly one comparison operator.
func compileCondition(e any) (condition, error) {
	op, ok := e.(map[string]any)
	if !ok {
		lit, err := literal(e)
		if err != nil {
			return nil, err
		}
		return anyValue(func(v any) bool { return equalLiteral(lit, v) }), nil
	}
	if len(op) != 1 {
		return nil, fmt.Errorf("want exactly one operator, got %d", len(op))
	}
	name, arg := soleEntry(op)
	switch name {
	case "exists":
		want, ok := arg.(bool)
		if !ok {
			return nil, errors.New("exists takes true or false")
		}
		return func(values []any) bool { return (len(values) > 0) == want }, nil
	case "numeric":
		m, err := numericMatcher(arg)
		if err != nil {
			return nil, err
		}
		return anyValue(m), nil
	case "anything-but":
		m, err := anythingBut(arg)
		if err != nil {
			return nil, err
		}
		return anyValue(m), nil
	default:
		m, err := stringMatcher(name, arg)
		if err != nil {
			return nil, err
		}
		return anyValue(m), nil
	}
}

// soleEntry returns the entry of a map that holds exactly one.
func soleEntry(m map[string]any) (string, any) {
	for k, v := range m {
		return k, v
	}
	return "", nil
}

// anyValue lifts a matcher of one value to a condition over all the values
// of a field: an array field matches when any of its elements does.
func anyValue(m func(v any) bool) condition {
	return func(values []any) bool {
		return slices.ContainsFunc(values, m)
	}
}

// stringMatcher compiles the operators that look at string values only.
func stringMatcher(name string, arg any) (func(v any) bool, error) {
	switch name {
	case "prefix", "suffix":
		affix := strings.HasPrefix
		if name == "suffix" {
			affix = strings.HasSuffix
		}
		s, fold, err := maybeIgnoreCase(arg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if fold {
			s = strings.ToLower(s)
		}
		return onString(func(v string) bool {
			if fold {
				v = strings.ToLower(v)
			}
			return affix(v, s)
		}), nil
	case "equals-ignore-case":
		s, ok := arg.(string)
		if !ok {
			return nil, errors.New("equals-ignore-case takes a string")
		}
		return onString(func(v string) bool { return strings.EqualFold(v, s) }), nil
	case "wildcard":
		s, ok := arg.(string)
		if !ok {
			return nil, errors.New("wildcard takes a string")
		}
		parts, err := wildcardParts(s)
		if err != nil {
			return nil, err
		}
		return onString(func(v string) bool { return wildcardMatch(parts, v) }), nil
	case "cidr":
		s, ok := arg.(string)
		if !ok {
			return nil, errors.New("cidr takes a string")
		}
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("cidr: %w", err)
		}
		return onString(func(v string) bool {
			addr, err := netip.ParseAddr(v)
			return err == nil && prefix.Contains(addr)
		}), nil
	}
	return nil, fmt.Errorf("unknown operator %q", name)
}

// maybeIgnoreCase reads the argument of prefix and suffix: a string, or
// {"equals-ignore-case": string} for a case-insensitive comparison.
func maybeIgnoreCase(arg any) (s string, fold bool, err error) {
	switch a := arg.(type) {
	case string:
		return a, false, nil
	case map[string]any:
		if s, ok := a["equals-ignore-case"].(string); ok && len(a) == 1 {
			return s, true, nil
		}
	}
	return "", false, errors.New(`want a string or {"equals-ignore-case": string}`)
}

func onString(m func(string) bool) func(any) bool {
	return func(v any) bool {
		s, ok := v.(string)
		return ok && m(s)
	}
}

// anythingBut compiles anything-but: a literal, a list of literals, or an
// object with prefix, suffix, equals-ignore-case or wildcard. The value must
// be present; an absent field never matches anything-but.
func anythingBut(arg any) (func(v any) bool, error) {
	switch a := arg.(type) {
	case []any:
		if len(a) == 0 {
			return nil, errors.New("anything-but: empty list")
		}
		lits := make([]any, 0, len(a))
		for _, e := range a {
			lit, err := literal(e)
			if err != nil {
				return nil, fmt.Errorf("anything-but: %w", err)
			}
			lits = append(lits, lit)
		}
		return func(v any) bool {
			return !slices.ContainsFunc(lits, func(lit any) bool { return equalLiteral(lit, v) })
		}, nil
	case map[string]any:
		if len(a) != 1 {
			return nil, errors.New("anything-but: want exactly one operator")
		}
		name, inner := soleEntry(a)
		// equals-ignore-case and wildcard take a list here, as in AWS.
		args := []any{inner}
		if l, ok := inner.([]any); ok && (name == "equals-ignore-case" || name == "wildcard") {
			args = l
		}
		var matchers []func(any) bool
		for _, x := range args {
			m, err := stringMatcher(name, x)
			if err != nil {
				return nil, fmt.Errorf("anything-but: %w", err)
			}
			matchers = append(matchers, m)
		}
		return onString(func(s string) bool {
			return !slices.ContainsFunc(matchers, func(m func(any) bool) bool { return m(s) })
		}), nil
	}
	lit, err := literal(arg)
	if err != nil {
		return nil, fmt.Errorf("anything-but: %w", err)
	}
	return func(v any) bool { return !equalLiteral(lit, v) }, nil
}

// numericMatcher compiles ["<", 5] or [">", 0, "<=", 5]: one or two
// comparisons, all of which must hold. Only number values match.
func numericMatcher(arg any) (func(v any) bool, error) {
	a, ok := arg.([]any)
	if !ok || (len(a) != 2 && len(a) != 4) {
		return nil, errors.New(`numeric takes [op, number] or [op, number, op, number]`)
	}
	type cmp struct {
		op string
		x  float64
	}
	var cmps []cmp
	for i := 0; i < len(a); i += 2 {
		op, ok := a[i].(string)
		if !ok || !slices.Contains([]string{"<", "<=", "=", ">", ">="}, op) {
			return nil, fmt.Errorf("numeric: unknown comparison %v", a[i])
		}
		x, ok := toFloat(a[i+1])
		if !ok {
			return nil, fmt.Errorf("numeric: %v is not a number", a[i+1])
		}
		cmps = append(cmps, cmp{op, x})
	}
	return func(v any) bool {
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, err := n.Float64()
		if err != nil {
			return false
		}
		for _, c := range cmps {
			var ok bool
			switch c.op {
			case "<":
				ok = f < c.x
			case "<=":
				ok = f <= c.x
			case "=":
				ok = f == c.x
			case ">":
				ok = f > c.x
			case ">=":
				ok = f >= c.x
			}
			if !ok {
				return false
			}
		}
		return true
	}, nil
}

// number is a literal number of a pattern, kept as JSON text: EventBridge
// matches literal numbers exactly as written, so 300 and 300.0 differ; use
// numeric for comparisons by value.
type number string

// literal normalises a literal pattern value: strings, booleans and null
// stay as they are, numbers become their JSON text.
func literal(e any) (any, error) {
	switch v := e.(type) {
	case nil, string, bool:
		return v, nil
	case json.Number:
		return number(v), nil
	case int:
		return number(strconv.Itoa(v)), nil
	case int64:
		return number(strconv.FormatInt(v, 10)), nil
	case uint64:
		return number(strconv.FormatUint(v, 10)), nil
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("%v is not a JSON number", v)
		}
		return number(strconv.FormatFloat(v, 'f', -1, 64)), nil
	}
	return nil, fmt.Errorf("%T is not a literal", e)
}

// equalLiteral compares a literal with one event value, decoded with
// json.Decoder.UseNumber.
func equalLiteral(lit, v any) bool {
	if n, ok := lit.(number); ok {
		en, ok := v.(json.Number)
		return ok && string(en) == string(n)
	}
	return lit == v
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// wildcardParts splits a wildcard pattern at its unescaped stars. "\*" is a
// literal star and "\\" a literal backslash; two stars in a row are refused,
// as in AWS.
func wildcardParts(s string) ([]string, error) {
	var parts []string
	var cur strings.Builder
	lastStar := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '\\'):
			cur.WriteByte(s[i+1])
			i++
			lastStar = false
		case c == '*':
			if lastStar {
				return nil, errors.New("wildcard: consecutive stars")
			}
			parts = append(parts, cur.String())
			cur.Reset()
			lastStar = true
		default:
			cur.WriteByte(c)
			lastStar = false
		}
	}
	return append(parts, cur.String()), nil
}

// wildcardMatch reports whether s matches parts joined by stars: the first
// part is a prefix, the last a suffix, the rest appear in order between.
func wildcardMatch(parts []string, s string) bool {
	if len(parts) == 1 {
		return s == parts[0]
	}
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	mid := s[len(first) : len(s)-len(last)]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(mid, p)
		if i < 0 {
			return false
		}
		mid = mid[i+len(p):]
	}
	return true
}

// match reports whether an event object matches the pattern.
func (n *node) match(obj map[string]any) bool {
	for _, f := range n.fields {
		v, present := obj[f.name]
		if f.child != nil {
			if !f.child.matchValue(v) {
				return false
			}
			continue
		}
		values := leaves(v, present)
		if !slices.ContainsFunc(f.conds, func(c condition) bool { return c(values) }) {
			return false
		}
	}
	for _, group := range n.ors {
		if !slices.ContainsFunc(group, func(alt *node) bool { return alt.match(obj) }) {
			return false
		}
	}
	return true
}

// matchValue matches a nested pattern object against an event value: an
// object, an array of objects (any element may match), or anything else,
// which only patterns made of "exists": false can match.
func (n *node) matchValue(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		return n.match(v)
	case []any:
		return slices.ContainsFunc(v, func(e any) bool {
			m, ok := e.(map[string]any)
			return ok && n.match(m)
		})
	}
	return n.match(nil)
}

// leaves returns the leaf values of an event field: the value itself, or
// the scalar elements of an array. Objects are not leaves.
func leaves(v any, present bool) []any {
	if !present {
		return nil
	}
	switch v := v.(type) {
	case map[string]any:
		return nil
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			switch e.(type) {
			case map[string]any, []any:
			default:
				out = append(out, e)
			}
		}
		return out
	}
	return []any{v}
}
