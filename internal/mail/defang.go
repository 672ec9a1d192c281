package mail

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// dots are the full stop and the look-alikes that mail clients and
// browsers may read as one in a host name.
const dots = `.\x{2024}\x{3002}\x{FE52}\x{FF0E}\x{FF61}`

// defangers are Defang's patterns, compiled on first use rather than at
// package init: their Unicode classes take about half a millisecond to
// compile, which every function linking this package would otherwise pay
// at each cold start, Defang or not.
var defangers = sync.OnceValue(func() *defangPatterns {
	return &defangPatterns{
		hostish:   regexp.MustCompile(`[\p{L}\p{N}_\-]+(?:[` + dots + `][\p{L}\p{N}_\-]+)+`),
		schemeish: regexp.MustCompile(`(?i)[a-z][a-z0-9+.\-]*:/|\b(?:mailto|tel|sips?|callto|im|xmpp|javascript|data|file|ms-[a-z\-]+):`),
		www:       regexp.MustCompile(`(?i)www[` + dots + `]`),
		dot:       regexp.MustCompile(`[` + dots + `]`),
	}
})

type defangPatterns struct {
	// hostish is a run of labels joined by dots: contoso.com, evil.example,
	// but also 1.5 (Defang leaves numbers alone).
	hostish *regexp.Regexp
	// schemeish is a URL scheme as clients link it: any scheme before a
	// slash, or one of those that need none.
	schemeish *regexp.Regexp
	// www is the prefix clients link whatever follows it.
	www *regexp.Regexp
	dot *regexp.Regexp
}

// Defang makes operator text safe to put in a mail: mail clients turn
// https://evil.example, www.evil.example, evil.example and
// mailto:x@evil.example into links on their own, so the text an operator
// chose could carry a link that the service sends under its own name. Every
// dot of a host name becomes "[.]" and every scheme's colon "[:]", the way
// security advisories write addresses that must not be followed: the
// reader still sees what was written, and nothing in it is a link.
func Defang(s string) string {
	p := defangers()
	s = p.hostish.ReplaceAllStringFunc(s, func(m string) string {
		labels := p.dot.Split(m, -1)
		if !slices.ContainsFunc(labels[1:], func(l string) bool { return strings.ContainsFunc(l, unicode.IsLetter) }) {
			return m // a number such as 1.5 or 2026.12 links nowhere
		}
		return p.dot.ReplaceAllString(m, "[.]")
	})
	s = p.www.ReplaceAllStringFunc(s, func(m string) string { return m[:3] + "[.]" })
	return p.schemeish.ReplaceAllStringFunc(s, func(m string) string {
		i := strings.IndexByte(m, ':')
		return m[:i] + "[:]" + m[i+1:]
	})
}

// DefangAround is Defang for a text that holds the service's own link:
// the link stays as it is, everything around it is defanged.
func DefangAround(s, link string) string {
	if link == "" {
		return Defang(s)
	}
	parts := strings.Split(s, link)
	for i := range parts {
		parts[i] = Defang(parts[i])
	}
	return strings.Join(parts, link)
}
