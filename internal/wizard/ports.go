// Package wizard is the Token Invitation wizard: what the customer's
// administrator does between clicking the emailed link and the Tenant
// Activation page (guide steps 9-20). It signs the administrator in with
// Microsoft either with the device code flow or with the authorization code
// flow and PKCE, leads a first-time tenant through tenant-wide admin
// consent, proves the consent with an application token for the tenant, and
// records the outcome on the invitation.
//
// Lambda keeps nothing between invocations, so every step stores what the
// next one needs (device code, poll times, one-time states, PKCE verifiers)
// in the Store, secrets sealed, and any invocation can serve any step.
//
// The package knows nothing of AWS, Lambda or HTTP: adapters implement the
// small interfaces below.
package wizard

import (
	"context"
	"errors"
	"time"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// Store keeps invitations and the wizard's own records. Every change is a
// conditional write, so that concurrent requests cannot both win.
type Store interface {
	// GetInvitation reads an invitation by id with one read.
	GetInvitation(ctx context.Context, id string) (upgrade.Invitation, error)
	// GetCustomer and GetUpgrade read what the Welcome page names, for
	// invitations stored before it was copied onto them; they go with
	// Service.legacyNames (see there for when).
	GetCustomer(ctx context.Context, operatorID, id string) (upgrade.Customer, error)
	GetUpgrade(ctx context.Context, operatorID, id string) (upgrade.Upgrade, error)
	// TransitionInvitation moves the invitation to t.To when its status
	// is one upgrade.InvitationMoves allows to move there, its link is
	// still of t.Generation and it has not expired at t.At, writing t.Events to the outbox in the same atomic
	// write; otherwise it returns ErrConflict and writes nothing.
	TransitionInvitation(ctx context.Context, t Transition) error
	// GetAttempt returns the wizard record of an invitation, the zero
	// Attempt when there is none.
	GetAttempt(ctx context.Context, invitationID string) (Attempt, error)
	// StartDevice stores a new device code attempt, replacing any earlier
	// one, when fewer than max were started; otherwise ErrTooManyAttempts.
	// The same write sets the invitation's DeviceAttempt.
	StartDevice(ctx context.Context, invitationID string, d Device, max int) error
	// CountRedirect counts a sign-in or consent redirect when fewer than max
	// were made; otherwise ErrTooManyAttempts.
	CountRedirect(ctx context.Context, invitationID string, max int) error
	// ClaimPoll records now as the device attempt's last poll if the last
	// poll is still prev, so that of two concurrent status requests only
	// one polls Microsoft. It returns false when another request won.
	ClaimPoll(ctx context.Context, invitationID string, prev, now time.Time) (bool, error)
	// SettleDevice records the device attempt's new interval and outcome;
	// a settled attempt drops its device code.
	SettleDevice(ctx context.Context, invitationID string, interval time.Duration, outcome Outcome) error
	// StartConfirm records that admin consent returned at since and its
	// proof is pending, replacing an earlier record; the first proof
	// attempt counts as made at since.
	StartConfirm(ctx context.Context, invitationID string, since time.Time) error
	// ClaimConfirm records now as the pending proof's last attempt if the
	// last attempt is still prev, so that of concurrent status requests
	// only one asks Microsoft. It returns false when another request won.
	ClaimConfirm(ctx context.Context, invitationID string, prev, now time.Time) (bool, error)
	// BindTenant records tenantID as the customer's tenant when the
	// customer has none, with a conditional write; upgrade.ErrTenantBound
	// when it is bound to another.
	BindTenant(ctx context.Context, operatorID, customerID, tenantID string) error
	// SaveCredential keeps the sealed delegated refresh token.
	SaveCredential(ctx context.Context, invitationID string, c Credential) error
	// PutState stores a one-time state.
	PutState(ctx context.Context, s State) error
	// TakeState deletes and returns the state with that hash; ErrNotFound
	// when there is none (never issued, or already taken).
	TakeState(ctx context.Context, hash string) (State, error)
}

// Identity is the Microsoft side: Entra ID sign-in, consent and tokens.
type Identity interface {
	// StartDeviceCode asks for a device code for the organizations
	// authority.
	StartDeviceCode(ctx context.Context) (DeviceCode, error)
	// PollDeviceCode redeems a device code once. It returns a *SignInError
	// while the user has not finished, or when the sign-in failed.
	PollDeviceCode(ctx context.Context, deviceCode string) (Tokens, error)
	// AuthorizeURL is the authorization code request with state and the
	// S256 challenge.
	AuthorizeURL(ctx context.Context, state, challenge string) (string, error)
	// RedeemCode redeems an authorization code with its PKCE verifier.
	RedeemCode(ctx context.Context, code, verifier string) (Tokens, error)
	// AdminConsentURL is the tenant-wide admin consent request.
	AdminConsentURL(tenantID, state string) string
	// AppGrant gets an application token for the tenant and returns what
	// it proves. It returns ErrNotConsented when the tenant has not
	// consented to the application.
	AppGrant(ctx context.Context, tenantID string) (Grant, error)
}

// Sealer encrypts secrets bound to an encryption context.
type Sealer interface {
	Seal(ctx context.Context, plaintext []byte, encCtx map[string]string) ([]byte, error)
	Open(ctx context.Context, blob []byte, encCtx map[string]string) ([]byte, error)
}

// Links verifies link tokens and derives them again.
type Links interface {
	Verify(ctx context.Context, token string, lookup link.Lookup) (string, error)
	Token(ctx context.Context, invitationID string, generation int) (string, error)
}

// Clock tells the time.
type Clock interface{ Now() time.Time }

// Errors of the ports.
var (
	// ErrConflict: a conditional write lost (the invitation moved on).
	ErrConflict = errors.New("wizard: invitation is not in the expected state")
	// ErrTooManyAttempts: the invitation's attempt budget is spent.
	ErrTooManyAttempts = errors.New("wizard: too many attempts")
	// ErrNotConsented: the tenant has not consented to the application.
	ErrNotConsented = errors.New("wizard: tenant has not consented")
)

// Transition is a conditional change of an invitation's status; the states
// it may leave are upgrade.InvitationMoves.From(To).
type Transition struct {
	InvitationID string
	// OperatorID places the invitation in its operator's status index.
	OperatorID string
	To         upgrade.InvitationStatus
	At         time.Time
	// Generation is the link generation the request came with: a link
	// regenerated or revoked since the request read the invitation moves
	// nothing.
	Generation int
	// TenantID, UPN and ObjectID are recorded on TOKEN_ACQUIRED. On
	// AUTHENTICATION_COMPLETE TenantID must match the recorded one.
	TenantID string
	UPN      string
	ObjectID string
	// Granted, TenantName and TenantDomains are recorded on
	// AUTHENTICATION_COMPLETE and AWAITING_CONFIRMATION, which like
	// completion must name the recorded tenant.
	Granted       []string
	TenantName    string
	TenantDomains []string
	// Events go to the store's outbox in the same write as the
	// transition, and only when it succeeds.
	Events []event.Message
}

// Outcome is how a device code attempt ended, empty while it runs.
type Outcome string

// The device attempt outcomes.
const (
	OutcomeNone     Outcome = ""
	OutcomeAcquired Outcome = "ACQUIRED"
	OutcomeDeclined Outcome = "DECLINED"
	OutcomeExpired  Outcome = "EXPIRED"
	// OutcomeBlocked: Conditional Access blocks the device code flow
	// (AADSTS53003); the page offers "Sign in with Microsoft".
	OutcomeBlocked Outcome = "BLOCKED"
	// OutcomeNeedsAdmin: the account may not consent (AADSTS65001/90094).
	OutcomeNeedsAdmin Outcome = "NEEDS_ADMIN"
	// OutcomeWrongAccount: the account is not in a tenant that can be
	// used (AADSTS50020, a personal account).
	OutcomeWrongAccount Outcome = "WRONG_ACCOUNT"
	// OutcomeNeedsRole: the account holds none of AccountRoles.
	OutcomeNeedsRole Outcome = "NEEDS_ROLE"
	OutcomeFailed    Outcome = "FAILED"
)

// Device is a device code attempt as stored.
type Device struct {
	// SealedCode is the device_code, sealed; dropped once settled.
	SealedCode      []byte
	UserCode        string
	VerificationURI string
	Interval        time.Duration
	ExpiresAt       time.Time
	// LastPoll is when Microsoft was last polled (the start counts).
	LastPoll time.Time
	Outcome  Outcome
}

// Attempt is the wizard record of an invitation.
type Attempt struct {
	DeviceStarts int
	Redirects    int
	// Device is nil before the first "Start authentication".
	Device *Device
	// Confirm is set once admin consent returned and its proof waits for
	// Microsoft's token service to see the grant.
	Confirm *Confirm
}

// Confirm is a pending proof of admin consent: when consent returned, and
// when the proof was last tried.
type Confirm struct {
	Since   time.Time
	LastTry time.Time
}

// Credential is the kept delegated credential: the guide's "Tenant account
// credentials". RefreshToken is sealed with {tenantId, invitationId}.
type Credential struct {
	TenantID      string
	SealedRefresh []byte
	At            time.Time
	// Public marks a refresh token of the device code flow, which Entra
	// redeems only without the client secret (AADSTS700025 with it).
	Public bool
}

// Purpose says which return a state is for.
type Purpose string

// The state purposes: the same callback serves both returns.
const (
	PurposeSignIn  Purpose = "SIGN_IN"
	PurposeConsent Purpose = "CONSENT"
)

// State is a one-time OAuth state as stored: only hashes of the state and
// of the browser binding, never the values.
type State struct {
	Hash         string
	InvitationID string
	Purpose      Purpose
	BindingHash  string
	// SealedVerifier is the PKCE verifier (sign-in only), sealed.
	SealedVerifier []byte
	// TenantID is the tenant consent was asked for (consent only).
	TenantID  string
	ExpiresAt time.Time
}

// DeviceCode is Microsoft's device authorization response.
type DeviceCode struct {
	DeviceCode      string
	UserCode        string
	VerificationURI string
	Interval        time.Duration
	ExpiresIn       time.Duration
}

// Tokens is the verified outcome of a delegated sign-in: the ID token's
// tid, oid, preferred_username and directory roles (wids), checked, and
// the refresh token.
type Tokens struct {
	TenantID     string
	ObjectID     string
	UPN          string
	RefreshToken string
	// Public marks tokens of a public client flow (device code): their
	// refresh token is redeemed without the client secret.
	Public bool
	// DirectoryRoles are the role template ids of the account's directory
	// roles; none when the token named none.
	DirectoryRoles []string
}

// Grant is what an application token for a tenant proves: Microsoft
// granted Roles in TenantID, and Graph, asked with the token, answered
// for Organization.
type Grant struct {
	TenantID     string
	Roles        []string
	Organization Organization
}

// Organization is a tenant as Microsoft Graph describes it.
type Organization struct {
	ID              string
	DisplayName     string
	VerifiedDomains []string
}

// Reason classifies a failed or unfinished Microsoft sign-in.
type Reason string

// The sign-in reasons.
const (
	ReasonPending      Reason = "authorization_pending"
	ReasonSlowDown     Reason = "slow_down"
	ReasonDeclined     Reason = "declined"
	ReasonExpired      Reason = "expired"
	ReasonBlocked      Reason = "conditional_access"
	ReasonNeedsAdmin   Reason = "needs_admin"
	ReasonWrongAccount Reason = "wrong_account"
	ReasonUnavailable  Reason = "unavailable"
	// ReasonTokenRefused: Microsoft's answer carried an ID token that did
	// not pass validation (signature, issuer, audience, tenant, expiry).
	ReasonTokenRefused Reason = "id_token_refused"
	ReasonOther        Reason = "other"
)

// SignInError is Microsoft's answer to a sign-in step, classified. Code is
// the AADSTS number when Microsoft gave one; nothing in it is secret.
type SignInError struct {
	Reason Reason
	Code   string
}

// Error describes the answer.
func (e *SignInError) Error() string {
	if e.Code != "" {
		return "sign-in: " + string(e.Reason) + " (AADSTS" + e.Code + ")"
	}
	return "sign-in: " + string(e.Reason)
}
