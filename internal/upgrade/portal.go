package upgrade

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ocpro/upgrade/internal/fault"
)

// Links derives an invitation's AuthURL from its id and generation.
type Links interface {
	URL(ctx context.Context, invitationID string, generation int) (string, error)
}

// Clock tells the time.
type Clock interface{ Now() time.Time }

// IDSource makes new identifiers.
type IDSource interface {
	NewID() string
	NewTokenID() string
}

// DefaultInvitationTTL is how long a link stays valid unless configured.
const DefaultInvitationTTL = 168 * time.Hour

// IdempotencyTTL is how long an Idempotency-Key is remembered.
const IdempotencyTTL = 24 * time.Hour

// tokenIDAttempts bounds retries when a random token id collides.
const tokenIDAttempts = 3

// Deps are the Portal's collaborators. Logger and InvitationTTL are
// optional.
type Deps struct {
	Store         Store
	Links         Links
	Clock         Clock
	IDs           IDSource
	Logger        *slog.Logger
	InvitationTTL time.Duration
}

// Portal is the application service behind the portal API: it validates
// input, applies the licence rules and drives the Store.
type Portal struct {
	store Store
	links Links
	clock Clock
	ids   IDSource
	log   *slog.Logger
	ttl   time.Duration
}

// NewPortal checks d and returns a Portal.
func NewPortal(d Deps) (*Portal, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("upgrade: nil Store")
	case d.Links == nil:
		return nil, errors.New("upgrade: nil Links")
	case d.Clock == nil:
		return nil, errors.New("upgrade: nil Clock")
	case d.IDs == nil:
		return nil, errors.New("upgrade: nil IDSource")
	case d.InvitationTTL < 0:
		return nil, fmt.Errorf("upgrade: negative invitation TTL %v", d.InvitationTTL)
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.InvitationTTL == 0 {
		d.InvitationTTL = DefaultInvitationTTL
	}
	return &Portal{store: d.Store, links: d.Links, clock: d.Clock, ids: d.IDs, log: d.Logger, ttl: d.InvitationTTL}, nil
}

// CustomerInput is the input of CreateCustomer.
type CustomerInput struct {
	Name   string
	Kind   string
	Domain string
	// TenantID is the customer's Microsoft Entra tenant id, optional.
	TenantID string
}

// CreateCustomer records a lead or customer on OC Essentials.
func (s *Portal) CreateCustomer(ctx context.Context, operatorID string, in CustomerInput) (Customer, error) {
	name, errs := NormalizeFreeText(FieldName, in.Name, CustomerNameMax)
	kind, e := ValidateCustomerKind(in.Kind)
	errs = append(errs, e...)
	domain, e := ValidateDomain(in.Domain)
	errs = append(errs, e...)
	tenant, e := ValidateTenantID(in.TenantID)
	errs = append(errs, e...)
	if err := fault.InvalidFields(errs...); err != nil {
		return Customer{}, err
	}
	c := Customer{
		ID: s.ids.NewID(), OperatorID: operatorID, Name: name, Kind: kind, Domain: domain, TenantID: tenant,
		License: Essentials, CreatedAt: s.clock.Now().UTC(),
	}
	if err := s.store.CreateCustomer(ctx, c); err != nil {
		return Customer{}, storeError("create customer", err, asked{})
	}
	return c, nil
}

// GetCustomer returns one of the operator's customers.
func (s *Portal) GetCustomer(ctx context.Context, operatorID, id string) (Customer, error) {
	c, err := s.store.GetCustomer(ctx, operatorID, id)
	if err != nil {
		return Customer{}, storeError("get customer", err, asked{})
	}
	return c, nil
}

// ListCustomers lists the operator's customers, newest first.
func (s *Portal) ListCustomers(ctx context.Context, operatorID string, p Page) (List[Customer], error) {
	p, errs := ValidatePage(p)
	if err := fault.InvalidFields(errs...); err != nil {
		return List[Customer]{}, err
	}
	l, err := s.store.ListCustomers(ctx, operatorID, p)
	if err != nil {
		return List[Customer]{}, storeError("list customers", err, asked{})
	}
	return l, nil
}

// StartUpgradeInput is what the Onboarding wizard's first screen sends
// (guide steps 2-6).
type StartUpgradeInput struct {
	ServiceFullName  string
	ServiceShortName string
	LicenseType      string
	LicensedUsers    int
	AdminEmail       string
	SendInvitation   bool
	// IdempotencyKey is optional; the same key with the same input returns
	// the first response without a second upgrade.
	IdempotencyKey string
}

// StartUpgrade reads the customer, creates the upgrade, its service
// (PENDING_AUTHENTICATION) and its invitation (PENDING) in one atomic
// write, which also holds Invitation Created (the Welcome mail's request)
// when SendInvitation is set. It returns replayed=true when an
// earlier request with the same Idempotency-Key already did the work.
func (s *Portal) StartUpgrade(ctx context.Context, operatorID, customerID string, in StartUpgradeInput) (u Upgrade, replayed bool, err error) {
	fullName, errs := ValidateFullName(in.ServiceFullName)
	errs = append(errs, ValidateShortName(in.ServiceShortName)...)
	license, e := ValidateTargetLicense(in.LicenseType)
	errs = append(errs, e...)
	errs = append(errs, ValidateLicensedUsers(in.LicensedUsers)...)
	// The address is optional when no mail is wanted (the operator copies
	// the AuthURL), but must be sound when given.
	if in.SendInvitation || in.AdminEmail != "" {
		errs = append(errs, ValidateAdminEmail(in.AdminEmail)...)
	}
	if in.IdempotencyKey != "" {
		errs = append(errs, ValidateIdempotencyKey(in.IdempotencyKey)...)
	}
	if err := fault.InvalidFields(errs...); err != nil {
		return Upgrade{}, false, err
	}

	// The one read the create path may make: the invitation keeps the
	// customer's name so that opening its link reads nothing else. An
	// unknown customer is refused here, before any write.
	c, err := s.store.GetCustomer(ctx, operatorID, customerID)
	if err != nil {
		return Upgrade{}, false, createUpgradeError(err, license, in.LicensedUsers)
	}

	now := s.clock.Now().UTC()
	u = Upgrade{
		ID: s.ids.NewID(), OperatorID: operatorID, CustomerID: customerID,
		Status: UpgradePendingAuthentication, CreatedAt: now,
	}
	u.Service = Service{
		ID: s.ids.NewID(), CustomerID: customerID, FullName: fullName, ShortName: in.ServiceShortName,
		License: license, LicensedUsers: in.LicensedUsers, Status: ServicePendingAuthentication, CreatedAt: now,
	}
	u.Invitation = Invitation{
		ID: s.ids.NewID(), OperatorID: operatorID, CustomerID: customerID, UpgradeID: u.ID, ServiceID: u.Service.ID,
		Status: InvitationPending, AdminEmail: in.AdminEmail, SendInvitation: in.SendInvitation,
		Generation: 1, CreatedAt: now, ExpiresAt: now.Add(s.ttl),
		CustomerName: c.Name, ServiceName: fullName, License: license,
	}
	if in.SendInvitation {
		// Wanted from the start, so that the sweep asks again should the
		// mail not be recorded as sent (the mail function's events end in
		// the dead-letter queue, or it crashed before recording).
		u.Invitation.MailWanted, u.Invitation.MailRequestedAt = MailWelcome, now
	}
	n := Creation{Upgrade: u, IdempotencyKey: in.IdempotencyKey, IdempotencyExpiresAt: now.Add(IdempotencyTTL)}
	if in.IdempotencyKey != "" {
		n.RequestHash = requestHash(customerID, fullName, in, license)
	}
	if in.SendInvitation {
		if n.Events, err = Announce(InvitationCreatedEvent(u)); err != nil {
			return Upgrade{}, false, err
		}
	}

	for attempt := 1; ; attempt++ {
		n.Upgrade.Invitation.TokenID = s.ids.NewTokenID()
		u, replayed, err = s.store.CreateUpgrade(ctx, n)
		if !errors.Is(err, ErrTokenIDTaken) || attempt == tokenIDAttempts {
			break
		}
	}
	if err != nil {
		return Upgrade{}, false, createUpgradeError(err, license, in.LicensedUsers)
	}
	if err := s.withAuthURL(ctx, &u.Invitation); err != nil {
		return Upgrade{}, false, err
	}
	return u, replayed, nil
}

// requestHash fingerprints the normalised request so that a reused
// Idempotency-Key with another body can be told apart from a retry.
func requestHash(customerID, fullName string, in StartUpgradeInput, license License) string {
	b, _ := json.Marshal([]any{"upgrade/v1", customerID, fullName, in.ServiceShortName, license,
		in.LicensedUsers, in.AdminEmail, in.SendInvitation}) // marshalling strings and ints cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// createUpgradeError says what refused the upgrade; an unknown customer is
// named as such, because the customer id is in the path.
func createUpgradeError(err error, target License, users int) error {
	if errors.Is(err, ErrNotFound) {
		return fault.NotFoundf("No customer with this id.")
	}
	return storeError("create upgrade", err, asked{license: target, users: users})
}

// GetUpgrade returns one of the operator's upgrades with its live
// invitation.
func (s *Portal) GetUpgrade(ctx context.Context, operatorID, id string) (Upgrade, error) {
	u, err := s.store.GetUpgrade(ctx, operatorID, id)
	if err != nil {
		return Upgrade{}, storeError("get upgrade", err, asked{})
	}
	inv, err := s.GetInvitation(ctx, operatorID, u.Invitation.ID)
	if err != nil {
		return Upgrade{}, fmt.Errorf("get invitation of upgrade %s: %w", id, err)
	}
	u.Invitation = inv
	return u, nil
}

// ListUpgrades lists the operator's upgrades, newest first. Their invitation
// is the snapshot taken at creation (id and token id are what lists show).
func (s *Portal) ListUpgrades(ctx context.Context, operatorID string, p Page) (List[Upgrade], error) {
	p, errs := ValidatePage(p)
	if err := fault.InvalidFields(errs...); err != nil {
		return List[Upgrade]{}, err
	}
	l, err := s.store.ListUpgrades(ctx, operatorID, p)
	if err != nil {
		return List[Upgrade]{}, storeError("list upgrades", err, asked{})
	}
	return l, nil
}

// GetInvitation returns one of the operator's invitations with its AuthURL
// while the link is live. Another operator's invitation is not found.
func (s *Portal) GetInvitation(ctx context.Context, operatorID, id string) (Invitation, error) {
	inv, err := s.store.GetInvitation(ctx, id)
	if err != nil {
		return Invitation{}, storeError("get invitation", err, asked{})
	}
	if inv.OperatorID != operatorID {
		return Invitation{}, fault.NotFoundf("Not found.")
	}
	if err := s.withAuthURL(ctx, &inv); err != nil {
		return Invitation{}, err
	}
	return inv, nil
}

// ListInvitations lists the operator's invitations, newest first, for the
// Customer Invitations and Pending Invitations pages (guide steps 8 and 22).
func (s *Portal) ListInvitations(ctx context.Context, operatorID string, f InvitationFilter, p Page) (List[Invitation], error) {
	p, errs := ValidatePage(p)
	_, e := ValidateInvitationStatus(string(f.Status))
	errs = append(errs, e...)
	if err := fault.InvalidFields(errs...); err != nil {
		return List[Invitation]{}, err
	}
	l, err := s.store.ListInvitations(ctx, operatorID, f, p)
	if err != nil {
		return List[Invitation]{}, storeError("list invitations", err, asked{})
	}
	for i := range l.Items {
		if err := s.withAuthURL(ctx, &l.Items[i]); err != nil {
			return List[Invitation]{}, err
		}
	}
	return l, nil
}

// withAuthURL fills in the AuthURL of a live invitation, so that the
// operator can copy it (guide step 8); dead links are not shown.
func (s *Portal) withAuthURL(ctx context.Context, inv *Invitation) error {
	inv.AuthURL = ""
	if !inv.Live(s.clock.Now()) {
		return nil
	}
	url, err := s.links.URL(ctx, inv.ID, inv.Generation)
	if err != nil {
		return fmt.Errorf("derive link of invitation %s: %w", inv.ID, err)
	}
	inv.AuthURL = url
	return nil
}
