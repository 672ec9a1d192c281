package entra

import (
	"fmt"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Staff is an operator staff account that signs in to the portal with a
// password, as the operator's own Entra tenant would hold it. Its portal
// access tokens carry the operator claim naming Operator, as a claims
// mapping of a directory attribute does in Entra.
type Staff struct {
	// UserPrincipalName is the sign-in name, in the operator tenant.
	UserPrincipalName string
	// DisplayName defaults to "Operator staff".
	DisplayName string
	// Operator is the operator the account works for.
	Operator string
	// Password defaults to DefaultPassword.
	Password string
}

// The staff account every emulator has unless Config.Staff says otherwise.
// Its operator is the one make token uses by default, so that the console
// and curl see the same records.
const (
	DefaultStaffOperator = "local-operator"
	defaultStaffLocal    = "staff"
)

// DefaultStaffUser returns the default staff account's sign-in name for an
// operator tenant domain (Config.OperatorDomain, DefaultOperatorDomain when
// empty).
func DefaultStaffUser(domain string) string {
	if domain == "" {
		domain = DefaultOperatorDomain
	}
	return defaultStaffLocal + "@" + domain
}

// staff returns the configured staff accounts, or the default one.
func (e *Emulator) staff() []Staff {
	if e.cfg.Staff != nil {
		return e.cfg.Staff
	}
	return []Staff{{UserPrincipalName: DefaultStaffUser(e.cfg.OperatorDomain), Operator: DefaultStaffOperator}}
}

// seedStaff adds the staff accounts to the operator tenant and records the
// operator administrator's consent, for every user, to the portal client
// calling the portal API, as registering the portal does.
func (e *Emulator) seedStaff() error {
	for _, s := range e.staff() {
		if err := validOperator(s.Operator); err != nil {
			return fmt.Errorf("staff %s: %w", s.UserPrincipalName, err)
		}
		u := User{TenantID: e.cfg.OperatorTenantID, UserPrincipalName: s.UserPrincipalName, DisplayName: s.DisplayName, Password: s.Password}
		if u.DisplayName == "" {
			u.DisplayName = "Operator staff"
		}
		if u.Password == "" {
			u.Password = DefaultPassword
		}
		if _, err := e.dir.addUser(u); err != nil {
			return fmt.Errorf("staff: %w", err)
		}
	}
	e.dir.grantDelegated(e.cfg.OperatorTenantID, DefaultPortalClientID, allPrincipals, []string{e.cfg.PortalScope})
	return nil
}

// resourceExposes reports whether the API a delegated request names
// exposes every scope asked for. Microsoft Graph's are not checked.
func (e *Emulator) resourceExposes(req delegatedRequest) bool {
	if req.resource == "" {
		return true
	}
	api, ok := e.dir.resource(req.resource)
	if !ok || len(req.scopes) == 0 {
		return false
	}
	for _, s := range req.scopes {
		if !slices.Contains(api.Scopes, s) {
			return false
		}
	}
	return true
}

// addStaffClaims adds the operator claim to an access token for the
// portal API issued to a staff account of the operator tenant.
func (e *Emulator) addStaffClaims(access jwt.MapClaims, g userGrant) {
	if !strings.EqualFold(g.resource, e.cfg.PortalAudience) || !strings.EqualFold(g.tenantID, e.cfg.OperatorTenantID) {
		return
	}
	for _, s := range e.staff() {
		if strings.EqualFold(s.UserPrincipalName, g.user.UserPrincipalName) {
			access[e.cfg.OperatorClaim] = s.Operator
			return
		}
	}
}
