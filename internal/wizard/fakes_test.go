package wizard_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/upgrade/memory"
	"github.com/ocpro/upgrade/internal/wizard"
)

// store is the in-memory store (package memory, which passes the wizard
// store's contract) as the wizard sees it, counting reads and writes so
// that tests can tell what a step did.
type store struct {
	*memory.Store
	mu       sync.Mutex
	invReads int
	writes   int
	// otherReads counts reads of the customer, the upgrade and the wizard
	// record: opening a link should need none of them.
	otherReads int
	// afterGetAttempt, when set, runs after GetAttempt has read: the
	// concurrency test holds readers there.
	afterGetAttempt func()
}

// newStore returns the store with the customer and the upgrade every
// invitation of these tests belongs to, for the reads of an invitation
// stored before the Welcome page's names were copied onto it.
func newStore(t *testing.T) *store {
	t.Helper()
	s := &store{Store: memory.New()}
	ctx := context.Background()
	if err := s.CreateCustomer(ctx, upgrade.Customer{ID: "cust", OperatorID: "op", Name: "Contoso", Kind: upgrade.KindCustomer,
		Domain:  customerDomain,
		License: upgrade.Essentials, CreatedAt: start}); err != nil {
		t.Fatal(err)
	}
	u := upgrade.Upgrade{ID: "up", OperatorID: "op", CustomerID: "cust", Status: upgrade.UpgradePendingAuthentication, CreatedAt: start,
		Service: upgrade.Service{ID: "svc", CustomerID: "cust", FullName: "Contoso Teams", ShortName: "teams", License: upgrade.Pro,
			LicensedUsers: 10, Status: upgrade.ServicePendingAuthentication, CreatedAt: start},
		Invitation: upgrade.Invitation{ID: "first", OperatorID: "op", CustomerID: "cust", UpgradeID: "up", ServiceID: "svc",
			TokenID: "TOKEN", Status: upgrade.InvitationPending, Generation: 1, CreatedAt: start, ExpiresAt: start.Add(7 * 24 * time.Hour)}}
	if _, _, err := s.CreateUpgrade(ctx, upgrade.Creation{Upgrade: u}); err != nil {
		t.Fatal(err)
	}
	return s
}

// count adds one to n when err is nil.
func (s *store) count(n *int, err error) error {
	if err == nil {
		s.mu.Lock()
		*n++
		s.mu.Unlock()
	}
	return err
}

func (s *store) GetInvitation(ctx context.Context, id string) (upgrade.Invitation, error) {
	s.count(&s.invReads, nil)
	return s.Store.GetInvitation(ctx, id)
}

func (s *store) GetCustomer(ctx context.Context, operatorID, id string) (upgrade.Customer, error) {
	s.count(&s.otherReads, nil)
	return s.Store.GetCustomer(ctx, operatorID, id)
}

func (s *store) GetUpgrade(ctx context.Context, operatorID, id string) (upgrade.Upgrade, error) {
	s.count(&s.otherReads, nil)
	return s.Store.GetUpgrade(ctx, operatorID, id)
}

func (s *store) GetAttempt(ctx context.Context, id string) (wizard.Attempt, error) {
	s.count(&s.otherReads, nil)
	a, err := s.Store.GetAttempt(ctx, id)
	s.mu.Lock()
	hook := s.afterGetAttempt
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return a, err
}

func (s *store) TransitionInvitation(ctx context.Context, t wizard.Transition) error {
	return s.count(&s.writes, s.Store.TransitionInvitation(ctx, t))
}

func (s *store) StartDevice(ctx context.Context, id string, d wizard.Device, max int) error {
	return s.count(&s.writes, s.Store.StartDevice(ctx, id, d, max))
}

func (s *store) CountRedirect(ctx context.Context, id string, max int) error {
	return s.count(&s.writes, s.Store.CountRedirect(ctx, id, max))
}

func (s *store) ClaimPoll(ctx context.Context, id string, prev, now time.Time) (bool, error) {
	won, err := s.Store.ClaimPoll(ctx, id, prev, now)
	if won {
		s.count(&s.writes, err)
	}
	return won, err
}

func (s *store) SettleDevice(ctx context.Context, id string, interval time.Duration, outcome wizard.Outcome) error {
	return s.count(&s.writes, s.Store.SettleDevice(ctx, id, interval, outcome))
}

func (s *store) SaveCredential(ctx context.Context, id string, c wizard.Credential) error {
	return s.count(&s.writes, s.Store.SaveCredential(ctx, id, c))
}

func (s *store) PutState(ctx context.Context, st wizard.State) error {
	return s.count(&s.writes, s.Store.PutState(ctx, st))
}

// holdAfterGetAttempt sets the hook GetAttempt runs after reading.
func (s *store) holdAfterGetAttempt(hook func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterGetAttempt = hook
}

// invitation reads an invitation without counting the read.
func (s *store) invitation(id string) upgrade.Invitation {
	inv, err := s.Store.GetInvitation(context.Background(), id)
	if err != nil && !errors.Is(err, upgrade.ErrNotFound) {
		panic(fmt.Sprintf("read invitation %s: %v", id, err)) // a test helper without a t; the test fails
	}
	return inv
}

// change rewrites an invitation behind the wizard's back, as another
// writer (the operator, the sweep, a deployment before a field existed)
// leaves it.
func (s *store) change(id string, f func(*upgrade.Invitation)) {
	inv := s.invitation(id)
	f(&inv)
	s.SetInvitation(inv)
}

// device reads the device attempt without counting the read.
func (s *store) device(id string) wizard.Device {
	a, err := s.Store.GetAttempt(context.Background(), id)
	if err != nil && !errors.Is(err, upgrade.ErrNotFound) {
		panic(fmt.Sprintf("read attempt %s: %v", id, err))
	}
	if a.Device != nil {
		return *a.Device
	}
	return wizard.Device{}
}

// credential reads the kept credential without counting the read.
func (s *store) credential(id string) []byte {
	c, err := s.Credential(context.Background(), id)
	if err != nil && !errors.Is(err, upgrade.ErrNotFound) {
		panic(fmt.Sprintf("read credential %s: %v", id, err))
	}
	return c.Sealed
}

// counts returns invitation reads and writes so far.
func (s *store) counts() (reads, writes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.invReads, s.writes
}

// reads returns invitation reads and other reads so far.
func (s *store) reads() (invitation, other int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.invReads, s.otherReads
}

// identity is a scripted Microsoft. Polls answer from polls in order (the
// last answer repeats); codes maps an authorization code to the verifier
// it must be redeemed with and the tokens it yields; grants maps a tenant
// to its app token.
type identity struct {
	mu      sync.Mutex
	device  wizard.DeviceCode
	polls   []pollAnswer
	pollN   atomic.Int32
	codes   map[string]codeGrant
	grants  map[string]wizard.Grant
	redeems atomic.Int32
	appCall atomic.Int32
	// authorize is the last authorization request: its state and
	// challenge.
	authorize url.Values
}

type pollAnswer struct {
	tokens wizard.Tokens
	err    error
}

// codeGrant is an issued authorization code: the PKCE challenge it was
// asked with and what it yields.
type codeGrant struct {
	challenge string
	tokens    wizard.Tokens
}

func (m *identity) StartDeviceCode(context.Context) (wizard.DeviceCode, error) { return m.device, nil }

func (m *identity) PollDeviceCode(_ context.Context, code string) (wizard.Tokens, error) {
	if code != m.device.DeviceCode {
		return wizard.Tokens{}, &wizard.SignInError{Reason: wizard.ReasonOther, Code: "70018"}
	}
	n := int(m.pollN.Add(1))
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.polls) == 0 {
		return wizard.Tokens{}, &wizard.SignInError{Reason: wizard.ReasonPending}
	}
	a := m.polls[min(n, len(m.polls))-1]
	return a.tokens, a.err
}

func (m *identity) AuthorizeURL(_ context.Context, state, challenge string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.authorize = url.Values{"state": {state}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	return "https://login.example/organizations/oauth2/v2.0/authorize?" + m.authorize.Encode(), nil
}

func (m *identity) RedeemCode(_ context.Context, code, verifier string) (wizard.Tokens, error) {
	m.redeems.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.codes[code]
	sum := sha256.Sum256([]byte(verifier))
	if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		return wizard.Tokens{}, &wizard.SignInError{Reason: wizard.ReasonOther, Code: "501481"}
	}
	return g.tokens, nil
}

func (m *identity) AdminConsentURL(tenantID, state string) string {
	return "https://login.example/" + tenantID + "/v2.0/adminconsent?" + url.Values{"state": {state}}.Encode()
}

func (m *identity) AppGrant(_ context.Context, tenantID string) (wizard.Grant, error) {
	m.appCall.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.grants[tenantID]
	if !ok {
		return wizard.Grant{}, wizard.ErrNotConsented
	}
	if g.Organization.ID == "" {
		// Graph answers for the tenant; its domain is its id's first part.
		first, _, _ := strings.Cut(tenantID, "-")
		g.Organization = wizard.Organization{ID: tenantID, DisplayName: "Tenant " + first, VerifiedDomains: []string{first + ".example"}}
	}
	return g, nil
}

func (m *identity) grant(tenantID string, g wizard.Grant) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.grants[tenantID] = g
}

// sealer seals by wrapping the plaintext with its encryption context, and
// refuses to open under another context, as KMS does.
type sealer struct{}

func (sealer) Seal(_ context.Context, plaintext []byte, encCtx map[string]string) ([]byte, error) {
	return append([]byte(contextString(encCtx)+"\x00"), reverse(plaintext)...), nil
}

func (sealer) Open(_ context.Context, blob []byte, encCtx map[string]string) ([]byte, error) {
	head, body, ok := bytes.Cut(blob, []byte{0})
	if !ok || string(head) != contextString(encCtx) {
		return nil, errors.New("sealer: encryption context does not match")
	}
	return reverse(body), nil
}

func contextString(m map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%s=%s;", k, m[k])
	}
	return b.String()
}

// reverse stands in for encryption: the sealed bytes never hold the
// plaintext as it was.
func reverse(b []byte) []byte {
	out := slices.Clone(b)
	slices.Reverse(out)
	return out
}

// publisher reads the events the store's outbox holds.
type publisher struct{ store *store }

func (p *publisher) published() []event.AuthenticationCompleted {
	return memory.Announced[event.AuthenticationCompleted](p.store.Store)
}

// countingKey is the link key, counting how often a MAC was computed.
type countingKey struct{ n atomic.Int32 }

func (k *countingKey) Key(context.Context) ([]byte, error) {
	k.n.Add(1)
	return []byte("link-key-link-key-link-key-link-key!"), nil
}

// rotatingKey is a key kept in rotation as secret.Key keeps the link key:
// cur and prev are what this container read; stored is what Secrets
// Manager holds now, which Refresh reads.
type rotatingKey struct {
	mu        sync.Mutex
	cur, prev []byte
	stored    []byte
	refreshes int
}

func (k *rotatingKey) Key(context.Context) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cur, nil
}

func (k *rotatingKey) Previous(context.Context) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.prev, nil
}

func (k *rotatingKey) Refresh(context.Context) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refreshes++
	if k.stored == nil {
		return true, nil
	}
	k.prev, k.cur, k.stored = k.cur, k.stored, nil
	return true, nil
}

// rotate makes next the current key and the current one the previous, as
// after a rotation this container has read.
func (k *rotatingKey) rotate(next string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.prev, k.cur = k.cur, []byte(next)
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// world is a Service with its fakes.
type world struct {
	svc     *wizard.Service
	store   *store
	ms      *identity
	pub     *publisher
	clock   *clock
	linkKey *countingKey
	formKey *rotatingKey
	signer  *link.Signer
	logs    *bytes.Buffer
}

const (
	tenantA = "aaaaaaaa-0000-4000-8000-000000000001"
	// customerDomain is the domain of the customer of these tests, which
	// tenantA verified (see identity.AppGrant).
	customerDomain = "aaaaaaaa.example"
	tenantB        = "bbbbbbbb-0000-4000-8000-000000000002"
	roleCall       = "TeamsTelephoneNumber.ReadWrite.All"
	roleOrg        = "Organization.Read.All"
)

var start = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func newWorld(t *testing.T, maxAttempts int) *world {
	t.Helper()
	w := &world{store: newStore(t), clock: &clock{now: start}, linkKey: &countingKey{},
		formKey: &rotatingKey{cur: []byte("form-key-form-key-form-key-form-key!")}, logs: &bytes.Buffer{},
		ms: &identity{codes: map[string]codeGrant{}, grants: map[string]wizard.Grant{},
			device: wizard.DeviceCode{DeviceCode: "device-code-secret", UserCode: "ABCD2345", VerificationURI: "https://login.example/devicelogin",
				Interval: 5 * time.Second, ExpiresIn: 15 * time.Minute}}}
	w.pub = &publisher{store: w.store}
	var err error
	if w.signer, err = link.NewSigner(w.linkKey, "https://portal.example"); err != nil {
		t.Fatal(err)
	}
	w.svc, err = wizard.New(wizard.Config{Store: w.store, Identity: w.ms, Sealer: sealer{}, Links: w.signer,
		FormKeys: w.formKey, Clock: w.clock,
		Logger:        slog.New(slog.NewTextHandler(&syncWriter{w: w.logs}, nil)),
		RequiredRoles: []string{roleCall, roleOrg}, MaxAttempts: maxAttempts})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// syncWriter lets concurrent requests log into one buffer.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// invite stores a live invitation, as the Portal creates it, and returns
// its link token.
func (w *world) invite(t *testing.T, id string) string {
	t.Helper()
	w.store.SetInvitation(upgrade.Invitation{ID: id, OperatorID: "op", CustomerID: "cust", UpgradeID: "up", ServiceID: "svc",
		Status: upgrade.InvitationPending, Generation: 1, CreatedAt: start, ExpiresAt: start.Add(7 * 24 * time.Hour),
		CustomerName: "Contoso", ServiceName: "Contoso Teams", License: upgrade.Pro})
	return w.token(t, id)
}

// inviteLegacy stores a live invitation as it was stored before the
// Welcome page's names were copied onto it, and returns its link token.
func (w *world) inviteLegacy(t *testing.T, id string) string {
	t.Helper()
	w.store.SetInvitation(upgrade.Invitation{ID: id, OperatorID: "op", CustomerID: "cust", UpgradeID: "up", ServiceID: "svc",
		Status: upgrade.InvitationPending, Generation: 1, CreatedAt: start, ExpiresAt: start.Add(7 * 24 * time.Hour)})
	return w.token(t, id)
}

// token derives the current link token of an invitation.
func (w *world) token(t *testing.T, id string) string {
	t.Helper()
	tok, err := w.signer.Token(context.Background(), id, w.store.invitation(id).Generation)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// welcome opens the link in a browser with this binding and returns the
// form token its page carries.
func (w *world) welcome(t *testing.T, token, binding string) string {
	t.Helper()
	v, err := w.svc.Open(context.Background(), token, binding)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return v.FormToken
}

// signedIn walks "Sign in with Microsoft" for the invitation as an admin of
// tenant and returns the binding and form token of that browser.
func (w *world) signedIn(t *testing.T, token, tenant string) (binding, form string) {
	t.Helper()
	res, binding, form := w.signInAs(t, token, wizard.Tokens{TenantID: tenant, ObjectID: "oid-admin", UPN: "admin@" + tenant,
		RefreshToken: "refresh-secret-" + tenant, DirectoryRoles: adminRoles})
	if res.Redirect != "/invite/"+token {
		t.Fatalf("sign-in callback: %+v", res)
	}
	return binding, form
}

// signInAs opens the link in a new browser and signs in with Microsoft,
// which answers with tokens, and returns the callback's result.
func (w *world) signInAs(t *testing.T, token string, tokens wizard.Tokens) (res wizard.Result, binding, form string) {
	t.Helper()
	ctx := context.Background()
	binding = wizard.NewBinding()
	form = w.welcome(t, token, binding)
	res, err := w.svc.StartSignIn(ctx, token, binding, form)
	if err != nil || res.Redirect == "" {
		t.Fatalf("start sign-in: %+v, %v", res, err)
	}
	// Microsoft issues a code for the challenge of the request.
	code := "code-" + tokens.TenantID + "-" + tokens.ObjectID
	w.ms.mu.Lock()
	state := w.ms.authorize.Get("state")
	w.ms.codes[code] = codeGrant{challenge: w.ms.authorize.Get("code_challenge"), tokens: tokens}
	w.ms.mu.Unlock()
	res, err = w.svc.HandleCallback(ctx, wizard.Callback{State: state, Code: code}, binding)
	if err != nil {
		t.Fatalf("sign-in callback: %v", err)
	}
	return res, binding, form
}

// setCustomer changes the customer of these tests.
func (s *store) setCustomer(t *testing.T, f func(*upgrade.Customer)) {
	t.Helper()
	c, err := s.Store.GetCustomer(context.Background(), "op", "cust")
	if err != nil {
		t.Fatal(err)
	}
	f(&c)
	s.SetCustomer(c)
}

// adminRoles are the directory roles of the administrators who sign in.
var adminRoles = []string{wizard.GlobalAdministrator}
