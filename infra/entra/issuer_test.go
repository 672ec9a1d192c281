package entra

import (
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fetchKeys reads the JWKS the way a token validator does, checking that
// each key's x5c certificate, x5t and n/e agree.
func fetchKeys(t *testing.T, c *http.Client, jwksURL string) map[string]*rsa.PublicKey {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if status := getJSON(t, c, jwksURL, &set); status != http.StatusOK {
		t.Fatalf("GET %s: status %d", jwksURL, status)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		for _, f := range []string{"kty", "use", "kid", "x5t", "n", "e"} {
			if s, _ := k[f].(string); s == "" {
				t.Fatalf("key lacks %s: %v", f, k)
			}
		}
		if k["kty"] != "RSA" || k["use"] != "sig" {
			t.Errorf("kty/use = %v/%v, want RSA/sig", k["kty"], k["use"])
		}
		n, err := base64.RawURLEncoding.DecodeString(k["n"].(string))
		if err != nil {
			t.Fatalf("n: %v", err)
		}
		e, err := base64.RawURLEncoding.DecodeString(k["e"].(string))
		if err != nil {
			t.Fatalf("e: %v", err)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() != 2048 {
			t.Errorf("key size = %d bits, want 2048", pub.N.BitLen())
		}
		x5c, _ := k["x5c"].([]any)
		if len(x5c) != 1 {
			t.Fatalf("x5c = %v, want one certificate", k["x5c"])
		}
		der, err := base64.StdEncoding.DecodeString(x5c[0].(string))
		if err != nil {
			t.Fatalf("x5c: %v", err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("x5c certificate: %v", err)
		}
		if !pub.Equal(cert.PublicKey) {
			t.Errorf("kid %s: n/e differ from the x5c certificate's key", k["kid"])
		}
		sum := sha1.Sum(der)
		if want := base64.RawURLEncoding.EncodeToString(sum[:]); k["x5t"] != want {
			t.Errorf("x5t = %v, want thumbprint %s", k["x5t"], want)
		}
		keys[k["kid"].(string)] = pub
	}
	return keys
}

// validate checks a token as the API's JWT authorizer does.
func validate(token string, keys map[string]*rsa.PublicKey, issuer, audience string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		k, ok := keys[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return k, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(issuer), jwt.WithAudience(audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	return claims, err
}

func TestStaffTokenValidatesWithJWKS(t *testing.T) {
	t.Parallel()
	e, base := newServed(t, Config{})
	issuer := base + "/" + DefaultOperatorTenantID + "/v2.0"
	if e.Issuer() != issuer {
		t.Fatalf("Issuer() = %s, want %s", e.Issuer(), issuer)
	}
	keys := fetchKeys(t, e.Client(), base+"/"+DefaultOperatorTenantID+"/discovery/v2.0/keys")
	if len(keys) != 2 {
		t.Fatalf("JWKS has %d distinct keys, want current and previous", len(keys))
	}
	now := time.Now()
	tests := []struct {
		name    string
		id      bool
		opts    []TokenOption
		wantErr error // nil means the token must validate.
	}{
		{"staff token", false, nil, nil},
		{"signed with the previous key", false, []TokenOption{WithPreviousKey()}, nil},
		{"forged with a foreign key", false, []TokenOption{WithForeignKey()}, jwt.ErrTokenSignatureInvalid},
		{"expired", false, []TokenOption{WithIssuedAt(now.Add(-2 * time.Hour))}, jwt.ErrTokenExpired},
		{"not valid yet", false, []TokenOption{WithNotBefore(now.Add(time.Hour))}, jwt.ErrTokenNotValidYet},
		{"other audience", false, []TokenOption{WithAudience("api://someone-else")}, jwt.ErrTokenInvalidAudience},
		{"other issuer", false, []TokenOption{WithIssuer("https://login.microsoftonline.com/x/v2.0")}, jwt.ErrTokenInvalidIssuer},
		{"without exp", false, []TokenOption{WithoutClaim("exp")}, jwt.ErrTokenRequiredClaimMissing},
		{"ID token instead of access token", true, nil, jwt.ErrTokenInvalidAudience},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			issue := e.OperatorToken
			if tc.id {
				issue = e.OperatorIDToken
			}
			tok, err := issue("acme", tc.opts...)
			if err != nil {
				t.Fatalf("issue: %v", err)
			}
			_, err = validate(tok, keys, issuer, DefaultPortalAudience)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("validate: %v", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("validate error = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestStaffTokenClaims(t *testing.T) {
	t.Parallel()
	e, err := New(Config{OperatorClaim: "operator_id", PortalAudience: "api://portal-test", PortalScope: "Upgrades.Manage"})
	if err != nil {
		t.Fatal(err)
	}
	e.SetBaseURL("https://127.0.0.1:4443")
	acme := decodeClaims(t, mustToken(t)(e.OperatorToken("acme")))
	stringClaims := map[string]string{
		"aud":         "api://portal-test",
		"iss":         "https://127.0.0.1:4443/" + DefaultOperatorTenantID + "/v2.0",
		"azp":         DefaultPortalClientID,
		"azpacr":      "0",
		"scp":         "Upgrades.Manage",
		"tid":         DefaultOperatorTenantID,
		"ver":         "2.0",
		"operator_id": "acme",
		"name":        "acme staff",
	}
	for k, want := range stringClaims {
		if acme[k] != want {
			t.Errorf("%s = %#v, want %q", k, acme[k], want)
		}
	}
	for _, k := range []string{"aio", "rh", "sub", "uti", "oid", "preferred_username"} {
		if s, ok := acme[k].(string); !ok || s == "" {
			t.Errorf("%s = %#v, want a non-empty string", k, acme[k])
		}
	}
	if !guidPattern.MatchString(acme["oid"].(string)) {
		t.Errorf("oid = %v, want a GUID", acme["oid"])
	}
	if upn := acme["preferred_username"].(string); !strings.HasSuffix(upn, "@"+DefaultOperatorDomain) {
		t.Errorf("preferred_username = %s, want a user of %s", upn, DefaultOperatorDomain)
	}
	iat, okI := acme["iat"].(float64)
	nbf, okN := acme["nbf"].(float64)
	exp, okE := acme["exp"].(float64)
	if !okI || !okN || !okE {
		t.Fatalf("iat/nbf/exp must be JSON numbers: %#v %#v %#v", acme["iat"], acme["nbf"], acme["exp"])
	}
	if exp-iat != 3600 || nbf != iat {
		t.Errorf("exp-iat = %v, nbf-iat = %v, want 3600 and 0", exp-iat, nbf-iat)
	}

	again := decodeClaims(t, mustToken(t)(e.OperatorToken("acme")))
	globex := decodeClaims(t, mustToken(t)(e.OperatorToken("Globex Corp")))
	if again["oid"] != acme["oid"] || again["sub"] != acme["sub"] {
		t.Error("the same operator's staff got a different oid or sub")
	}
	if again["uti"] == acme["uti"] {
		t.Error("two tokens share a uti; it must be unique per token")
	}
	if globex["oid"] == acme["oid"] || globex["preferred_username"] == acme["preferred_username"] {
		t.Error("two operators share a user")
	}

	id := decodeClaims(t, mustToken(t)(e.OperatorIDToken("acme")))
	if id["aud"] != DefaultPortalClientID {
		t.Errorf("ID token aud = %v, want the portal client id", id["aud"])
	}
	for _, k := range []string{"scp", "azp", "azpacr"} {
		if _, ok := id[k]; ok {
			t.Errorf("ID token carries %s", k)
		}
	}
}

func TestOperatorTokenRefusesBadInput(t *testing.T) {
	t.Parallel()
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.OperatorToken("acme"); !errors.Is(err, errNoBaseURL) {
		t.Errorf("before SetBaseURL: err = %v, want errNoBaseURL", err)
	}
	e.SetBaseURL("https://127.0.0.1:1")
	for _, op := range []string{"", "bad\nname", strings.Repeat("x", 129)} {
		if _, err := e.OperatorToken(op); err == nil {
			t.Errorf("OperatorToken(%q) succeeded, want an error", op)
		}
	}
}

func mustToken(t *testing.T) func(string, error) string {
	return func(tok string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("issue token: %v", err)
		}
		return tok
	}
}

// decodeClaims reads a token's payload without checking the signature.
func decodeClaims(t *testing.T, token string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		t.Fatalf("parse token: %v", err)
	}
	return claims
}
