package entra

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultTokenLifetime is how long issued tokens are valid, as Microsoft's
// default access token lifetime is about an hour.
const DefaultTokenLifetime = time.Hour

// TokenOption changes one aspect of a token from OperatorToken or
// OperatorIDToken, mostly to forge bad tokens for negative tests.
type TokenOption func(*tokenSpec)

type keyChoice int

const (
	keyCurrent keyChoice = iota
	keyPrevious
	keyForeign
)

type tokenSpec struct {
	audience  string
	issuer    string
	scopes    []string
	lifetime  time.Duration
	issuedAt  time.Time
	notBefore time.Time
	expiresAt time.Time
	key       keyChoice
	set       map[string]any
	drop      []string
	// graph marks a token for Microsoft Graph: signed with a nonce header
	// (see signGraph).
	graph bool
}

// WithAudience sets aud instead of the portal audience.
func WithAudience(aud string) TokenOption { return func(s *tokenSpec) { s.audience = aud } }

// WithIssuer sets iss instead of the operator tenant's issuer.
func WithIssuer(iss string) TokenOption { return func(s *tokenSpec) { s.issuer = iss } }

// WithScopes sets the delegated permissions in scp. No scopes drops scp.
func WithScopes(scopes ...string) TokenOption {
	return func(s *tokenSpec) { s.scopes = append([]string{}, scopes...) }
}

// WithLifetime sets exp to iat plus d. A negative d gives an expired token.
func WithLifetime(d time.Duration) TokenOption { return func(s *tokenSpec) { s.lifetime = d } }

// WithIssuedAt sets iat (and nbf, unless WithNotBefore sets it).
func WithIssuedAt(t time.Time) TokenOption { return func(s *tokenSpec) { s.issuedAt = t } }

// WithNotBefore sets nbf, for tokens not valid yet.
func WithNotBefore(t time.Time) TokenOption { return func(s *tokenSpec) { s.notBefore = t } }

// WithExpiresAt sets exp directly.
func WithExpiresAt(t time.Time) TokenOption { return func(s *tokenSpec) { s.expiresAt = t } }

// WithPreviousKey signs with the previous signing key, which JWKS still
// publishes, as a token from before a key rollover would be.
func WithPreviousKey() TokenOption { return func(s *tokenSpec) { s.key = keyPrevious } }

// WithForeignKey signs with a key JWKS does not publish while the header
// still names the current kid: a forged token.
func WithForeignKey() TokenOption { return func(s *tokenSpec) { s.key = keyForeign } }

// WithClaim sets a claim, overriding the one the emulator would issue.
func WithClaim(name string, value any) TokenOption {
	return func(s *tokenSpec) {
		if s.set == nil {
			s.set = map[string]any{}
		}
		s.set[name] = value
	}
}

// WithoutClaim removes a claim from the token.
func WithoutClaim(name string) TokenOption {
	return func(s *tokenSpec) { s.drop = append(s.drop, name) }
}

// errNoBaseURL is returned when a token is asked for before the emulator
// knows the URL it is served at, which its issuer is built from.
var errNoBaseURL = errors.New("entra emulator base URL not set (call SetBaseURL or Serve)")

// issuedToken is an issued token with its lifetime in seconds.
type issuedToken struct {
	Value     string
	ExpiresIn int64
}

// OperatorToken returns a v2.0 access token for the portal API, as a staff
// member of operator would get it after signing in to the portal: aud is
// the portal audience, scp the portal scope, and the operator claim names
// the operator.
func (e *Emulator) OperatorToken(operator string, opts ...TokenOption) (string, error) {
	tok, err := e.operatorToken(e.BaseURL(), operator, false, opts...)
	return tok.Value, err
}

// OperatorIDToken returns the ID token the portal client would get for the
// same sign-in: aud is the portal client id and there is no scp. An API
// must refuse it.
func (e *Emulator) OperatorIDToken(operator string, opts ...TokenOption) (string, error) {
	tok, err := e.operatorToken(e.BaseURL(), operator, true, opts...)
	return tok.Value, err
}

// operatorToken issues a staff token whose issuer is built from base.
func (e *Emulator) operatorToken(base, operator string, idToken bool, opts ...TokenOption) (issuedToken, error) {
	if err := validOperator(operator); err != nil {
		return issuedToken{}, err
	}
	if base == "" {
		return issuedToken{}, errNoBaseURL
	}
	tenant := e.cfg.OperatorTenantID
	user, err := e.dir.ensureUser(tenant, staffUPN(operator, e.cfg.OperatorDomain), operator+" staff")
	if err != nil {
		return issuedToken{}, fmt.Errorf("operator token: %w", err)
	}
	spec := tokenSpec{
		audience: e.cfg.PortalAudience,
		issuer:   base + "/" + tenant + "/v2.0",
		scopes:   []string{e.cfg.PortalScope},
		lifetime: DefaultTokenLifetime,
	}
	if idToken {
		spec.audience = DefaultPortalClientID
		spec.scopes = nil
	}
	for _, o := range opts {
		o(&spec)
	}
	claims := jwt.MapClaims{
		"aud":                spec.audience,
		"iss":                spec.issuer,
		"aio":                opaque(48),
		"name":               user.DisplayName,
		"oid":                user.ObjectID,
		"preferred_username": user.UserPrincipalName,
		"rh":                 "1." + opaque(40) + ".",
		"sub":                pairwiseSubject(user.ObjectID, spec.audience),
		"tid":                tenant,
		"uti":                opaque(16),
		"ver":                "2.0",
		e.cfg.OperatorClaim:  operator,
	}
	if !idToken {
		claims["azp"] = DefaultPortalClientID
		claims["azpacr"] = "0" // A public client: the portal SPA holds no secret.
	}
	if len(spec.scopes) > 0 {
		claims["scp"] = strings.Join(spec.scopes, " ")
	}
	return e.issue(claims, spec)
}

// appToken returns an app-only access token, as the client credentials
// grant issues it.
func (e *Emulator) appToken(base, tenantID, clientID, resource string, roles []string) (issuedToken, error) {
	spOID := nameGUID("servicePrincipal", tenantID, clientID)
	claims := jwt.MapClaims{
		"aud":    resource,
		"iss":    base + "/" + tenantID + "/v2.0",
		"aio":    opaque(48),
		"azp":    clientID,
		"azpacr": "1", // Authenticated with a client secret.
		"idtyp":  "app",
		"oid":    spOID,
		"rh":     "1." + opaque(40) + ".",
		"sub":    spOID,
		"tid":    tenantID,
		"uti":    opaque(16),
		"ver":    "2.0",
	}
	// Microsoft omits roles when the tenant granted none, rather than
	// sending an empty list.
	if len(roles) > 0 {
		claims["roles"] = roles
	}
	spec := tokenSpec{lifetime: DefaultTokenLifetime}
	if e.isGraphAudience(resource) {
		toGraphClaims(claims, tenantID)
		spec.graph = true
	}
	return e.issue(claims, spec)
}

// issue adds the time claims, applies overrides, and signs.
func (e *Emulator) issue(claims jwt.MapClaims, spec tokenSpec) (issuedToken, error) {
	iat := spec.issuedAt
	if iat.IsZero() {
		iat = e.now()
	}
	nbf := spec.notBefore
	if nbf.IsZero() {
		nbf = iat
	}
	exp := spec.expiresAt
	if exp.IsZero() {
		exp = iat.Add(spec.lifetime)
	}
	claims["iat"] = iat.Unix()
	claims["nbf"] = nbf.Unix()
	claims["exp"] = exp.Unix()
	for k, v := range spec.set {
		claims[k] = v
	}
	for _, k := range spec.drop {
		delete(claims, k)
	}
	key, signer, err := e.signingKeyFor(spec.key)
	if err != nil {
		return issuedToken{}, err
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = key.kid
	var signed string
	if spec.graph {
		signed, err = signGraph(t, signer)
	} else {
		signed, err = t.SignedString(signer.priv)
	}
	if err != nil {
		return issuedToken{}, fmt.Errorf("sign token: %w", err)
	}
	return issuedToken{Value: signed, ExpiresIn: int64(exp.Sub(e.now()).Round(time.Second) / time.Second)}, nil
}

// signingKeyFor returns the key whose kid goes in the header and the key
// that signs; they differ only for forged tokens.
func (e *Emulator) signingKeyFor(c keyChoice) (named, signer *signingKey, err error) {
	switch c {
	case keyPrevious:
		return e.previous, e.previous, nil
	case keyForeign:
		e.foreignOnce.Do(func() { e.foreign, e.foreignErr = newSigningKey(e.now()) })
		if e.foreignErr != nil {
			return nil, nil, fmt.Errorf("foreign key: %w", e.foreignErr)
		}
		return e.current, e.foreign, nil
	default:
		return e.current, e.current, nil
	}
}

// validOperator accepts the operator names a portal could send: not empty,
// at most 128 characters, no control characters.
func validOperator(operator string) error {
	if operator == "" || len(operator) > 128 {
		return errors.New("operator must be 1 to 128 characters")
	}
	for _, r := range operator {
		if unicode.IsControl(r) {
			return errors.New("operator must not contain control characters")
		}
	}
	return nil
}

// staffUPN is the user principal name of an operator's staff member. Names
// that are not already a clean local part get a hash suffix, so that two
// operators never share a user.
func staffUPN(operator, domain string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(operator) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	local := strings.Trim(b.String(), ".")
	if local != operator {
		sum := sha256.Sum256([]byte(operator))
		local += "-" + hex.EncodeToString(sum[:3])
	}
	return "staff." + local + "@" + domain
}

// pairwiseSubject is sub: stable for one user and one application, and
// different across applications, as Microsoft's pairwise subjects are.
func pairwiseSubject(oid, app string) string {
	sum := sha256.Sum256([]byte(oid + "\x00" + app))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// opaque returns n random bytes in base64url, for claims Microsoft marks
// opaque (aio, rh, uti).
func opaque(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24.
	return base64.RawURLEncoding.EncodeToString(b)
}
