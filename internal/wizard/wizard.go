package wizard

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// Defaults for Config.
const (
	// DefaultMaxAttempts bounds device code starts, and separately sign-in
	// and consent redirects, per invitation.
	DefaultMaxAttempts = 20
	// DefaultStateTTL is how long a sign-in or consent state stays usable:
	// long enough for a sign-in with MFA, short enough to be useless later.
	DefaultStateTTL = 15 * time.Minute
	// slowDownStep is what RFC 8628 section 3.5 adds to the interval on
	// slow_down.
	slowDownStep = 5 * time.Second
	// minInterval is the interval RFC 8628 assumes when none is given.
	minInterval = 5 * time.Second
)

// ErrNeutral means the link does not work: unknown, forged, expired,
// revoked, superseded or already used. Callers show one neutral page for
// all of them.
var ErrNeutral = errors.New("wizard: link does not work")

// ErrForm means the form token of a POST did not match this browser.
var ErrForm = errors.New("wizard: form token does not match")

// Config holds the Service's dependencies.
type Config struct {
	Store    Store
	Identity Identity
	Sealer   Sealer
	Links    Links
	// FormKeys yields the key that derives form tokens; the link key is fine
	// because the derivation is domain-separated.
	FormKeys link.KeySource
	Clock    Clock
	Logger   *slog.Logger
	// RequiredRoles are the application permissions an app token for the
	// tenant must hold for the consent to count.
	RequiredRoles []string
	// MaxAttempts defaults to DefaultMaxAttempts; StateTTL to
	// DefaultStateTTL; PropagationWindow to DefaultPropagationWindow.
	MaxAttempts       int
	StateTTL          time.Duration
	PropagationWindow time.Duration
}

// Service runs the wizard.
type Service struct {
	c Config
}

// New returns a Service, checking that every dependency is there.
func New(c Config) (*Service, error) {
	switch {
	case c.Store == nil:
		return nil, errors.New("wizard: nil Store")
	case c.Identity == nil:
		return nil, errors.New("wizard: nil Identity")
	case c.Sealer == nil:
		return nil, errors.New("wizard: nil Sealer")
	case c.Links == nil:
		return nil, errors.New("wizard: nil Links")
	case c.FormKeys == nil:
		return nil, errors.New("wizard: nil FormKeys")
	case c.Clock == nil:
		return nil, errors.New("wizard: nil Clock")
	case c.Logger == nil:
		return nil, errors.New("wizard: nil Logger")
	case len(c.RequiredRoles) == 0:
		return nil, errors.New("wizard: no required roles: consent would prove nothing")
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.StateTTL <= 0 {
		c.StateTTL = DefaultStateTTL
	}
	if c.PropagationWindow <= 0 {
		c.PropagationWindow = DefaultPropagationWindow
	}
	return &Service{c: c}, nil
}

// Step is where the administrator is in the wizard.
type Step string

// The steps, in order.
const (
	// StepWelcome offers the two ways to sign in (guide step 9).
	StepWelcome Step = "welcome"
	// StepDevice shows the code and follows the device sign-in (10-15).
	StepDevice Step = "device"
	// StepAcquired says a token was acquired and offers to continue (16-17).
	StepAcquired Step = "acquired"
	// StepFinishing says consent was given and the service is waiting for
	// Microsoft to let it prove it; the page comes back by itself.
	StepFinishing Step = "finishing"
	// StepActivated is the Tenant Activation page (19-20).
	StepActivated Step = "activated"
	// StepConfirming says consent was proven in a tenant the operator
	// must first confirm as the customer's.
	StepConfirming Step = "confirming"
	// StepProblem explains what went wrong and what to do next.
	StepProblem Step = "problem"
)

// Problem says what went wrong, for the page to explain.
type Problem string

// The problems a page explains.
const (
	ProblemNone         Problem = ""
	ProblemDeclined     Problem = "declined"
	ProblemNeedsAdmin   Problem = "needs_admin"
	ProblemWrongAccount Problem = "wrong_account"
	ProblemBlocked      Problem = "conditional_access"
	ProblemExpired      Problem = "expired"
	ProblemConsent      Problem = "consent_missing"
	ProblemState        Problem = "state"
	ProblemBrowser      Problem = "browser"
	ProblemTooMany      Problem = "too_many_attempts"
	ProblemUnavailable  Problem = "unavailable"
	ProblemMicrosoft    Problem = "microsoft"
	ProblemWrongTenant  Problem = "wrong_tenant"
	// ProblemNeedsRole: the account holds none of AccountRoles.
	ProblemNeedsRole Problem = "needs_role"
)

// View is what a wizard page shows. Token is the link token for the page's
// forms; FormToken their CSRF token.
type View struct {
	Step      Step
	Token     string
	FormToken string

	CustomerName string
	ServiceName  string
	License      upgrade.License

	// Device is set on StepDevice.
	Device *DeviceView
	// UPN and TenantID are set once a token was acquired.
	UPN      string
	TenantID string
	Granted  []string
	// TenantName and TenantDomains describe the proven tenant on
	// StepConfirming.
	TenantName    string
	TenantDomains []string

	Problem Problem
	// Code is Microsoft's AADSTS number for ProblemMicrosoft and friends.
	Code string
	// Back is true when the problem page may link back to the wizard.
	Back bool
	// RetryIn is when the finishing page asks again.
	RetryIn time.Duration
}

// DeviceView is the running device code attempt.
type DeviceView struct {
	UserCode        string
	VerificationURI string
	ExpiresAt       time.Time
	Interval        time.Duration
	Outcome         Outcome
}

// Result is the answer to a step that may leave the site: either a
// redirect (to Microsoft, or back to the wizard) or a page.
type Result struct {
	Redirect string
	View     View
}

// open verifies the link with one read and one MAC whatever the outcome,
// and returns the invitation when it is live.
func (s *Service) open(ctx context.Context, token string) (upgrade.Invitation, error) {
	var inv upgrade.Invitation
	lookup := func(ctx context.Context, id string) (int, bool, error) {
		i, err := s.c.Store.GetInvitation(ctx, id)
		if errors.Is(err, upgrade.ErrNotFound) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		inv = i
		return i.Generation, true, nil
	}
	if _, err := s.c.Links.Verify(ctx, token, lookup); err != nil {
		if errors.Is(err, link.ErrInvalid) {
			return upgrade.Invitation{}, ErrNeutral
		}
		return upgrade.Invitation{}, fmt.Errorf("verify link: %w", err)
	}
	if !inv.Live(s.c.Clock.Now()) {
		return upgrade.Invitation{}, ErrNeutral
	}
	return inv, nil
}

// Open is GET /invite/{token}: it writes nothing, so that mail scanners
// opening the link change nothing, and reads the invitation alone unless a
// device attempt was started: a live link costs what a dead one does.
func (s *Service) Open(ctx context.Context, token, binding string) (View, error) {
	inv, err := s.open(ctx, token)
	if err != nil {
		return View{}, err
	}
	return s.view(ctx, inv, token, binding)
}

// view builds the page of a live invitation from its status and attempt.
// What the page names was copied onto the invitation when it was created,
// and the invitation says whether a device attempt was ever started, so
// the Welcome page reads nothing beyond the invitation.
func (s *Service) view(ctx context.Context, inv upgrade.Invitation, token, binding string) (View, error) {
	v := View{Step: StepWelcome, Token: token}
	var err error
	if v.FormToken, err = s.formToken(ctx, inv.ID, binding); err != nil {
		return View{}, err
	}
	v.CustomerName, v.ServiceName, v.License = inv.CustomerName, inv.ServiceName, inv.License
	// Invitations stored before the copy existed (a deployed table still
	// has them until they expire) carry neither the names nor a reliable
	// DeviceAttempt: read what they lack as before.
	legacy := !inv.Copied()
	if legacy {
		if err := s.legacyNames(ctx, inv, &v); err != nil {
			return View{}, err
		}
	}
	if inv.Status == upgrade.InvitationTokenAcquired {
		v.Step, v.UPN, v.TenantID = StepAcquired, inv.AuthenticatedBy, inv.TenantID
		return v, nil
	}
	if !inv.DeviceAttempt && !legacy {
		return v, nil
	}
	a, err := s.c.Store.GetAttempt(ctx, inv.ID)
	if err != nil {
		return View{}, fmt.Errorf("read attempt: %w", err)
	}
	if d := a.Device; d != nil {
		v.Step = StepDevice
		v.Device = &DeviceView{UserCode: d.UserCode, VerificationURI: d.VerificationURI, ExpiresAt: d.ExpiresAt,
			Interval: d.Interval, Outcome: d.Outcome}
		if d.Outcome == OutcomeNone && !s.c.Clock.Now().Before(d.ExpiresAt) {
			v.Device.Outcome = OutcomeExpired
		}
	}
	return v, nil
}

// legacyNames reads what the page names from the customer and the upgrade,
// for an invitation that does not carry a copy.
//
// Remove it, with Store.GetCustomer and Store.GetUpgrade and the tests of
// invitations "stored before the copy", on or after 2026-12-30. The copy
// was made at creation from 2026-11-29 18:36 UTC on, and an invitation
// lives at most 720 hours (INVITATION_TTL_HOURS), so on a deployment that
// ran the copy from that day no invitation without it is live after
// 2026-12-29 18:36 UTC. Two things would keep one alive longer; rule them
// out before removing: a deployment that took the copy later (its own
// date plus 720 hours is then the bound), and "Re-initiate Authentication
// Flow", which gives an invitation a new expiry without copying the names.
// Without this function such an invitation's page shows no names, and its
// device attempt only once it is marked.
func (s *Service) legacyNames(ctx context.Context, inv upgrade.Invitation, v *View) error {
	if c, err := s.c.Store.GetCustomer(ctx, inv.OperatorID, inv.CustomerID); err == nil {
		v.CustomerName = c.Name
	} else if !errors.Is(err, upgrade.ErrNotFound) {
		return fmt.Errorf("read customer: %w", err)
	}
	if u, err := s.c.Store.GetUpgrade(ctx, inv.OperatorID, inv.UpgradeID); err == nil {
		v.ServiceName, v.License = u.Service.FullName, u.Service.License
	} else if !errors.Is(err, upgrade.ErrNotFound) {
		return fmt.Errorf("read upgrade: %w", err)
	}
	return nil
}

// StartDevice is "Start authentication" (guide step 10): a new device code,
// stored sealed, shown to the administrator.
func (s *Service) StartDevice(ctx context.Context, token, binding, form string) (View, error) {
	inv, err := s.openForm(ctx, token, binding, form)
	if err != nil {
		return View{}, err
	}
	dc, err := s.c.Identity.StartDeviceCode(ctx)
	if err != nil {
		return s.signInProblem(ctx, inv, token, binding, err)
	}
	sealed, err := s.c.Sealer.Seal(ctx, []byte(dc.DeviceCode), map[string]string{"invitationId": inv.ID, "purpose": "device_code"})
	if err != nil {
		return View{}, fmt.Errorf("seal device code: %w", err)
	}
	now := s.c.Clock.Now()
	interval := max(dc.Interval, minInterval)
	d := Device{SealedCode: sealed, UserCode: dc.UserCode, VerificationURI: dc.VerificationURI,
		Interval: interval, ExpiresAt: now.Add(dc.ExpiresIn), LastPoll: now}
	if err := s.c.Store.StartDevice(ctx, inv.ID, d, s.c.MaxAttempts); err != nil {
		return s.attemptProblem(ctx, inv, err)
	}
	if err := s.markInProgress(ctx, inv); err != nil {
		return View{}, err
	}
	s.c.Logger.InfoContext(ctx, "device code started", "invitationId", inv.ID)
	inv.Status, inv.DeviceAttempt = upgrade.InvitationInProgress, true
	return s.view(ctx, inv, token, binding)
}

// Poll is GET /invite/{token}/status. It polls Microsoft at most once per
// interval across all invocations: the poll time is claimed with a
// conditional write before the token endpoint is called.
func (s *Service) Poll(ctx context.Context, token, binding string) (View, error) {
	inv, err := s.open(ctx, token)
	if err != nil {
		return View{}, err
	}
	if inv.Status == upgrade.InvitationTokenAcquired {
		return s.finish(ctx, inv, token, binding)
	}
	if inv.Status != upgrade.InvitationInProgress {
		return s.view(ctx, inv, token, binding)
	}
	a, err := s.c.Store.GetAttempt(ctx, inv.ID)
	if err != nil {
		return View{}, fmt.Errorf("read attempt: %w", err)
	}
	d := a.Device
	now := s.c.Clock.Now()
	if d == nil || d.Outcome != OutcomeNone || now.Before(d.LastPoll.Add(d.Interval)) {
		return s.view(ctx, inv, token, binding)
	}
	if !now.Before(d.ExpiresAt) {
		if err := s.c.Store.SettleDevice(ctx, inv.ID, d.Interval, OutcomeExpired); err != nil {
			return View{}, err
		}
		return s.view(ctx, inv, token, binding)
	}
	won, err := s.c.Store.ClaimPoll(ctx, inv.ID, d.LastPoll, now)
	if err != nil {
		return View{}, fmt.Errorf("claim poll: %w", err)
	}
	if !won {
		return s.view(ctx, inv, token, binding)
	}
	code, err := s.c.Sealer.Open(ctx, d.SealedCode, map[string]string{"invitationId": inv.ID, "purpose": "device_code"})
	if err != nil {
		return View{}, fmt.Errorf("open device code: %w", err)
	}
	tokens, err := s.c.Identity.PollDeviceCode(ctx, string(code))
	if err != nil {
		var se *SignInError
		if !errors.As(err, &se) {
			return View{}, fmt.Errorf("poll device code: %w", err)
		}
		interval, outcome := d.Interval, OutcomeNone
		switch se.Reason {
		case ReasonPending, ReasonUnavailable:
			return s.view(ctx, inv, token, binding)
		case ReasonSlowDown:
			interval += slowDownStep
		case ReasonDeclined:
			outcome = OutcomeDeclined
		case ReasonExpired:
			outcome = OutcomeExpired
		case ReasonBlocked:
			outcome = OutcomeBlocked
		case ReasonNeedsAdmin:
			outcome = OutcomeNeedsAdmin
		case ReasonWrongAccount:
			outcome = OutcomeWrongAccount
		default:
			outcome = OutcomeFailed
		}
		s.c.Logger.InfoContext(ctx, "device code poll", "invitationId", inv.ID, "reason", se.Reason, "aadsts", se.Code)
		if err := s.c.Store.SettleDevice(ctx, inv.ID, interval, outcome); err != nil {
			return View{}, err
		}
		return s.view(ctx, inv, token, binding)
	}
	if err := s.acquire(ctx, inv, tokens); errors.Is(err, errNeedsRole) {
		if err := s.c.Store.SettleDevice(ctx, inv.ID, d.Interval, OutcomeNeedsRole); err != nil {
			return View{}, err
		}
		return s.view(ctx, inv, token, binding)
	} else if err != nil {
		return View{}, err
	}
	if err := s.c.Store.SettleDevice(ctx, inv.ID, d.Interval, OutcomeAcquired); err != nil {
		return View{}, err
	}
	inv.Status, inv.TenantID, inv.AuthenticatedBy = upgrade.InvitationTokenAcquired, tokens.TenantID, tokens.UPN
	return s.view(ctx, inv, token, binding)
}

// acquire keeps the delegated credential sealed and records who signed in:
// TOKEN_ACQUIRED. Signing in again (another account) replaces both.
func (s *Service) acquire(ctx context.Context, inv upgrade.Invitation, t Tokens) error {
	if !holdsAccountRole(t) {
		// Its refresh token would become the tenant account credentials:
		// keep nothing of an account that cannot do what they are for.
		s.c.Logger.InfoContext(ctx, "sign-in without a required directory role", "invitationId", inv.ID, "tenantId", t.TenantID)
		return errNeedsRole
	}
	now := s.c.Clock.Now()
	if t.RefreshToken != "" {
		sealed, err := s.c.Sealer.Seal(ctx, []byte(t.RefreshToken), upgrade.CredentialContext(t.TenantID, inv.ID))
		if err != nil {
			return fmt.Errorf("seal refresh token: %w", err)
		}
		if err := s.c.Store.SaveCredential(ctx, inv.ID, Credential{TenantID: t.TenantID, SealedRefresh: sealed, At: now, Public: t.Public}); err != nil {
			return fmt.Errorf("save credential: %w", err)
		}
	}
	err := s.c.Store.TransitionInvitation(ctx, Transition{InvitationID: inv.ID, OperatorID: inv.OperatorID, Generation: inv.Generation, At: now,
		To: upgrade.InvitationTokenAcquired, TenantID: t.TenantID, UPN: t.UPN, ObjectID: t.ObjectID})
	if err != nil {
		return fmt.Errorf("record token acquired: %w", err)
	}
	s.c.Logger.InfoContext(ctx, "token acquired", "invitationId", inv.ID, "tenantId", t.TenantID)
	return nil
}

// StartSignIn is "Sign in with Microsoft": a one-time state bound to the
// invitation and this browser, a PKCE verifier kept sealed, and the
// authorization request to redirect to.
func (s *Service) StartSignIn(ctx context.Context, token, binding, form string) (Result, error) {
	inv, err := s.openForm(ctx, token, binding, form)
	if err != nil {
		return Result{}, err
	}
	if err := s.c.Store.CountRedirect(ctx, inv.ID, s.c.MaxAttempts); err != nil {
		v, err := s.attemptProblem(ctx, inv, err)
		return Result{View: v}, err
	}
	state, verifier := random(), random()
	sealed, err := s.c.Sealer.Seal(ctx, []byte(verifier), map[string]string{"invitationId": inv.ID, "purpose": "pkce"})
	if err != nil {
		return Result{}, fmt.Errorf("seal verifier: %w", err)
	}
	st := State{Hash: Hash(state), InvitationID: inv.ID, Purpose: PurposeSignIn, BindingHash: Hash(binding),
		SealedVerifier: sealed, ExpiresAt: s.c.Clock.Now().Add(s.c.StateTTL)}
	if err := s.c.Store.PutState(ctx, st); err != nil {
		return Result{}, fmt.Errorf("store state: %w", err)
	}
	if err := s.markInProgress(ctx, inv); err != nil {
		return Result{}, err
	}
	sum := sha256.Sum256([]byte(verifier))
	u, err := s.c.Identity.AuthorizeURL(ctx, state, base64.RawURLEncoding.EncodeToString(sum[:]))
	if err != nil {
		return Result{}, fmt.Errorf("authorize URL: %w", err)
	}
	s.c.Logger.InfoContext(ctx, "sign-in started", "invitationId", inv.ID)
	return Result{Redirect: u}, nil
}

// Continue is "click here to continue the authentication process" (guide
// step 17). A tenant that already consented is proven and completed at
// once; otherwise the administrator goes to tenant-wide admin consent.
func (s *Service) Continue(ctx context.Context, token, binding, form string) (Result, error) {
	inv, err := s.openForm(ctx, token, binding, form)
	if err != nil {
		return Result{}, err
	}
	if !upgrade.InvitationMoves.Allows(inv.Status, upgrade.InvitationAuthenticationComplete) || inv.TenantID == "" {
		v, err := s.view(ctx, inv, token, binding)
		return Result{View: v}, err
	}
	v, err := s.complete(ctx, inv, inv.TenantID)
	if err == nil || !errors.Is(err, ErrNotConsented) {
		return Result{View: v}, err
	}
	if v, pending, err := s.pendingProof(ctx, inv, token); err != nil || pending {
		return Result{View: v}, err
	}
	if err := s.c.Store.CountRedirect(ctx, inv.ID, s.c.MaxAttempts); err != nil {
		v, err := s.attemptProblem(ctx, inv, err)
		return Result{View: v}, err
	}
	state := random()
	st := State{Hash: Hash(state), InvitationID: inv.ID, Purpose: PurposeConsent, BindingHash: Hash(binding),
		TenantID: inv.TenantID, ExpiresAt: s.c.Clock.Now().Add(s.c.StateTTL)}
	if err := s.c.Store.PutState(ctx, st); err != nil {
		return Result{}, fmt.Errorf("store state: %w", err)
	}
	s.c.Logger.InfoContext(ctx, "admin consent started", "invitationId", inv.ID, "tenantId", inv.TenantID)
	return Result{Redirect: s.c.Identity.AdminConsentURL(inv.TenantID, state)}, nil
}

// Callback is the query of GET /consent/callback.
type Callback struct {
	State            string
	Code             string
	Error            string
	ErrorDescription string
	AdminConsent     string
	Tenant           string
}

// aadsts finds the AADSTS number Microsoft puts in error_description. It
// is compiled on the first failed callback, not at package init, which
// every function linking this package would pay at each cold start.
var aadsts = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`AADSTS(\d{5,7})`) })

// HandleCallback serves Microsoft's return from sign-in and from admin
// consent. It checks error first (an error is shown, and its state spent,
// whatever else the query says), then the state (one-time, bound to this
// browser, unexpired, its invitation still live), and only then trusts
// anything else: the tenant named in the query proves nothing until an
// application token for it does.
func (s *Service) HandleCallback(ctx context.Context, cb Callback, binding string) (Result, error) {
	problem := func(p Problem, code string, back bool, token string) (Result, error) {
		return Result{View: View{Step: StepProblem, Problem: p, Code: code, Back: back, Token: token}}, nil
	}
	if cb.Error != "" {
		// Microsoft's error is the answer whatever else the query holds: no
		// code is redeemed and no tenant is trusted.
		p, code := callbackProblem(cb)
		token, err := s.spendState(ctx, cb.State, binding)
		if err != nil {
			return Result{}, err
		}
		s.c.Logger.InfoContext(ctx, "callback error", "error", cb.Error, "aadsts", code)
		return problem(p, code, token != "", token)
	}
	if cb.State == "" {
		return problem(ProblemState, "", false, "")
	}
	st, err := s.c.Store.TakeState(ctx, Hash(cb.State))
	if errors.Is(err, upgrade.ErrNotFound) {
		s.c.Logger.InfoContext(ctx, "callback with unknown or used state")
		return problem(ProblemState, "", false, "")
	}
	if err != nil {
		return Result{}, fmt.Errorf("take state: %w", err)
	}
	now := s.c.Clock.Now()
	if !now.Before(st.ExpiresAt) {
		return problem(ProblemState, "", false, "")
	}
	if binding == "" || !hmac.Equal([]byte(st.BindingHash), []byte(Hash(binding))) {
		s.c.Logger.WarnContext(ctx, "callback state from another browser", "invitationId", st.InvitationID)
		return problem(ProblemBrowser, "", false, "")
	}
	inv, err := s.c.Store.GetInvitation(ctx, st.InvitationID)
	if errors.Is(err, upgrade.ErrNotFound) {
		return Result{}, ErrNeutral
	}
	if err != nil {
		return Result{}, fmt.Errorf("read invitation: %w", err)
	}
	if !inv.Live(now) {
		return Result{}, ErrNeutral
	}
	token, err := s.c.Links.Token(ctx, inv.ID, inv.Generation)
	if err != nil {
		return Result{}, fmt.Errorf("derive link: %w", err)
	}
	switch st.Purpose {
	case PurposeSignIn:
		if cb.Code == "" {
			return problem(ProblemState, "", true, token)
		}
		verifier, err := s.c.Sealer.Open(ctx, st.SealedVerifier, map[string]string{"invitationId": inv.ID, "purpose": "pkce"})
		if err != nil {
			return Result{}, fmt.Errorf("open verifier: %w", err)
		}
		tokens, err := s.c.Identity.RedeemCode(ctx, cb.Code, string(verifier))
		if err != nil {
			var se *SignInError
			if errors.As(err, &se) {
				s.c.Logger.InfoContext(ctx, "code redemption refused", "invitationId", inv.ID, "reason", se.Reason, "aadsts", se.Code)
				return problem(problemOf(se.Reason), se.Code, true, token)
			}
			return Result{}, fmt.Errorf("redeem code: %w", err)
		}
		if err := s.acquire(ctx, inv, tokens); errors.Is(err, errNeedsRole) {
			return problem(ProblemNeedsRole, "", true, token)
		} else if err != nil {
			return Result{}, err
		}
		return Result{Redirect: "/invite/" + token}, nil
	case PurposeConsent:
		if !strings.EqualFold(cb.AdminConsent, "true") {
			return problem(ProblemConsent, "", true, token)
		}
		tenant := strings.ToLower(cb.Tenant)
		if !upgrade.IsTenantID(tenant) || tenant != st.TenantID || tenant != inv.TenantID {
			s.c.Logger.WarnContext(ctx, "consent callback names another tenant", "invitationId", inv.ID)
			return problem(ProblemWrongTenant, "", true, token)
		}
		v, err := s.complete(ctx, inv, tenant)
		if errors.Is(err, ErrNotConsented) {
			// Consent came back, but Microsoft's token service may not
			// see it yet: wait for it rather than ask again.
			v, err = s.startFinishing(ctx, inv, token)
		}
		return Result{View: v}, err
	}
	return problem(ProblemState, "", false, "")
}

// callbackProblem classifies Microsoft's error callback by its AADSTS
// number, which Microsoft puts in error_description. The number decides
// before the error: Entra sends access_denied for a declined consent
// (65004), for an account of another directory (50020) and for a user who
// may not consent (90094) alike.
func callbackProblem(cb Callback) (Problem, string) {
	code := ""
	if m := aadsts().FindStringSubmatch(cb.ErrorDescription); m != nil {
		code = m[1]
	}
	switch code {
	case "90094", "90008", "65001":
		return ProblemNeedsAdmin, code
	case "50020":
		return ProblemWrongAccount, code
	case "53003":
		return ProblemBlocked, code
	case "65004":
		return ProblemDeclined, code
	}
	if code == "" && (cb.Error == "access_denied" || cb.Error == "permission_denied") {
		// The older endpoint's Cancel says permission_denied and no number.
		return ProblemDeclined, code
	}
	return ProblemMicrosoft, code
}

// spendState takes the state of an error callback so that it cannot be
// used again, and returns the link token for the page's way back when the
// state was this browser's, unexpired, and its invitation is still live;
// otherwise "".
func (s *Service) spendState(ctx context.Context, state, binding string) (string, error) {
	if state == "" {
		return "", nil
	}
	st, err := s.c.Store.TakeState(ctx, Hash(state))
	if errors.Is(err, upgrade.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("take state: %w", err)
	}
	now := s.c.Clock.Now()
	if !now.Before(st.ExpiresAt) || binding == "" || !hmac.Equal([]byte(st.BindingHash), []byte(Hash(binding))) {
		return "", nil
	}
	inv, err := s.c.Store.GetInvitation(ctx, st.InvitationID)
	if errors.Is(err, upgrade.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read invitation: %w", err)
	}
	if !inv.Live(now) {
		return "", nil
	}
	token, err := s.c.Links.Token(ctx, inv.ID, inv.Generation)
	if err != nil {
		return "", fmt.Errorf("derive link: %w", err)
	}
	return token, nil
}

// complete proves the tenant's consent with an application token for it
// (tid must be the tenant, roles must hold every required permission) and
// marks the invitation AUTHENTICATION_COMPLETE. It returns a problem view
// and an error wrapping ErrNotConsented when the proof fails.
func (s *Service) complete(ctx context.Context, inv upgrade.Invitation, tenant string) (View, error) {
	g, err := s.c.Identity.AppGrant(ctx, tenant)
	notConsented := View{Step: StepProblem, Problem: ProblemConsent}
	if errors.Is(err, ErrNotConsented) {
		return notConsented, fmt.Errorf("tenant %s: %w", tenant, ErrNotConsented)
	}
	if err != nil {
		return View{}, fmt.Errorf("app token: %w", err)
	}
	if g.TenantID != tenant || g.Organization.ID != tenant {
		return notConsented, fmt.Errorf("app token for tenant %s names %s (Graph: %s): %w", tenant, g.TenantID, g.Organization.ID, ErrNotConsented)
	}
	for _, r := range s.c.RequiredRoles {
		if !slices.Contains(g.Roles, r) {
			return notConsented, fmt.Errorf("tenant %s lacks %s: %w", tenant, r, ErrNotConsented)
		}
	}
	granted := slices.Sorted(slices.Values(g.Roles))
	ours, err := s.bind(ctx, inv, tenant, g.Organization)
	if err != nil {
		return View{}, err
	}
	if !ours {
		return s.awaitConfirmation(ctx, inv, tenant, granted, g.Organization)
	}
	now := s.c.Clock.Now()
	// Authentication Completed goes in the same write: the token
	// validation function hears of every completed invitation, and of no
	// other.
	events, err := upgrade.Announce(upgrade.AuthenticationCompletedEvent(inv, tenant))
	if err != nil {
		return View{}, err
	}
	err = s.c.Store.TransitionInvitation(ctx, Transition{InvitationID: inv.ID, OperatorID: inv.OperatorID, Generation: inv.Generation, At: now,
		To:       upgrade.InvitationAuthenticationComplete,
		TenantID: tenant, Granted: granted, TenantName: g.Organization.DisplayName, TenantDomains: g.Organization.VerifiedDomains,
		Events: events})
	if errors.Is(err, ErrConflict) {
		// Another tab completed it, or the link died meanwhile.
		return View{}, ErrNeutral
	}
	if err != nil {
		return View{}, fmt.Errorf("record authentication complete: %w", err)
	}
	s.c.Logger.InfoContext(ctx, "authentication complete", "invitationId", inv.ID, "tenantId", tenant)
	return View{Step: StepActivated, TenantID: tenant, UPN: inv.AuthenticatedBy, Granted: granted}, nil
}

func problemOf(r Reason) Problem {
	switch r {
	case ReasonDeclined:
		return ProblemDeclined
	case ReasonExpired:
		return ProblemExpired
	case ReasonBlocked:
		return ProblemBlocked
	case ReasonNeedsAdmin:
		return ProblemNeedsAdmin
	case ReasonWrongAccount:
		return ProblemWrongAccount
	case ReasonUnavailable:
		return ProblemUnavailable
	}
	return ProblemMicrosoft
}

// signInProblem turns a failed start at Microsoft into a page.
func (s *Service) signInProblem(ctx context.Context, inv upgrade.Invitation, token, binding string, err error) (View, error) {
	var se *SignInError
	if !errors.As(err, &se) {
		return View{}, fmt.Errorf("start device code: %w", err)
	}
	s.c.Logger.InfoContext(ctx, "device code refused", "invitationId", inv.ID, "reason", se.Reason, "aadsts", se.Code)
	return View{Step: StepProblem, Problem: problemOf(se.Reason), Code: se.Code, Back: true, Token: token}, nil
}

// attemptProblem turns a spent attempt budget into FAILED and a page.
func (s *Service) attemptProblem(ctx context.Context, inv upgrade.Invitation, err error) (View, error) {
	if !errors.Is(err, ErrTooManyAttempts) {
		return View{}, err
	}
	s.c.Logger.WarnContext(ctx, "attempt limit reached", "invitationId", inv.ID)
	terr := s.c.Store.TransitionInvitation(ctx, Transition{InvitationID: inv.ID, OperatorID: inv.OperatorID, Generation: inv.Generation, At: s.c.Clock.Now(),
		To: upgrade.InvitationFailed})
	if terr != nil && !errors.Is(terr, ErrConflict) {
		return View{}, fmt.Errorf("record failure: %w", terr)
	}
	return View{Step: StepProblem, Problem: ProblemTooMany}, nil
}

// markInProgress moves a PENDING invitation to IN_PROGRESS; any later
// status stays.
func (s *Service) markInProgress(ctx context.Context, inv upgrade.Invitation) error {
	if !upgrade.InvitationMoves.Allows(inv.Status, upgrade.InvitationInProgress) {
		return nil
	}
	err := s.c.Store.TransitionInvitation(ctx, Transition{InvitationID: inv.ID, OperatorID: inv.OperatorID, Generation: inv.Generation, At: s.c.Clock.Now(),
		To: upgrade.InvitationInProgress})
	if err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("record in progress: %w", err)
	}
	return nil
}

// openForm opens the link of a POST and checks its form token. A page
// rendered under the link key before a rotation still posts: the check
// takes the previous key too, as links do.
func (s *Service) openForm(ctx context.Context, token, binding, form string) (upgrade.Invitation, error) {
	inv, err := s.open(ctx, token)
	if err != nil {
		return upgrade.Invitation{}, err
	}
	mac, err := base64.RawURLEncoding.Strict().DecodeString(form)
	if binding == "" || err != nil || len(mac) != sha256.Size {
		return upgrade.Invitation{}, ErrForm
	}
	ok, err := link.Check(ctx, s.c.FormKeys, formMessage(inv.ID, binding), mac)
	if err != nil {
		return upgrade.Invitation{}, fmt.Errorf("form key: %w", err)
	}
	if !ok {
		return upgrade.Invitation{}, ErrForm
	}
	return inv, nil
}

// formToken binds a form to the invitation and to this browser's binding
// cookie: a cross-site page knows neither.
func (s *Service) formToken(ctx context.Context, invitationID, binding string) (string, error) {
	mac, err := link.Sum(ctx, s.c.FormKeys, formMessage(invitationID, binding))
	if err != nil {
		return "", fmt.Errorf("form key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(mac), nil
}

// formMessage is what a form token's MAC covers; its prefix keeps it apart
// from links made with the same key.
func formMessage(invitationID, binding string) string {
	return "form/v1|" + invitationID + "|" + binding
}

// NewBinding returns a fresh browser binding value for the cookie.
func NewBinding() string { return random() }

// Hash is how states and bindings are stored: SHA-256, base64url. They are
// 256-bit random values, so a plain hash cannot be reversed or guessed.
func Hash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// random returns 256 random bits, base64url (43 characters, also a valid
// PKCE verifier).
func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24.
	return base64.RawURLEncoding.EncodeToString(b)
}
