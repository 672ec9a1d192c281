// Package upgrade is the domain of the service: customers, the upgrade of a
// customer to OC Essentials Plus or OC Pro, the service it creates and the
// invitation that walks the customer's administrator through Microsoft
// sign-in and consent. It knows nothing of AWS, Lambda or HTTP: adapters
// implement the small interfaces declared next to the Portal that uses
// them.
package upgrade

import "time"

// License is an Operator Connect licence a customer or service holds.
type License string

// The licences, lowest first.
const (
	Essentials     License = "OC_ESSENTIALS"
	EssentialsPlus License = "OC_ESSENTIALS_PLUS"
	Pro            License = "OC_PRO"
)

// Rank orders licences so that an upgrade always goes to a higher rank; it is
// -1 for an unknown licence. Stores persist the rank so that a conditional
// write can refuse a downgrade without reading first.
func (l License) Rank() int {
	switch l {
	case Essentials:
		return 0
	case EssentialsPlus:
		return 1
	case Pro:
		return 2
	}
	return -1
}

// CustomerKind says whether the tenant is a lead or an existing customer
// (guide step 1: "select the desired lead ... Convert to OC Pro" or "Upgrade
// Customer").
type CustomerKind string

// The customer kinds.
const (
	KindLead     CustomerKind = "LEAD"
	KindCustomer CustomerKind = "CUSTOMER"
)

// MaxUsersPerCustomer is the most licensed users a customer may have across
// all of its services (guide step 5).
const MaxUsersPerCustomer = 500

// Customer is a lead or customer of an operator: a row of the Tenants page.
type Customer struct {
	ID         string
	OperatorID string
	Name       string
	Kind       CustomerKind
	// Domain is the customer's primary DNS domain, optional. A tenant that
	// verified it may complete the customer's invitations.
	Domain string
	// TenantID is the customer's Microsoft Entra tenant id, optional
	// (Operator Connect customers have one). Once set, the customer's
	// invitations complete only in that tenant, and it never changes to
	// another (see BindTenant).
	TenantID string
	// License is the licence the customer holds today; new customers are on
	// OC Essentials.
	License License
	// LicensedUsers counts the users of the customer's active services.
	LicensedUsers int
	// ReservedUsers counts the users of every service that is active or
	// pending authentication: this is what the 500-user limit applies to, so
	// that two pending upgrades cannot together exceed it.
	ReservedUsers int
	CreatedAt     time.Time
}

// Service is the Operator Connect service an upgrade creates (guide steps
// 2-5).
type Service struct {
	ID            string
	CustomerID    string
	FullName      string
	ShortName     string
	License       License
	LicensedUsers int
	Status        ServiceStatus
	CreatedAt     time.Time
}

// Upgrade is one request to take a customer to a higher licence. It is
// stored with a snapshot of its service and invitation as they were
// created; reads overlay the live invitation.
type Upgrade struct {
	ID         string
	OperatorID string
	CustomerID string
	Status     UpgradeStatus
	Service    Service
	Invitation Invitation
	CreatedAt  time.Time
}

// Invitation is the secret link mailed to the customer's administrator (guide
// steps 6-9) and what became of it. The link itself is never stored: it is
// derived from the ID and Generation with a key the database does not hold.
type Invitation struct {
	ID         string
	OperatorID string
	CustomerID string
	UpgradeID  string
	ServiceID  string
	// TokenID is the short public identifier the operator searches for in
	// Security > Customer Invitations (guide step 8).
	TokenID    string
	Status     InvitationStatus
	AdminEmail string
	// SendInvitation records whether the operator asked for the Welcome mail.
	SendInvitation bool
	// Generation increases when the link is regenerated, which kills every
	// earlier link at once.
	Generation      int
	EmailSent       bool
	EmailSentAt     time.Time
	DeliveryStatus  string
	RemindersSent   int
	CreatedAt       time.Time
	ExpiresAt       time.Time
	TenantID        string
	AuthenticatedBy string
	// AuthenticatedByObjectID is the Entra object id (oid) of the
	// administrator who signed in; AuthenticatedBy holds their UPN.
	AuthenticatedByObjectID string
	// AuthenticatedAt is when the tenant was proven consented
	// (AUTHENTICATION_COMPLETE).
	AuthenticatedAt time.Time
	// GrantedPermissions are the application permissions (roles) an app
	// token for the tenant carried when consent was proven.
	GrantedPermissions []string
	// TenantName and TenantDomains are the proven tenant as Microsoft
	// Graph describes it (display name, verified domains), recorded with
	// AUTHENTICATION_COMPLETE or AWAITING_CONFIRMATION for staff to judge.
	TenantName    string
	TenantDomains []string
	// The fields below are kept by the invitation mails (mail.go).
	//
	// MailWanted is the mail asked for and not yet settled (sent, failed
	// or of unknown outcome), and MailRequestedAt when it was asked for:
	// the reminder sweep asks again for a mail wanted for too long.
	MailWanted      MailKind
	MailRequestedAt time.Time
	// LastMailKind and LastMailAt describe the last mail settled; reminders
	// count from LastMailAt.
	LastMailKind MailKind
	LastMailAt   time.Time
	// LastError says, for the operator, why the last mail failed or bounced.
	LastError string
	// ResendCount counts the operator's resends, which names each resend
	// mail (resend-1, resend-2, ...).
	ResendCount int
	// AuthURL is the link, filled in by the Portal for live invitations; it
	// is never persisted.
	AuthURL string
	// CustomerName, ServiceName and License are copied from the customer
	// and the upgrade when the invitation is created, so that opening the
	// link needs the invitation alone. Invitations stored before the copy
	// existed (2026-11-29) have them empty; see the wizard's legacyNames.
	CustomerName string
	ServiceName  string
	License      License
	// DeviceAttempt is set, in the same write that starts it, once the
	// wizard started a device code attempt: opening the link reads the
	// wizard record only then.
	DeviceAttempt bool
}

// Copied reports whether the invitation holds what its Welcome page shows,
// copied at creation; invitations stored before the copy existed do not.
func (i Invitation) Copied() bool { return i.CustomerName != "" && i.ServiceName != "" }

// Page asks for one page of a list. A zero Limit means DefaultPageSize.
type Page struct {
	Limit  int
	Cursor string
}

// Page sizes.
const (
	DefaultPageSize = 25
	MaxPageSize     = 100
)

// List is one page of a list, newest first. NextCursor is empty on the last
// page.
type List[T any] struct {
	Items      []T
	NextCursor string
}

// InvitationFilter narrows a list of invitations; empty fields match all.
type InvitationFilter struct {
	Status     InvitationStatus
	CustomerID string
	TokenID    string
}
