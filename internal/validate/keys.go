package validate

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
	"sync"

	"github.com/golang-jwt/jwt/v5"
)

// errKeysUnavailable marks a failure to fetch a tenant's keys, which says
// nothing about the token.
var errKeysUnavailable = errors.New("signing keys unavailable")

// tokenClaims are the claims the application check relies on.
type tokenClaims struct {
	TenantID string   `json:"tid"`
	Roles    []string `json:"roles"`
	jwt.RegisteredClaims
}

// tenantKeys is a tenant's issuer and signing keys by kid.
type tenantKeys struct {
	issuer string
	keys   map[string]*rsa.PublicKey
}

// keyCache fetches each tenant's OpenID configuration and JWKS once per
// container, and again when a token names a kid it does not know (key
// rollover).
type keyCache struct {
	http *http.Client
	host string
	// graph is Graph's resource identifier, the audience app tokens carry.
	graph string

	mu      sync.Mutex
	tenants map[string]tenantKeys
}

func newKeyCache(c *http.Client, host, graph string) *keyCache {
	return &keyCache{http: c, host: host, graph: graph, tenants: map[string]tenantKeys{}}
}

// verify checks the token's signature against the tenant's published keys
// and its issuer, audience (Graph) and lifetime, and returns its claims.
//
// Tokens Microsoft issues for Graph itself carry a nonce header that makes
// their signature unverifiable by anyone but Graph, by design; for those
// the claims are still checked and the Graph call that follows is the
// proof.
func (k *keyCache) verify(ctx context.Context, raw, tenantID string) (tokenClaims, error) {
	var claims tokenClaims
	unverified, _, err := jwt.NewParser().ParseUnverified(raw, &claims)
	if err != nil {
		return tokenClaims{}, fmt.Errorf("malformed token: %w", err)
	}
	tk, err := k.tenant(ctx, tenantID, false)
	if err != nil {
		return tokenClaims{}, err
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(tk.issuer), jwt.WithExpirationRequired()}
	if _, ok := unverified.Header["nonce"]; ok {
		claims = tokenClaims{}
		if _, _, err := jwt.NewParser(opts...).ParseUnverified(raw, &claims); err != nil {
			return tokenClaims{}, err
		}
		if claims.Issuer != tk.issuer {
			return tokenClaims{}, errors.New("issuer mismatch")
		}
	} else {
		claims = tokenClaims{}
		_, err = jwt.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
			kid, _ := t.Header["kid"].(string)
			if key, ok := tk.keys[kid]; ok {
				return key, nil
			}
			fresh, err := k.tenant(ctx, tenantID, true)
			if err != nil {
				return nil, err
			}
			if key, ok := fresh.keys[kid]; ok {
				return key, nil
			}
			return nil, fmt.Errorf("unknown signing key %q", kid)
		}, opts...)
		if err != nil {
			return tokenClaims{}, err
		}
	}
	aud, _ := claims.GetAudience()
	for _, a := range aud {
		if a == k.graph || a == k.graph+"/" || a == graphAppID {
			return claims, nil
		}
	}
	return tokenClaims{}, errors.New("the token is not for Microsoft Graph")
}

// tenant returns the tenant's keys, fetching them when unknown or when
// refresh is set.
func (k *keyCache) tenant(ctx context.Context, tenantID string, refresh bool) (tenantKeys, error) {
	k.mu.Lock()
	tk, ok := k.tenants[tenantID]
	k.mu.Unlock()
	if ok && !refresh {
		return tk, nil
	}
	var conf struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := k.getJSON(ctx, k.host+"/"+tenantID+"/v2.0/.well-known/openid-configuration", &conf); err != nil {
		return tenantKeys{}, fmt.Errorf("%w: openid configuration: %w", errKeysUnavailable, err)
	}
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := k.getJSON(ctx, conf.JWKSURI, &set); err != nil {
		return tenantKeys{}, fmt.Errorf("%w: signing keys: %w", errKeysUnavailable, err)
	}
	tk = tenantKeys{issuer: conf.Issuer, keys: map[string]*rsa.PublicKey{}}
	for _, jk := range set.Keys {
		if jk.Kty != "RSA" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(jk.N)
		e, err2 := base64.RawURLEncoding.DecodeString(jk.E)
		if err1 != nil || err2 != nil || len(e) > 4 {
			continue
		}
		tk.keys[jk.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	k.mu.Lock()
	k.tenants[tenantID] = tk
	k.mu.Unlock()
	return tk, nil
}

func (k *keyCache) getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := k.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, maxGraphBody)).Decode(out)
}
