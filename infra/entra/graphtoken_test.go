package entra

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestGraphTokensAreV1WithNonce holds Graph's app tokens to Microsoft's
// shape: v1.0 claims, the sts.windows.net issuer, appid, and a nonce
// header over which the published keys do not verify the signature, while
// Graph itself accepts the token.
func TestGraphTokensAreV1WithNonce(t *testing.T) {
	t.Parallel()
	e, base := newWithServiceApp(t)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {serviceClientID},
		"client_secret": {serviceSecret}, "scope": {GraphResource + "/.default"}}
	var body map[string]any
	if status := postForm(t, e.Client(), base+"/"+DefaultOperatorTenantID+"/oauth2/v2.0/token", form, nil, &body); status != http.StatusOK {
		t.Fatalf("status = %d, body %v", status, body)
	}
	raw := body["access_token"].(string)
	claims := decodeClaims(t, raw)
	want := map[string]any{"iss": "https://sts.windows.net/" + DefaultOperatorTenantID + "/", "ver": "1.0",
		"appid": serviceClientID, "appidacr": "1", "tid": DefaultOperatorTenantID, "aud": GraphResource}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("%s = %v, want %v", k, claims[k], v)
		}
	}
	for _, k := range []string{"azp", "azpacr"} {
		if _, ok := claims[k]; ok {
			t.Errorf("v1.0 Graph token carries %s", k)
		}
	}
	keys := fetchKeys(t, e.Client(), base+"/"+DefaultOperatorTenantID+"/discovery/v2.0/keys")
	_, err := jwt.Parse(raw, func(tok *jwt.Token) (any, error) {
		if _, ok := tok.Header["nonce"].(string); !ok {
			t.Error("Graph token header has no nonce")
		}
		kid, _ := tok.Header["kid"].(string)
		return keys[kid], nil
	}, jwt.WithValidMethods([]string{"RS256"}))
	if !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Errorf("verifying the Graph token as sent: err = %v, want an invalid signature", err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/v1.0/organization", nil)
	req.Header.Set("Authorization", "Bearer "+raw)
	resp, err := e.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("Graph answered the token with %d, want 200", resp.StatusCode)
	}
}
