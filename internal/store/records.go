package store

import (
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// Item types, stored in the Type attribute so that a dump reads well.
const (
	typeCustomer      = "CUSTOMER"
	typeUpgrade       = "UPGRADE"
	typeService       = "SERVICE"
	typeInvitation    = "INVITATION"
	typeInvitationRef = "INVITATION_REF"
	typeShortName     = "SHORTNAME"
	typeTokenID       = "TOKEN_ID"
	typeIdempotency   = "IDEMPOTENCY"
)

type customerRecord struct {
	PK, SK, GSI1PK, GSI1SK string
	Type                   string
	ID                     string
	OperatorID             string
	Name                   string
	Kind                   string
	Domain                 string `dynamodbav:",omitempty"`
	TenantID               string `dynamodbav:",omitempty"`
	License                string
	LicenseRank            int
	LicensedUsers          int
	ReservedUsers          int
	CreatedAt              time.Time
}

func toCustomerRecord(c upgrade.Customer) customerRecord {
	return customerRecord{
		PK: customerPK(c.OperatorID, c.ID), SK: skMain,
		GSI1PK: opKey(c.OperatorID, "CUSTOMERS"), GSI1SK: sortKey(c.CreatedAt, c.ID),
		Type: typeCustomer, ID: c.ID, OperatorID: c.OperatorID, Name: c.Name, Kind: string(c.Kind), Domain: c.Domain,
		TenantID: c.TenantID, License: string(c.License), LicenseRank: c.License.Rank(), LicensedUsers: c.LicensedUsers,
		ReservedUsers: c.ReservedUsers, CreatedAt: c.CreatedAt.UTC(),
	}
}

func (r customerRecord) domain() upgrade.Customer {
	return upgrade.Customer{ID: r.ID, OperatorID: r.OperatorID, Name: r.Name, Kind: upgrade.CustomerKind(r.Kind),
		Domain: r.Domain, TenantID: r.TenantID, License: upgrade.License(r.License), LicensedUsers: r.LicensedUsers,
		ReservedUsers: r.ReservedUsers, CreatedAt: r.CreatedAt}
}

type serviceRecord struct {
	PK, SK        string `dynamodbav:",omitempty"`
	Type          string `dynamodbav:",omitempty"`
	OperatorID    string `dynamodbav:",omitempty"`
	ID            string
	CustomerID    string
	FullName      string
	ShortName     string
	License       string
	LicensedUsers int
	Status        string
	CreatedAt     time.Time
}

func toServiceRecord(s upgrade.Service) serviceRecord {
	return serviceRecord{ID: s.ID, CustomerID: s.CustomerID, FullName: s.FullName, ShortName: s.ShortName,
		License: string(s.License), LicensedUsers: s.LicensedUsers, Status: string(s.Status), CreatedAt: s.CreatedAt.UTC()}
}

func (r serviceRecord) domain() upgrade.Service {
	return upgrade.Service{ID: r.ID, CustomerID: r.CustomerID, FullName: r.FullName, ShortName: r.ShortName,
		License: upgrade.License(r.License), LicensedUsers: r.LicensedUsers, Status: upgrade.ServiceStatus(r.Status), CreatedAt: r.CreatedAt}
}

type invitationRecord struct {
	PK, SK          string `dynamodbav:",omitempty"`
	GSI1PK, GSI1SK  string `dynamodbav:",omitempty"`
	GSI2PK, GSI2SK  string `dynamodbav:",omitempty"`
	DuePK, DueSK    string `dynamodbav:",omitempty"`
	Type            string `dynamodbav:",omitempty"`
	ID              string
	OperatorID      string
	CustomerID      string
	UpgradeID       string
	ServiceID       string
	TokenID         string
	Status          string
	AdminEmail      string `dynamodbav:",omitempty"`
	SendInvitation  bool
	Generation      int
	EmailSent       bool
	EmailSentAt     *time.Time `dynamodbav:",omitempty"`
	DeliveryStatus  string     `dynamodbav:",omitempty"`
	RemindersSent   int
	CreatedAt       time.Time
	ExpiresAt       time.Time
	TenantID        string `dynamodbav:",omitempty"`
	AuthenticatedBy string `dynamodbav:",omitempty"`
	// The fields below are written by the consent wizard (wizard.go).
	AuthenticatedByObjectID string     `dynamodbav:",omitempty"`
	AuthenticatedAt         *time.Time `dynamodbav:",omitempty"`
	GrantedPermissions      []string   `dynamodbav:",omitempty,stringset"`
	TenantName              string     `dynamodbav:",omitempty"`
	TenantDomains           []string   `dynamodbav:",omitempty"`
	// The fields below are kept by the invitation mails (mail.go). Times
	// that conditions compare are Unix milliseconds: numbers compare
	// correctly where RFC 3339 text with a trimmed fraction does not.
	MailWanted      string `dynamodbav:",omitempty"`
	MailRequestedAt int64  `dynamodbav:",omitempty"`
	MailClaim       string `dynamodbav:",omitempty"`
	MailClaimUntil  int64  `dynamodbav:",omitempty"`
	LastMailKind    string `dynamodbav:",omitempty"`
	LastMailAt      int64  `dynamodbav:",omitempty"`
	LastError       string `dynamodbav:",omitempty"`
	ResendCount     int    `dynamodbav:",omitempty"`
	MessageID       string `dynamodbav:",omitempty"`
	DeliveryAt      int64  `dynamodbav:",omitempty"`
	// The fields below are what the Welcome page shows, copied at
	// creation, and whether the wizard started a device code attempt
	// (wizard.go): opening the link reads this item alone.
	CustomerName  string `dynamodbav:",omitempty"`
	ServiceName   string `dynamodbav:",omitempty"`
	License       string `dynamodbav:",omitempty"`
	DeviceAttempt bool   `dynamodbav:",omitempty"`
}

func toInvitationRecord(i upgrade.Invitation) invitationRecord {
	r := invitationRecord{ID: i.ID, OperatorID: i.OperatorID, CustomerID: i.CustomerID, UpgradeID: i.UpgradeID,
		ServiceID: i.ServiceID, TokenID: i.TokenID, Status: string(i.Status), AdminEmail: i.AdminEmail,
		SendInvitation: i.SendInvitation, Generation: i.Generation, EmailSent: i.EmailSent, DeliveryStatus: i.DeliveryStatus,
		RemindersSent: i.RemindersSent, CreatedAt: i.CreatedAt.UTC(), ExpiresAt: i.ExpiresAt.UTC(),
		TenantID: i.TenantID, AuthenticatedBy: i.AuthenticatedBy,
		MailWanted: string(i.MailWanted), MailRequestedAt: unixMilli(i.MailRequestedAt), LastMailKind: string(i.LastMailKind),
		LastMailAt: unixMilli(i.LastMailAt), LastError: i.LastError, ResendCount: i.ResendCount,
		CustomerName: i.CustomerName, ServiceName: i.ServiceName, License: string(i.License), DeviceAttempt: i.DeviceAttempt}
	if !i.EmailSentAt.IsZero() {
		t := i.EmailSentAt.UTC()
		r.EmailSentAt = &t
	}
	return r
}

// withKeys adds the keys of the invitation item itself; snapshots nested in
// other items go without them.
func (r invitationRecord) withKeys() invitationRecord {
	r.PK, r.SK, r.Type = invitationPK(r.ID), skMain, typeInvitation
	r.GSI1PK, r.GSI1SK = opKey(r.OperatorID, "INVITATIONS"), sortKey(r.CreatedAt, r.ID)
	r.GSI2PK, r.GSI2SK = invitationStatusPK(r.OperatorID, upgrade.InvitationStatus(r.Status)), sortKey(r.CreatedAt, r.ID)
	r.DuePK, r.DueSK = dueKeys(r.ID, r.firstDue())
	return r
}

func (r invitationRecord) domain() upgrade.Invitation {
	i := upgrade.Invitation{ID: r.ID, OperatorID: r.OperatorID, CustomerID: r.CustomerID, UpgradeID: r.UpgradeID,
		ServiceID: r.ServiceID, TokenID: r.TokenID, Status: upgrade.InvitationStatus(r.Status), AdminEmail: r.AdminEmail,
		SendInvitation: r.SendInvitation, Generation: r.Generation, EmailSent: r.EmailSent, DeliveryStatus: r.DeliveryStatus,
		RemindersSent: r.RemindersSent, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
		TenantID: r.TenantID, AuthenticatedBy: r.AuthenticatedBy,
		AuthenticatedByObjectID: r.AuthenticatedByObjectID, GrantedPermissions: r.GrantedPermissions,
		TenantName: r.TenantName, TenantDomains: r.TenantDomains}
	if r.EmailSentAt != nil {
		i.EmailSentAt = *r.EmailSentAt
	}
	i.MailWanted, i.MailRequestedAt = upgrade.MailKind(r.MailWanted), fromUnixMilli(r.MailRequestedAt)
	i.LastMailKind, i.LastMailAt = upgrade.MailKind(r.LastMailKind), fromUnixMilli(r.LastMailAt)
	i.LastError, i.ResendCount = r.LastError, r.ResendCount
	i.CustomerName, i.ServiceName, i.License = r.CustomerName, r.ServiceName, upgrade.License(r.License)
	i.DeviceAttempt = r.DeviceAttempt
	if r.AuthenticatedAt != nil {
		i.AuthenticatedAt = *r.AuthenticatedAt
	}
	return i
}

// upgradeRecord is the upgrade item; it embeds snapshots of its service and
// invitation as created, which is also the response an idempotent replay
// returns.
type upgradeRecord struct {
	PK, SK         string `dynamodbav:",omitempty"`
	GSI1PK, GSI1SK string `dynamodbav:",omitempty"`
	Type           string `dynamodbav:",omitempty"`
	ID             string
	OperatorID     string
	CustomerID     string
	Status         string
	Service        serviceRecord
	Invitation     invitationRecord
	CreatedAt      time.Time
}

func toUpgradeRecord(u upgrade.Upgrade) upgradeRecord {
	return upgradeRecord{ID: u.ID, OperatorID: u.OperatorID, CustomerID: u.CustomerID, Status: string(u.Status),
		Service: toServiceRecord(u.Service), Invitation: toInvitationRecord(u.Invitation), CreatedAt: u.CreatedAt.UTC()}
}

func (r upgradeRecord) withKeys() upgradeRecord {
	r.PK, r.SK, r.Type = upgradePK(r.OperatorID, r.ID), skMain, typeUpgrade
	r.GSI1PK, r.GSI1SK = opKey(r.OperatorID, "UPGRADES"), sortKey(r.CreatedAt, r.ID)
	return r
}

func (r upgradeRecord) domain() upgrade.Upgrade {
	return upgrade.Upgrade{ID: r.ID, OperatorID: r.OperatorID, CustomerID: r.CustomerID, Status: upgrade.UpgradeStatus(r.Status),
		Service: r.Service.domain(), Invitation: r.Invitation.domain(), CreatedAt: r.CreatedAt}
}

type idempotencyRecord struct {
	PK, SK      string
	Type        string
	RequestHash string
	Response    upgradeRecord
	TTL         int64 `dynamodbav:"ttl"`
}

type claimRecord struct {
	PK, SK string
	Type   string
	// Ref is the id of the service or invitation holding the claim.
	Ref string
}
