package entra

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// IDTokenDefect names one way an ID token can be bad, for tests that a
// client refuses each: the ID token decides which tenant a sign-in proves.
type IDTokenDefect string

// The defects SpoilNextIDToken can give an ID token.
const (
	// DefectSignature signs with a key the keys endpoint does not publish,
	// under the current key's kid: a forged token.
	DefectSignature IDTokenDefect = "signature"
	// DefectExpired gives an ID token that expired an hour ago.
	DefectExpired IDTokenDefect = "expired"
	// DefectAudience issues the ID token to another application.
	DefectAudience IDTokenDefect = "audience"
	// DefectIssuer names another tenant's issuer than the token's tid.
	DefectIssuer IDTokenDefect = "issuer"
	// DefectTenant gives tid a value that is not a GUID, with the issuer
	// built from it, so that only the tenant id's shape gives it away.
	DefectTenant IDTokenDefect = "tenant"
)

// otherAudience is the client id a DefectAudience token is issued to.
const otherAudience = "8d0f3a6b-2c4e-4b1d-9e7f-5a6c8b0d2e41"

// SpoilNextIDToken makes the next ID token issued for the user with this
// sign-in name (a member account, in whatever flow) bad in the named way.
// Only that one token is spoiled.
func (e *Emulator) SpoilNextIDToken(user string, d IDTokenDefect) error {
	switch d {
	case DefectSignature, DefectExpired, DefectAudience, DefectIssuer, DefectTenant:
	default:
		return fmt.Errorf("spoil ID token: unknown defect %q", d)
	}
	u, ok := e.dir.homeUser(user)
	if !ok {
		return fmt.Errorf("spoil ID token: user %s: %w", user, errNotFound)
	}
	e.flows.mu.Lock()
	defer e.flows.mu.Unlock()
	e.flows.idDefects[strings.ToLower(u.ObjectID)] = d
	return nil
}

// takeIDDefect returns and forgets the defect waiting for the user's next
// ID token.
func (e *Emulator) takeIDDefect(oid string) (IDTokenDefect, bool) {
	e.flows.mu.Lock()
	defer e.flows.mu.Unlock()
	d, ok := e.flows.idDefects[strings.ToLower(oid)]
	delete(e.flows.idDefects, strings.ToLower(oid))
	return d, ok
}

// spoilIDToken applies the user's waiting defect, if any, to the claims
// and signing of an ID token about to be issued in base.
func (e *Emulator) spoilIDToken(base, oid string, claims jwt.MapClaims, spec *tokenSpec) {
	d, ok := e.takeIDDefect(oid)
	if !ok {
		return
	}
	switch d {
	case DefectSignature:
		spec.key = keyForeign
	case DefectExpired:
		spec.issuedAt = e.now().Add(-2 * time.Hour)
	case DefectAudience:
		claims["aud"] = otherAudience
	case DefectIssuer:
		other := FabrikamTenantID
		if strings.EqualFold(fmt.Sprint(claims["tid"]), FabrikamTenantID) {
			other = ContosoTenantID
		}
		claims["iss"] = base + "/" + other + "/v2.0"
	case DefectTenant:
		claims["tid"] = "contoso"
		claims["iss"] = base + "/contoso/v2.0"
	}
}

func (e *Emulator) idTokenControlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /_control/id-token/spoil", e.logged(control(e, func(req struct {
		User   string        `json:"user"`
		Defect IDTokenDefect `json:"defect"`
	}) error {
		return e.SpoilNextIDToken(req.User, req.Defect)
	})))
}
