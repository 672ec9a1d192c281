package e2e

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"sync"
)

// secrets collects every secret value the tests see (bearer tokens, link
// tokens, codes, states) so that, after the whole suite, the stack's output
// can be searched for them: a secret in a log line is a defect.
var secrets struct {
	sync.Mutex
	values map[string]string // value -> what it is
}

// rememberSecret records a secret value; short values are ignored because
// they would match by chance.
func rememberSecret(what, value string) {
	if len(value) < 16 {
		return
	}
	secrets.Lock()
	defer secrets.Unlock()
	if secrets.values == nil {
		secrets.values = map[string]string{}
	}
	secrets.values[value] = what
}

// rememberLink records the token of a wizard link (authUrl).
func rememberLink(authURL string) {
	u, err := url.Parse(authURL)
	if err != nil {
		return
	}
	if tok, ok := strings.CutPrefix(u.Path, "/invite/"); ok {
		rememberSecret("link token", tok)
		// The MAC alone is as secret as the whole token.
		if _, mac, ok := strings.Cut(tok, "."); ok {
			rememberSecret("link MAC", mac)
		}
	}
}

// leakedSecrets lists the recorded secrets found in the output.
func leakedSecrets(output []byte) []string {
	secrets.Lock()
	defer secrets.Unlock()
	var found []string
	for v, what := range secrets.values {
		if bytes.Contains(output, []byte(v)) {
			found = append(found, fmt.Sprintf("%s (%s...)", what, v[:6]))
		}
	}
	return found
}
