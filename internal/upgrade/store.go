package upgrade

import (
	"context"
	"errors"
	"time"

	"github.com/ocpro/upgrade/internal/event"
)

// Store keeps customers, upgrades, services and invitations. Implementations
// must scope every portal read by operator: another operator's id is simply
// not found.
type Store interface {
	// CreateCustomer stores a new customer.
	CreateCustomer(ctx context.Context, c Customer) error
	// GetCustomer returns ErrNotFound for an unknown id or another operator's.
	GetCustomer(ctx context.Context, operatorID, id string) (Customer, error)
	// BindTenant records tenantID as the customer's Microsoft tenant when
	// it has none, or has this one; ErrTenantBound when it has another,
	// ErrNotFound when there is no such customer.
	BindTenant(ctx context.Context, operatorID, customerID, tenantID string) error
	// SetCustomerDomain sets (or, with "", removes) the customer's domain;
	// ErrNotFound when there is no such customer.
	SetCustomerDomain(ctx context.Context, operatorID, customerID, domain string) error
	// ListCustomers lists an operator's customers, newest first.
	ListCustomers(ctx context.Context, operatorID string, p Page) (List[Customer], error)
	// CreateUpgrade stores the upgrade, its service and invitation, claims the
	// short name and reserves the users in one atomic step; see Creation
	// for what it checks. When the idempotency key was used before with the
	// same request hash it returns the stored upgrade and replayed=true.
	CreateUpgrade(ctx context.Context, c Creation) (u Upgrade, replayed bool, err error)
	// GetUpgrade returns the upgrade as it was stored.
	GetUpgrade(ctx context.Context, operatorID, id string) (Upgrade, error)
	// ListUpgrades lists an operator's upgrades, newest first.
	ListUpgrades(ctx context.Context, operatorID string, p Page) (List[Upgrade], error)
	// GetInvitation reads an invitation by id alone (one read), for the link
	// and for the portal, which must check the operator itself.
	GetInvitation(ctx context.Context, id string) (Invitation, error)
	// ListInvitations lists an operator's invitations, newest first.
	ListInvitations(ctx context.Context, operatorID string, f InvitationFilter, p Page) (List[Invitation], error)
}

// Creation is what CreateUpgrade writes in one atomic step: a new upgrade
// with its service and invitation, and the Idempotency-Key it was asked
// with. The write fails, leaving nothing behind, with:
//   - ErrNotFound when the customer does not exist for the operator;
//   - a *LicenseError when the customer's licence is not lower than the
//     service's;
//   - a *UserLimitError when the customer's reserved users plus the
//     service's exceed MaxUsersPerCustomer;
//   - ErrShortNameTaken when the operator has a service of that short name,
//     compared case-insensitively;
//   - ErrTokenIDTaken when the operator has an invitation of that token id;
//   - ErrIdempotencyKeyReused when the key was used with another request.
type Creation struct {
	Upgrade Upgrade
	// IdempotencyKey is empty when the caller sent none.
	IdempotencyKey string
	// RequestHash identifies the request the key was first used with.
	RequestHash string
	// IdempotencyExpiresAt is when the store may forget the key.
	IdempotencyExpiresAt time.Time
	// Events go to the store's outbox in the same atomic step: written
	// when the upgrade is, never on a replay or a refusal.
	Events []event.Message
}

// Errors a Store returns; the Portal turns them into fault errors.
var (
	ErrNotFound             = errors.New("not found")
	ErrShortNameTaken       = errors.New("short name taken")
	ErrTokenIDTaken         = errors.New("token id taken")
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with another request")
	ErrBadCursor            = errors.New("bad cursor")
)

// ErrTenantBound means the customer is bound to another Microsoft tenant
// than the one given: a customer never moves to another tenant silently.
var ErrTenantBound = errors.New("customer is bound to another tenant")
