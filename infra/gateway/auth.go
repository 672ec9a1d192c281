package gateway

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ocpro/upgrade/infra/template"
)

// minRefetch bounds how often an unknown key id makes the authorizer fetch
// the key set again, so that made-up key ids cannot turn every request into a
// fetch.
const minRefetch = 5 * time.Second

// maxDocumentBytes bounds the discovery document and the key set.
const maxDocumentBytes = 1 << 20

// denial is a failed authorization: 401 for a token that is missing or
// invalid, 403 for a valid token without a required scope. description ends
// up in the www-authenticate header, as API Gateway does it.
type denial struct {
	status      int
	description string
}

func (d *denial) Error() string { return d.description }

// identity is what a valid token tells the function.
type identity struct {
	claims map[string]string
	scopes []string
}

// authorizer validates bearer tokens as an HTTP API JWT authorizer does.
type authorizer struct {
	cfg    template.JWTAuthorizer
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	keys      map[string]*rsa.PublicKey
	fetchedAt time.Time
	refetch   time.Duration
}

func newAuthorizer(cfg template.JWTAuthorizer, client *http.Client, now func() time.Time) (*authorizer, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("JWT authorizer: no issuer")
	}
	if len(cfg.Audience) == 0 {
		return nil, errors.New("JWT authorizer: no audience")
	}
	if src := cfg.IdentitySource; src != "" && !strings.EqualFold(src, "$request.header.Authorization") {
		return nil, fmt.Errorf("JWT authorizer: identity source %q is not supported", src)
	}
	return &authorizer{cfg: cfg, client: client, now: now, refetch: minRefetch}, nil
}

// authorize validates the request's token and returns its identity, or a
// *denial, or another error when the key set cannot be fetched.
func (a *authorizer) authorize(ctx context.Context, r *http.Request) (*identity, error) {
	raw := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(raw) > 7 && strings.EqualFold(raw[:7], "bearer ") {
		raw = strings.TrimSpace(raw[7:])
	}
	if raw == "" {
		return nil, &denial{status: http.StatusUnauthorized}
	}

	var keyErr error
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithJSONNumber(),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(a.now),
	).ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		key, err := a.key(ctx, kid)
		keyErr = err
		return key, err
	})
	switch {
	case err == nil:
	case keyErr != nil && !errors.Is(keyErr, errUnknownKey):
		return nil, keyErr
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, invalid("the token has expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, invalid("the token is not valid yet")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return nil, invalid("the token was issued in the future")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, invalid("the token is malformed")
	default:
		return nil, invalid("the token signature is invalid")
	}

	if iss, _ := claims["iss"].(string); iss != a.cfg.Issuer {
		return nil, invalid("the token has an invalid issuer")
	}
	if !a.audienceOK(claims) {
		return nil, invalid("the token does not have a valid audience")
	}
	scopes := tokenScopes(claims)
	if len(a.cfg.Scopes) > 0 && !slices.ContainsFunc(scopes, func(s string) bool { return slices.Contains(a.cfg.Scopes, s) }) {
		return nil, &denial{
			status:      http.StatusForbidden,
			description: fmt.Sprintf("expected scopes: %v", a.cfg.Scopes),
		}
	}
	return &identity{claims: claimStrings(claims), scopes: scopes}, nil
}

func invalid(description string) *denial {
	return &denial{status: http.StatusUnauthorized, description: description}
}

// audienceOK checks aud, or client_id only when the token has no aud.
func (a *authorizer) audienceOK(claims jwt.MapClaims) bool {
	var got []string
	if _, ok := claims["aud"]; ok {
		aud, err := claims.GetAudience()
		if err != nil {
			return false
		}
		got = aud
	} else if cid, ok := claims["client_id"].(string); ok {
		got = []string{cid}
	}
	return slices.ContainsFunc(got, func(s string) bool { return slices.Contains(a.cfg.Audience, s) })
}

// tokenScopes reads the space-separated scope or scp claim; some issuers
// send scp as an array.
func tokenScopes(claims jwt.MapClaims) []string {
	var out []string
	for _, name := range []string{"scope", "scp"} {
		switch v := claims[name].(type) {
		case string:
			out = append(out, strings.Fields(v)...)
		case []any:
			for _, s := range v {
				if s, ok := s.(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// claimStrings renders every claim as a string, as API Gateway passes them:
// numbers as written, arrays as "[a b]", objects as JSON.
func claimStrings(claims jwt.MapClaims) map[string]string {
	out := make(map[string]string, len(claims))
	for k, v := range claims {
		out[k] = claimString(v)
	}
	return out
}

func claimString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = claimString(x)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case map[string]any:
		b, _ := json.Marshal(v)
		return string(b)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

var errUnknownKey = errors.New("unknown signing key")

// key returns the issuer's public key kid, fetching the key set when it is
// not cached yet or does not hold kid (keys rotate).
func (a *authorizer) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if k, ok := a.keys[kid]; ok {
		return k, nil
	}
	if a.keys != nil && a.now().Sub(a.fetchedAt) < a.refetch {
		return nil, errUnknownKey
	}
	keys, err := a.fetchKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("JWT authorizer: %w", err)
	}
	a.keys, a.fetchedAt = keys, a.now()
	if k, ok := a.keys[kid]; ok {
		return k, nil
	}
	return nil, errUnknownKey
}

func (a *authorizer) fetchKeys(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	var discovery struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := a.getJSON(ctx, strings.TrimSuffix(a.cfg.Issuer, "/")+"/.well-known/openid-configuration", &discovery); err != nil {
		return nil, err
	}
	if discovery.JWKSURI == "" {
		return nil, errors.New("discovery document has no jwks_uri")
	}
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := a.getJSON(ctx, discovery.JWKSURI, &set); err != nil {
		return nil, err
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		n, errN := base64.RawURLEncoding.DecodeString(k.N)
		e, errE := base64.RawURLEncoding.DecodeString(k.E)
		if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
			continue // one bad key must not hide the good ones
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return keys, nil
}

func (a *authorizer) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s: status %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocumentBytes)).Decode(v); err != nil {
		return fmt.Errorf("decoding %s: %w", url, err)
	}
	return nil
}
