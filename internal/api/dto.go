package api

import (
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// The JSON shapes of PRODUCT.md "Shapes the portal relies on": camelCase,
// RFC 3339 UTC times.

type customerJSON struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Kind          string    `json:"kind"`
	Domain        string    `json:"domain,omitempty"`
	TenantID      string    `json:"tenantId,omitempty"`
	License       string    `json:"license"`
	LicensedUsers int       `json:"licensedUsers"`
	ReservedUsers int       `json:"reservedUsers"`
	CreatedAt     time.Time `json:"createdAt"`
}

func customerOut(c upgrade.Customer) customerJSON {
	return customerJSON{ID: c.ID, Name: c.Name, Kind: string(c.Kind), Domain: c.Domain, TenantID: c.TenantID, License: string(c.License),
		LicensedUsers: c.LicensedUsers, ReservedUsers: c.ReservedUsers, CreatedAt: c.CreatedAt.UTC()}
}

type serviceJSON struct {
	ID            string `json:"id"`
	FullName      string `json:"fullName"`
	ShortName     string `json:"shortName"`
	LicenseType   string `json:"licenseType"`
	LicensedUsers int    `json:"licensedUsers"`
	Status        string `json:"status"`
}

// invitationSummaryJSON is the invitation inside an upgrade.
type invitationSummaryJSON struct {
	ID        string    `json:"id"`
	TokenID   string    `json:"tokenId"`
	Status    string    `json:"status"`
	EmailSent bool      `json:"emailSent"`
	AuthURL   string    `json:"authUrl,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
}

type upgradeJSON struct {
	ID         string                `json:"id"`
	Status     string                `json:"status"`
	CustomerID string                `json:"customerId"`
	Service    serviceJSON           `json:"service"`
	Invitation invitationSummaryJSON `json:"invitation"`
	CreatedAt  time.Time             `json:"createdAt"`
}

func upgradeOut(u upgrade.Upgrade) upgradeJSON {
	s, i := u.Service, u.Invitation
	return upgradeJSON{
		ID: u.ID, Status: string(u.Status), CustomerID: u.CustomerID, CreatedAt: u.CreatedAt.UTC(),
		Service: serviceJSON{ID: s.ID, FullName: s.FullName, ShortName: s.ShortName, LicenseType: string(s.License),
			LicensedUsers: s.LicensedUsers, Status: string(s.Status)},
		Invitation: invitationSummaryJSON{ID: i.ID, TokenID: i.TokenID, Status: string(i.Status), EmailSent: i.EmailSent,
			AuthURL: i.AuthURL, ExpiresAt: i.ExpiresAt.UTC()},
	}
}

type invitationJSON struct {
	ID              string     `json:"id"`
	TokenID         string     `json:"tokenId"`
	Status          string     `json:"status"`
	CustomerID      string     `json:"customerId"`
	UpgradeID       string     `json:"upgradeId"`
	ServiceID       string     `json:"serviceId"`
	AdminEmail      string     `json:"adminEmail,omitempty"`
	EmailSent       bool       `json:"emailSent"`
	EmailSentAt     *time.Time `json:"emailSentAt,omitempty"`
	DeliveryStatus  string     `json:"deliveryStatus,omitempty"`
	LastError       string     `json:"lastError,omitempty"`
	LastMailKind    string     `json:"lastMail,omitempty"`
	RemindersSent   int        `json:"remindersSent"`
	AuthURL         string     `json:"authUrl,omitempty"`
	CreatedAt       time.Time  `json:"createdAt"`
	ExpiresAt       time.Time  `json:"expiresAt"`
	TenantID        string     `json:"tenantId,omitempty"`
	AuthenticatedBy string     `json:"authenticatedBy,omitempty"`
	// TenantName and TenantDomains describe the proven tenant, for staff
	// to judge one AWAITING_CONFIRMATION.
	TenantName    string   `json:"tenantName,omitempty"`
	TenantDomains []string `json:"tenantDomains,omitempty"`
}

func invitationOut(i upgrade.Invitation) invitationJSON {
	out := invitationJSON{ID: i.ID, TokenID: i.TokenID, Status: string(i.Status), CustomerID: i.CustomerID,
		UpgradeID: i.UpgradeID, ServiceID: i.ServiceID, AdminEmail: i.AdminEmail, EmailSent: i.EmailSent,
		DeliveryStatus: i.DeliveryStatus, RemindersSent: i.RemindersSent, AuthURL: i.AuthURL,
		CreatedAt: i.CreatedAt.UTC(), ExpiresAt: i.ExpiresAt.UTC(), TenantID: i.TenantID, AuthenticatedBy: i.AuthenticatedBy}
	if !i.EmailSentAt.IsZero() {
		t := i.EmailSentAt.UTC()
		out.EmailSentAt = &t
	}
	out.LastError, out.LastMailKind = i.LastError, string(i.LastMailKind)
	out.TenantName, out.TenantDomains = i.TenantName, i.TenantDomains
	return out
}

type listJSON[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}

func listOut[D, T any](l upgrade.List[D], f func(D) T) listJSON[T] {
	out := listJSON[T]{Items: make([]T, 0, len(l.Items)), NextCursor: l.NextCursor}
	for _, d := range l.Items {
		out.Items = append(out.Items, f(d))
	}
	return out
}
