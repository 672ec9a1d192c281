package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Credential reads the operator application's credential from a
// Secrets Manager secret on first need and keeps it for the container's
// life. The secret holds either the client secret itself or JSON
// {"clientSecret": "...", "expiresAt": "<RFC 3339>"}, which also tells
// the M365 Settings page when the credential expires.
type Credential struct {
	client GetSecretValueAPI
	arn    string
	now    func() time.Time

	mu        sync.Mutex
	secret    string
	expires   time.Time
	refreshed time.Time
}

// NewCredential returns a Credential for the secret arn.
func NewCredential(client GetSecretValueAPI, arn string) (*Credential, error) {
	if client == nil {
		return nil, errors.New("secret: nil Secrets Manager client")
	}
	if arn == "" {
		return nil, errors.New("secret: empty credential secret ARN")
	}
	return &Credential{client: client, arn: arn, now: time.Now}, nil
}

// ClientSecret returns the client secret, read on first need.
func (s *Credential) ClientSecret(ctx context.Context) (string, error) {
	if err := s.load(ctx); err != nil {
		return "", err
	}
	return s.secret, nil
}

// ExpiresAt returns when the credential expires, zero when the secret does
// not say.
func (s *Credential) ExpiresAt(ctx context.Context) (time.Time, error) {
	if err := s.load(ctx); err != nil {
		return time.Time{}, err
	}
	return s.expires, nil
}

// Refresh reads the credential again after Microsoft refused it as wrong
// or expired (Stale): a secret rotated in Secrets Manager stays stale in a
// warm container until then. It reports whether the secret changed, so
// that the caller tries again only when that can help; it reads again at
// most once per MinRefreshInterval.
func (s *Credential) Refresh(ctx context.Context) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if !s.refreshed.IsZero() && now.Sub(s.refreshed) < MinRefreshInterval {
		return false, nil
	}
	s.refreshed = now
	old := s.secret
	if err := s.fetch(ctx); err != nil {
		return false, err
	}
	return s.secret != old, nil
}

// aadsts finds Microsoft's error numbers in an error's text. Compiled on
// first use rather than at package init, which every cold start would pay.
var aadsts = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\bAADSTS(\d+)\b`) })

// StaleCode reports whether Microsoft's error number refuses the client
// secret as not the application's (AADSTS7000215) or expired
// (AADSTS7000222), the sign of a rotation this container has not read.
func StaleCode(code int) bool { return code == 7000215 || code == 7000222 }

// Stale reports whether err is Microsoft refusing the client secret as
// wrong or expired (StaleCode).
func Stale(err error) bool {
	if err == nil {
		return false
	}
	for _, m := range aadsts().FindAllStringSubmatch(err.Error(), -1) {
		if code, cerr := strconv.Atoi(m[1]); cerr == nil && StaleCode(code) {
			return true
		}
	}
	return false
}

// RefreshIfStale reads the credential of src again when err says Microsoft
// refused the secret, and reports whether a retry with the new secret may
// help. src is what the caller holds (a ClientSecret source); only a
// Credential can be read again.
func RefreshIfStale(ctx context.Context, src any, err error) bool {
	return Stale(err) && refresh(ctx, src)
}

// RefreshIfStaleCode is RefreshIfStale for a caller that has already read
// Microsoft's error number from the token endpoint's answer.
func RefreshIfStaleCode(ctx context.Context, src any, code int) bool {
	return StaleCode(code) && refresh(ctx, src)
}

// refresh reads the credential of src again and reports whether it changed.
func refresh(ctx context.Context, src any) bool {
	c, ok := src.(*Credential)
	if !ok {
		return false
	}
	changed, err := c.Refresh(ctx)
	return err == nil && changed
}

func (s *Credential) load(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secret != "" {
		return nil
	}
	return s.fetch(ctx)
}

// fetch reads the secret; s.mu is held.
func (s *Credential) fetch(ctx context.Context) error {
	out, err := s.client.GetSecretValue(ctx, GetSecretValueInput{SecretID: s.arn})
	if err != nil {
		return fmt.Errorf("secret: get %s: %w", s.arn, err)
	}
	secret, expires, err := parseCredential(out.SecretString)
	if err != nil {
		// The value never goes into the error.
		return fmt.Errorf("secret: %s: %w", s.arn, err)
	}
	s.secret, s.expires = secret, expires
	return nil
}

// parseCredential reads a plain client secret or the JSON form.
func parseCredential(v string) (secret string, expires time.Time, err error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", time.Time{}, errors.New("empty credential")
	}
	if !strings.HasPrefix(v, "{") {
		return v, time.Time{}, nil
	}
	var j struct {
		ClientSecret string `json:"clientSecret"`
		ExpiresAt    string `json:"expiresAt"`
	}
	if json.Unmarshal([]byte(v), &j) != nil || j.ClientSecret == "" {
		return "", time.Time{}, errors.New("credential JSON needs clientSecret")
	}
	if j.ExpiresAt != "" {
		if expires, err = time.Parse(time.RFC3339, j.ExpiresAt); err != nil {
			return "", time.Time{}, errors.New("credential expiresAt is not RFC 3339")
		}
	}
	return j.ClientSecret, expires.UTC(), nil
}
