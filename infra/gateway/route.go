package gateway

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/ocpro/upgrade/infra/template"
)

// segment kinds, in the order API Gateway prefers them.
const (
	static = iota
	param
	greedy
)

type segment struct {
	kind int
	text string // the literal for static, the variable name otherwise
}

// route is one template route, parsed for matching.
type route struct {
	template.Route
	key      string
	segments []segment
}

// router picks the route for a request as an HTTP API does: among the routes
// whose method is the request's (or ANY) and whose path matches, the most
// specific wins; a static segment beats a variable, a variable beats a greedy
// {proxy+}, and an exact method beats ANY.
type router struct {
	routes []route
}

func newRouter(routes []template.Route) (*router, error) {
	seen := map[string]bool{}
	r := &router{}
	for _, tr := range routes {
		if tr.Function == "" {
			return nil, fmt.Errorf("route %q: no function", tr.RouteKey())
		}
		if tr.Method == "" {
			return nil, fmt.Errorf("route %q: no method", tr.RouteKey())
		}
		segs, err := parsePath(tr.Path)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", tr.RouteKey(), err)
		}
		key := tr.RouteKey()
		if seen[key] {
			return nil, fmt.Errorf("route %q: defined twice", key)
		}
		seen[key] = true
		r.routes = append(r.routes, route{Route: tr, key: key, segments: segs})
	}
	return r, nil
}

func parsePath(p string) ([]segment, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("path %q does not start with /", p)
	}
	if p == "/" {
		return nil, nil
	}
	parts := strings.Split(p[1:], "/")
	segs := make([]segment, 0, len(parts))
	for i, s := range parts {
		switch {
		case s == "":
			return nil, fmt.Errorf("path %q has an empty segment", p)
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}"):
			if i != len(parts)-1 {
				return nil, fmt.Errorf("path %q: greedy variable %s must be last", p, s)
			}
			segs = append(segs, segment{kind: greedy, text: s[1 : len(s)-2]})
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			segs = append(segs, segment{kind: param, text: s[1 : len(s)-1]})
		default:
			segs = append(segs, segment{kind: static, text: s})
		}
	}
	return segs, nil
}

// match returns the route for method and escaped path with its decoded path
// parameters, or false.
func (r *router) match(method, escapedPath string) (*route, map[string]string, bool) {
	var parts []string
	if p := strings.TrimPrefix(escapedPath, "/"); p != "" {
		parts = strings.Split(p, "/")
	}
	var (
		best       *route
		bestParams map[string]string
	)
	for i := range r.routes {
		rt := &r.routes[i]
		if rt.Method != method && rt.Method != "ANY" {
			continue
		}
		params, ok := rt.matchPath(parts)
		if !ok {
			continue
		}
		if best == nil || rt.moreSpecificThan(best) {
			best, bestParams = rt, params
		}
	}
	return best, bestParams, best != nil
}

func (rt *route) matchPath(parts []string) (map[string]string, bool) {
	var params map[string]string
	set := func(k, v string) {
		if params == nil {
			params = map[string]string{}
		}
		params[k] = v
	}
	for i, seg := range rt.segments {
		if i >= len(parts) {
			return nil, false
		}
		if seg.kind == greedy {
			rest := strings.Join(parts[i:], "/")
			if rest == "" {
				return nil, false
			}
			v, err := url.PathUnescape(rest)
			if err != nil {
				return nil, false
			}
			set(seg.text, v)
			return params, true
		}
		v, err := url.PathUnescape(parts[i])
		if err != nil || v == "" {
			return nil, false
		}
		switch seg.kind {
		case static:
			if v != seg.text {
				return nil, false
			}
		case param:
			set(seg.text, v)
		}
	}
	return params, len(parts) == len(rt.segments)
}

// moreSpecificThan compares two routes matching the same request, segment by
// segment from the left.
func (rt *route) moreSpecificThan(other *route) bool {
	for i := 0; i < len(rt.segments) && i < len(other.segments); i++ {
		if a, b := rt.segments[i].kind, other.segments[i].kind; a != b {
			return a < b
		}
	}
	if len(rt.segments) != len(other.segments) {
		// Both matched, so the shorter one ends in a greedy variable.
		return len(rt.segments) > len(other.segments)
	}
	return rt.Method != "ANY" && other.Method == "ANY"
}
