package entra

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Microsoft Graph's access tokens are v1.0 tokens whatever endpoint issued
// them: iss is the sts.windows.net issuer of the tenant, ver is "1.0",
// the client is appid (with appidacr) rather than azp, and users are named
// by upn and unique_name. Their header carries a nonce, and the signature
// is computed over the header with the nonce's SHA-256 in its place, so
// that nobody but Graph can check it: Microsoft says tokens for Graph are
// not for the client to validate.

// graphIssuer is the issuer of a tenant's Graph tokens.
func graphIssuer(tenantID string) string { return "https://sts.windows.net/" + tenantID + "/" }

// toGraphClaims rewrites v2.0 access token claims into Graph's v1.0 shape.
func toGraphClaims(c jwt.MapClaims, tenantID string) {
	c["iss"] = graphIssuer(tenantID)
	c["ver"] = "1.0"
	if azp, ok := c["azp"]; ok {
		c["appid"], c["appidacr"] = azp, c["azpacr"]
		delete(c, "azp")
		delete(c, "azpacr")
	}
	if upn, ok := c["preferred_username"]; ok {
		c["upn"], c["unique_name"] = upn, upn
		delete(c, "preferred_username")
	}
}

// hashedNonce is what the signature covers in place of the nonce.
func hashedNonce(nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// signGraph signs t with the nonce's hash in the header, then sends the
// nonce itself: the signature does not verify over the header as sent.
func signGraph(t *jwt.Token, key *signingKey) (string, error) {
	nonce := opaque(32)
	t.Header["nonce"] = hashedNonce(nonce)
	signed, err := t.SignedString(key.priv)
	if err != nil {
		return "", err
	}
	t.Header["nonce"] = nonce
	header, err := json.Marshal(t.Header)
	if err != nil {
		return "", err
	}
	_, rest, _ := strings.Cut(signed, ".")
	return base64.RawURLEncoding.EncodeToString(header) + "." + rest, nil
}

// graphSigned returns the token as Graph checks it: with the nonce in the
// header replaced by its hash. A token without a nonce is returned as is.
func graphSigned(raw string) (string, error) {
	head, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return "", errors.New("malformed token")
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", errors.New("malformed token header")
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		return "", errors.New("malformed token header")
	}
	nonce, ok := h["nonce"].(string)
	if !ok {
		return raw, nil
	}
	h["nonce"] = hashedNonce(nonce)
	b, err = json.Marshal(h)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b) + "." + rest, nil
}
