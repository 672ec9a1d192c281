package entra

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

var ctxField = regexp.MustCompile(`name="ctx" value="([^"]+)"`)

// SignInForCode walks the emulator's sign-in pages for authorizeURL as a
// browser would (password, MFA approval, consent when asked) with a fresh
// session, and returns the authorization code of the final redirect. It
// lets tests of a confidential client reach a real code without a browser.
func (e *Emulator) SignInForCode(ctx context.Context, authorizeURL, user string) (string, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", err
	}
	b := e.Client()
	b.Jar = jar
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	base := e.BaseURL()
	do := func(method, u string, form url.Values) (*http.Response, string, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(form.Encode()))
		if err != nil {
			return nil, "", err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := b.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp, string(body), err
	}
	resp, body, err := do(http.MethodGet, authorizeURL, nil)
	step := url.Values{"login": {user}, "passwd": {DefaultPassword}}
	next := base + "/login"
	for range 4 {
		if err != nil {
			return "", err
		}
		if resp.StatusCode == http.StatusFound {
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || loc.Query().Get("code") == "" {
				return "", fmt.Errorf("entra: sign-in redirected without a code: %s", resp.Header.Get("Location"))
			}
			return loc.Query().Get("code"), nil
		}
		m := ctxField.FindStringSubmatch(body)
		if m == nil {
			return "", fmt.Errorf("entra: sign-in stopped at %d: %.300s", resp.StatusCode, body)
		}
		step.Set("ctx", m[1])
		resp, body, err = do(http.MethodPost, next, step)
		switch {
		case err != nil:
		case strings.Contains(body, "Approve sign in request"):
			step, next = url.Values{}, base+"/login/mfa"
		default:
			step, next = url.Values{"action": {"accept"}}, base+"/consent"
		}
	}
	return "", fmt.Errorf("entra: sign-in did not end in a redirect")
}
