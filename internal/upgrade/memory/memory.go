// Package memory is an in-memory upgrade.Store for domain and handler tests.
// It passes the same contract suite (package storetest) as the DynamoDB
// store, so tests that use it exercise the behaviour production relies on.
package memory

import (
	"cmp"
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

type idem struct {
	hash    string
	upgrade upgrade.Upgrade
}

// Store is an in-memory upgrade.Store, safe for concurrent use.
type Store struct {
	mu          sync.Mutex
	customers   map[string]upgrade.Customer // by id
	upgrades    map[string]upgrade.Upgrade
	invitations map[string]upgrade.Invitation
	shortNames  map[string]bool // operator + "/" + lower-case name
	tokenIDs    map[string]bool // operator + "/" + token id
	idempotency map[string]idem // operator + "/" + key
	// sips and connections are the finished upgrades' records (services.go, m365.go).
	sips        map[string][]upgrade.SIPConnection // by service id
	connections map[string]connection              // operator + "/" + customer id
	// attempts, states and credentials are the consent wizard's records
	// (wizard.go), by invitation id and, for states, by hash.
	attempts    map[string]wizard.Attempt
	states      map[string]wizard.State
	credentials map[string]wizard.Credential
	// outbox holds the events the changes wrote (outbox.go).
	outbox []event.Message
}

var _ upgrade.Store = (*Store)(nil)

// New returns an empty Store.
func New() *Store {
	return &Store{
		customers: map[string]upgrade.Customer{}, upgrades: map[string]upgrade.Upgrade{},
		invitations: map[string]upgrade.Invitation{}, shortNames: map[string]bool{},
		tokenIDs: map[string]bool{}, idempotency: map[string]idem{},
		sips: map[string][]upgrade.SIPConnection{}, connections: map[string]connection{},
		attempts: map[string]wizard.Attempt{}, states: map[string]wizard.State{}, credentials: map[string]wizard.Credential{},
	}
}

// CreateCustomer implements upgrade.Store.
func (s *Store) CreateCustomer(_ context.Context, c upgrade.Customer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.customers[c.ID] = c
	return nil
}

// GetCustomer implements upgrade.Store.
func (s *Store) GetCustomer(_ context.Context, operatorID, id string) (upgrade.Customer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[id]
	if !ok || c.OperatorID != operatorID {
		return upgrade.Customer{}, upgrade.ErrNotFound
	}
	return c, nil
}

// ListCustomers implements upgrade.Store.
func (s *Store) ListCustomers(_ context.Context, operatorID string, p upgrade.Page) (upgrade.List[upgrade.Customer], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []upgrade.Customer
	for _, c := range s.customers {
		if c.OperatorID == operatorID {
			all = append(all, c)
		}
	}
	return page(all, p, func(c upgrade.Customer) (time.Time, string) { return c.CreatedAt, c.ID })
}

// CreateUpgrade implements upgrade.Store: every check happens under one lock,
// so it is as atomic as the DynamoDB transaction.
func (s *Store) CreateUpgrade(_ context.Context, n upgrade.Creation) (upgrade.Upgrade, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := n.Upgrade
	op := u.OperatorID
	if n.IdempotencyKey != "" {
		if prev, ok := s.idempotency[op+"/"+n.IdempotencyKey]; ok {
			if prev.hash != n.RequestHash {
				return upgrade.Upgrade{}, false, upgrade.ErrIdempotencyKeyReused
			}
			return prev.upgrade, true, nil
		}
	}
	c, ok := s.customers[u.CustomerID]
	if !ok || c.OperatorID != op {
		return upgrade.Upgrade{}, false, upgrade.ErrNotFound
	}
	if err := upgrade.CustomerRefusal(c.License, c.ReservedUsers, u.Service.License, u.Service.LicensedUsers); err != nil {
		return upgrade.Upgrade{}, false, err
	}
	nameKey := op + "/" + strings.ToLower(u.Service.ShortName)
	if s.shortNames[nameKey] {
		return upgrade.Upgrade{}, false, upgrade.ErrShortNameTaken
	}
	tokenKey := op + "/" + u.Invitation.TokenID
	if s.tokenIDs[tokenKey] {
		return upgrade.Upgrade{}, false, upgrade.ErrTokenIDTaken
	}
	if err := s.checkEvents(n.Events); err != nil {
		return upgrade.Upgrade{}, false, err
	}
	_ = s.addEvents(n.Events) // checked above
	c.ReservedUsers += u.Service.LicensedUsers
	s.customers[c.ID] = c
	s.shortNames[nameKey] = true
	s.tokenIDs[tokenKey] = true
	u.Invitation.AuthURL = ""
	s.upgrades[u.ID] = u
	s.invitations[u.Invitation.ID] = u.Invitation
	if n.IdempotencyKey != "" {
		s.idempotency[op+"/"+n.IdempotencyKey] = idem{hash: n.RequestHash, upgrade: u}
	}
	return u, false, nil
}

// GetUpgrade implements upgrade.Store.
func (s *Store) GetUpgrade(_ context.Context, operatorID, id string) (upgrade.Upgrade, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.upgrades[id]
	if !ok || u.OperatorID != operatorID {
		return upgrade.Upgrade{}, upgrade.ErrNotFound
	}
	return u, nil
}

// ListUpgrades implements upgrade.Store.
func (s *Store) ListUpgrades(_ context.Context, operatorID string, p upgrade.Page) (upgrade.List[upgrade.Upgrade], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []upgrade.Upgrade
	for _, u := range s.upgrades {
		if u.OperatorID == operatorID {
			all = append(all, u)
		}
	}
	return page(all, p, func(u upgrade.Upgrade) (time.Time, string) { return u.CreatedAt, u.ID })
}

// GetInvitation implements upgrade.Store.
func (s *Store) GetInvitation(_ context.Context, id string) (upgrade.Invitation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.invitations[id]
	if !ok {
		return upgrade.Invitation{}, upgrade.ErrNotFound
	}
	return inv, nil
}

// ListInvitations implements upgrade.Store.
func (s *Store) ListInvitations(_ context.Context, operatorID string, f upgrade.InvitationFilter, p upgrade.Page) (upgrade.List[upgrade.Invitation], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []upgrade.Invitation
	for _, inv := range s.invitations {
		if inv.OperatorID == operatorID &&
			(f.Status == "" || inv.Status == f.Status) &&
			(f.CustomerID == "" || inv.CustomerID == f.CustomerID) &&
			(f.TokenID == "" || inv.TokenID == f.TokenID) {
			all = append(all, inv)
		}
	}
	return page(all, p, func(i upgrade.Invitation) (time.Time, string) { return i.CreatedAt, i.ID })
}

// SetInvitation replaces an invitation, for tests that need a state other
// writers produce (expired, revoked, mailed).
func (s *Store) SetInvitation(inv upgrade.Invitation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invitations[inv.ID] = inv
}

// SetCustomer replaces a customer, for tests that need one as another
// writer left it (bound to a tenant, say).
func (s *Store) SetCustomer(c upgrade.Customer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.customers[c.ID] = c
}

// sortKey orders like the DynamoDB store's GSI sort keys.
func sortKey(t time.Time, id string) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z") + "#" + id
}

// page sorts items newest first and cuts the page after the cursor, which
// is the base64url sort key of the last item of the previous page.
func page[T any](items []T, p upgrade.Page, key func(T) (time.Time, string)) (upgrade.List[T], error) {
	sk := func(v T) string { return sortKey(key(v)) }
	slices.SortFunc(items, func(a, b T) int { return cmp.Compare(sk(b), sk(a)) })
	if p.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(p.Cursor)
		after := string(raw)
		if err != nil || !strings.Contains(after, "#") {
			return upgrade.List[T]{}, upgrade.ErrBadCursor
		}
		i := slices.IndexFunc(items, func(v T) bool { return sk(v) < after })
		if i < 0 {
			i = len(items)
		}
		items = items[i:]
	}
	limit := cmp.Or(p.Limit, upgrade.DefaultPageSize)
	var l upgrade.List[T]
	if len(items) > limit {
		items = items[:limit]
		l.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(sk(items[limit-1])))
	}
	l.Items = slices.Clone(items)
	return l, nil
}
