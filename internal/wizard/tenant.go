package wizard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// Directory role template ids of Microsoft Entra's built-in roles, as the
// wids claim of a delegated token names them.
const (
	GlobalAdministrator         = "62e90394-69f5-4237-9190-012177145e10"
	PrivilegedRoleAdministrator = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	TeamsAdministrator          = "69091246-20e8-4a56-aa4d-066075b2a7a8"
)

// AccountRoles are the directory roles of which the account that signs in
// must hold one: its refresh token becomes the tenant account credentials
// with which the service manages Teams for the licence (voice routing,
// numbers, policies), which a Global Administrator or a Teams
// Administrator may do and a user without a role may not.
var AccountRoles = []string{GlobalAdministrator, TeamsAdministrator}

// errNeedsRole: the account holds none of AccountRoles.
var errNeedsRole = errors.New("wizard: the account holds none of the roles the licence needs")

// holdsAccountRole reports whether the signed-in account may become the
// tenant account credentials.
func holdsAccountRole(t Tokens) bool {
	return slices.ContainsFunc(t.DirectoryRoles, func(r string) bool { return slices.Contains(AccountRoles, r) })
}

// customersTenant reports whether the proven tenant is the customer's: it
// is the tenant id the customer carries, or, for a customer without one,
// a tenant that verified the customer's domain or the domain of the
// administrator's address the invitation was sent to. Anything else,
// including another operator's customer that consented to the same
// application, is for staff to judge.
func customersTenant(c upgrade.Customer, inv upgrade.Invitation, org Organization) bool {
	if c.TenantID != "" {
		return strings.EqualFold(c.TenantID, org.ID)
	}
	_, adminDomain, _ := strings.Cut(inv.AdminEmail, "@")
	for _, want := range []string{c.Domain, adminDomain} {
		want = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(want)), ".")
		if want == "" {
			continue
		}
		if slices.ContainsFunc(org.VerifiedDomains, func(d string) bool { return strings.EqualFold(strings.TrimSuffix(d, "."), want) }) {
			return true
		}
	}
	return false
}

// bind decides what a proven consent of tenant means for the invitation:
// true when the tenant is the customer's, which binds the customer to it;
// false when staff must confirm it first.
func (s *Service) bind(ctx context.Context, inv upgrade.Invitation, tenant string, org Organization) (bool, error) {
	c, err := s.c.Store.GetCustomer(ctx, inv.OperatorID, inv.CustomerID)
	if errors.Is(err, upgrade.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read customer: %w", err)
	}
	if !customersTenant(c, inv, org) {
		return false, nil
	}
	err = s.c.Store.BindTenant(ctx, inv.OperatorID, inv.CustomerID, tenant)
	if errors.Is(err, upgrade.ErrTenantBound) || errors.Is(err, upgrade.ErrNotFound) {
		// Bound to another tenant since it was read: staff judge.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("bind customer tenant: %w", err)
	}
	return true, nil
}

// awaitConfirmation records a proven consent in a tenant that is not known
// to be the customer's, for staff to confirm or refuse, and shows the
// administrator that the operator will do so.
func (s *Service) awaitConfirmation(ctx context.Context, inv upgrade.Invitation, tenant string, granted []string, org Organization) (View, error) {
	err := s.c.Store.TransitionInvitation(ctx, Transition{InvitationID: inv.ID, OperatorID: inv.OperatorID, Generation: inv.Generation, At: s.c.Clock.Now(),
		To: upgrade.InvitationAwaitingConfirmation, TenantID: tenant, Granted: granted,
		TenantName: org.DisplayName, TenantDomains: org.VerifiedDomains})
	if errors.Is(err, ErrConflict) {
		return View{}, ErrNeutral
	}
	if err != nil {
		return View{}, fmt.Errorf("record awaiting confirmation: %w", err)
	}
	s.c.Logger.WarnContext(ctx, "consent proven in a tenant not known to be the customer's; staff must confirm",
		"invitationId", inv.ID, "tenantId", tenant)
	return View{Step: StepConfirming, TenantID: tenant, TenantName: org.DisplayName, TenantDomains: org.VerifiedDomains,
		UPN: inv.AuthenticatedBy, Granted: granted}, nil
}
