// Package storetest is the contract every upgrade.Store must meet. The same
// suite runs against the in-memory store and against the DynamoDB store on
// DynamoDB Local, so the fake the domain tests use cannot drift from the
// real thing.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// NewStore returns an empty store for one test.
type NewStore func(t *testing.T) upgrade.Store

// Run runs the contract suite.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s upgrade.Store)
	}{
		{"CustomerRoundTrip", testCustomerRoundTrip},
		{"OperatorIsolation", testOperatorIsolation},
		{"ListCustomersPages", testListCustomersPages},
		{"BadCursor", testBadCursor},
		{"CreateUpgrade", testCreateUpgrade},
		{"CreateUpgradeRefusals", testCreateUpgradeRefusals},
		{"Idempotency", testIdempotency},
		{"ConcurrentShortName", testConcurrentShortName},
		{"ConcurrentIdempotencyKey", testConcurrentIdempotencyKey},
		{"ListInvitationsFilters", testListInvitationsFilters},
		{"UpdateInvitationAnnounces", testUpdateInvitationAnnounces},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

var base = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

var seq struct {
	sync.Mutex
	n int
}

// ID returns a unique id, so that tests sharing a table never collide; the
// other contract suites use it too.
func ID(prefix string) string {
	seq.Lock()
	defer seq.Unlock()
	seq.n++
	return fmt.Sprintf("%s%d%d", prefix, time.Now().UnixNano()%1e9, seq.n)
}

func customer(op string, created time.Time) upgrade.Customer {
	return upgrade.Customer{ID: ID("c"), OperatorID: op, Name: "Contoso", Kind: upgrade.KindCustomer,
		Domain: "contoso.com", License: upgrade.Essentials, CreatedAt: created}
}

func newUpgrade(c upgrade.Customer, shortName string, users int, license upgrade.License) upgrade.Creation {
	now := base
	u := upgrade.Upgrade{ID: ID("u"), OperatorID: c.OperatorID, CustomerID: c.ID, Status: upgrade.UpgradePendingAuthentication, CreatedAt: now}
	u.Service = upgrade.Service{ID: ID("s"), CustomerID: c.ID, FullName: "Contoso Calling", ShortName: shortName,
		License: license, LicensedUsers: users, Status: upgrade.ServicePendingAuthentication, CreatedAt: now}
	u.Invitation = upgrade.Invitation{ID: ID("i"), OperatorID: c.OperatorID, CustomerID: c.ID, UpgradeID: u.ID, ServiceID: u.Service.ID,
		TokenID: strings.ToUpper(ID("T")), Status: upgrade.InvitationPending, AdminEmail: "admin@contoso.com", SendInvitation: true,
		Generation: 1, CreatedAt: now, ExpiresAt: now.Add(168 * time.Hour),
		CustomerName: c.Name, ServiceName: u.Service.FullName, License: license}
	// The Welcome mail's request, as the portal hands it in.
	ms, err := upgrade.Announce(upgrade.InvitationCreatedEvent(u))
	if err != nil {
		panic(err)
	}
	return upgrade.Creation{Upgrade: u, Events: ms}
}

func mustCustomer(t *testing.T, s upgrade.Store, c upgrade.Customer) upgrade.Customer {
	t.Helper()
	if err := s.CreateCustomer(context.Background(), c); err != nil {
		t.Fatalf("CreateCustomer: %v", err)
	}
	return c
}

func mustUpgrade(t *testing.T, s upgrade.Store, n upgrade.Creation) upgrade.Upgrade {
	t.Helper()
	u, _, err := s.CreateUpgrade(context.Background(), n)
	if err != nil {
		t.Fatalf("CreateUpgrade: %v", err)
	}
	return u
}

func testCustomerRoundTrip(t *testing.T, s upgrade.Store) {
	ctx := context.Background()
	c := mustCustomer(t, s, customer(ID("op"), base))
	got, err := s.GetCustomer(ctx, c.OperatorID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(c.CreatedAt) || got.Name != c.Name || got.Kind != c.Kind || got.Domain != c.Domain || got.License != c.License || got.ID != c.ID {
		t.Errorf("GetCustomer = %+v, want %+v", got, c)
	}
	if _, err := s.GetCustomer(ctx, c.OperatorID, "missing"); !errors.Is(err, upgrade.ErrNotFound) {
		t.Errorf("GetCustomer(missing) error = %v, want ErrNotFound", err)
	}
}

func testOperatorIsolation(t *testing.T, s upgrade.Store) {
	ctx := context.Background()
	a, b := ID("opa"), ID("opb")
	c := mustCustomer(t, s, customer(a, base))
	u := mustUpgrade(t, s, newUpgrade(c, "iso", 10, upgrade.Pro))

	if _, err := s.GetCustomer(ctx, b, c.ID); !errors.Is(err, upgrade.ErrNotFound) {
		t.Errorf("GetCustomer from other operator: %v", err)
	}
	if _, err := s.GetUpgrade(ctx, b, u.ID); !errors.Is(err, upgrade.ErrNotFound) {
		t.Errorf("GetUpgrade from other operator: %v", err)
	}
	// Another operator cannot start an upgrade on this customer, and may use
	// the same short name for its own customers.
	n := newUpgrade(c, "iso2", 10, upgrade.Pro)
	n.Upgrade.OperatorID = b
	if _, _, err := s.CreateUpgrade(ctx, n); !errors.Is(err, upgrade.ErrNotFound) {
		t.Errorf("CreateUpgrade on other operator's customer: %v", err)
	}
	mustUpgrade(t, s, newUpgrade(mustCustomer(t, s, customer(b, base)), "iso", 10, upgrade.Pro))

	cl, err := s.ListCustomers(ctx, b, upgrade.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	ul, err := s.ListUpgrades(ctx, b, upgrade.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	il, err := s.ListInvitations(ctx, b, upgrade.InvitationFilter{}, upgrade.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.Items) != 1 || len(ul.Items) != 1 || len(il.Items) != 1 {
		t.Fatalf("operator b sees %d customers, %d upgrades, %d invitations; want 1 each", len(cl.Items), len(ul.Items), len(il.Items))
	}
	if cl.Items[0].OperatorID != b || ul.Items[0].OperatorID != b || il.Items[0].OperatorID != b {
		t.Error("operator b's lists hold operator a's records")
	}
}

func testListCustomersPages(t *testing.T, s upgrade.Store) {
	ctx := context.Background()
	op := ID("op")
	var want []string
	for i := range 5 {
		c := mustCustomer(t, s, customer(op, base.Add(time.Duration(i)*time.Second)))
		want = append([]string{c.ID}, want...) // newest first
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		l, err := s.ListCustomers(ctx, op, upgrade.Page{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) > 2 {
			t.Fatalf("page of %d items, limit 2", len(l.Items))
		}
		for _, c := range l.Items {
			got = append(got, c.ID)
		}
		if l.NextCursor == "" {
			break
		}
		cursor = l.NextCursor
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("pages = %v, want %v", got, want)
	}
}

func testBadCursor(t *testing.T, s upgrade.Store) {
	ctx := context.Background()
	op := ID("op")
	for i := range 3 {
		mustCustomer(t, s, customer(op, base.Add(time.Duration(i)*time.Second)))
	}
	l, err := s.ListCustomers(ctx, op, upgrade.Page{Limit: 1})
	if err != nil || l.NextCursor == "" {
		t.Fatalf("first page: %v, cursor %q", err, l.NextCursor)
	}
	for name, cursor := range map[string]string{
		"garbage":            "!!!not-base64!!!",
		"base64 of nonsense": "bm9uc2Vuc2U",
	} {
		if _, err := s.ListCustomers(ctx, op, upgrade.Page{Limit: 1, Cursor: cursor}); !errors.Is(err, upgrade.ErrBadCursor) {
			t.Errorf("%s cursor: error = %v, want ErrBadCursor", name, err)
		}
	}
	if _, err := s.ListUpgrades(ctx, op, upgrade.Page{Limit: 1, Cursor: l.NextCursor}); err != nil && !errors.Is(err, upgrade.ErrBadCursor) {
		t.Errorf("customer cursor on upgrades: error = %v, want nil or ErrBadCursor", err)
	}
}

func testCreateUpgrade(t *testing.T, s upgrade.Store) {
	ctx := context.Background()
	c := mustCustomer(t, s, customer(ID("op"), base))
	n := newUpgrade(c, "Contoso-1", 120, upgrade.Pro)
	u, replayed, err := s.CreateUpgrade(ctx, n)
	if err != nil || replayed {
		t.Fatalf("CreateUpgrade = replayed %v, %v", replayed, err)
	}
	got, err := s.GetUpgrade(ctx, c.OperatorID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Service.ShortName != "Contoso-1" || got.Service.LicensedUsers != 120 || got.Service.License != upgrade.Pro ||
		got.Status != upgrade.UpgradePendingAuthentication || got.Invitation.ID != n.Upgrade.Invitation.ID || !got.CreatedAt.Equal(base) {
		t.Errorf("GetUpgrade = %+v", got)
	}
	inv, err := s.GetInvitation(ctx, n.Upgrade.Invitation.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := n.Upgrade.Invitation
	if inv.OperatorID != want.OperatorID || inv.TokenID != want.TokenID || inv.Status != upgrade.InvitationPending ||
		inv.Generation != 1 || inv.EmailSent || !inv.ExpiresAt.Equal(want.ExpiresAt) || inv.AdminEmail != want.AdminEmail || !inv.SendInvitation {
		t.Errorf("GetInvitation = %+v, want %+v", inv, want)
	}
	// The link's page is built from the invitation alone.
	if inv.CustomerName != "Contoso" || inv.ServiceName != "Contoso Calling" || inv.License != upgrade.Pro || inv.DeviceAttempt {
		t.Errorf("GetInvitation copy = %q, %q, %s, device %v; want Contoso, Contoso Calling, OC_PRO, false",
			inv.CustomerName, inv.ServiceName, inv.License, inv.DeviceAttempt)
	}
	cust, err := s.GetCustomer(ctx, c.OperatorID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cust.ReservedUsers != 120 {
		t.Errorf("ReservedUsers = %d, want 120", cust.ReservedUsers)
	}
	if !InOutbox(t, s, n.Events) {
		t.Error("the created upgrade's Invitation Created is not in the outbox")
	}
}

func testCreateUpgradeRefusals(t *testing.T, s upgrade.Store) {
	ctx := context.Background()
	op := ID("op")
	c := mustCustomer(t, s, customer(op, base))
	first := mustUpgrade(t, s, newUpgrade(c, "Taken", 400, upgrade.EssentialsPlus))
	pro := customer(op, base)
	pro.License = upgrade.Pro
	mustCustomer(t, s, pro)

	tokenClash := newUpgrade(c, "fresh", 1, upgrade.Pro)
	tokenClash.Upgrade.Invitation.TokenID = first.Invitation.TokenID
	unknown := newUpgrade(c, "other", 1, upgrade.Pro)
	unknown.Upgrade.CustomerID = "missing"

	tests := []struct {
		name  string
		n     upgrade.Creation
		check func(error) bool
	}{
		{"short name taken, other case (guide step 3)", newUpgrade(c, "tAKEN", 1, upgrade.Pro), func(e error) bool { return errors.Is(e, upgrade.ErrShortNameTaken) }},
		{"over 500 users per customer (guide step 5)", newUpgrade(c, "more", 101, upgrade.Pro), func(e error) bool {
			var ue *upgrade.UserLimitError
			return errors.As(e, &ue) && ue.Reserved == 400
		}},
		{"same licence", newUpgrade(pro, "same", 1, upgrade.Pro), func(e error) bool {
			var le *upgrade.LicenseError
			return errors.As(e, &le) && le.Current == upgrade.Pro
		}},
		{"downgrade", newUpgrade(pro, "down", 1, upgrade.EssentialsPlus), func(e error) bool {
			var le *upgrade.LicenseError
			return errors.As(e, &le) && le.Current == upgrade.Pro
		}},
		{"unknown customer", unknown, func(e error) bool { return errors.Is(e, upgrade.ErrNotFound) }},
		{"token id taken", tokenClash, func(e error) bool { return errors.Is(e, upgrade.ErrTokenIDTaken) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.CreateUpgrade(ctx, tt.n)
			if !tt.check(err) {
				t.Fatalf("CreateUpgrade error = %v (%T)", err, err)
			}
			if _, err := s.GetUpgrade(ctx, op, tt.n.Upgrade.ID); !errors.Is(err, upgrade.ErrNotFound) {
				t.Errorf("refused upgrade was stored: %v", err)
			}
			if _, err := s.GetInvitation(ctx, tt.n.Upgrade.Invitation.ID); !errors.Is(err, upgrade.ErrNotFound) {
				t.Errorf("refused invitation was stored: %v", err)
			}
			if InOutbox(t, s, tt.n.Events) {
				t.Error("a refused upgrade wrote its event")
			}
		})
	}
	got, err := s.GetCustomer(ctx, op, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ReservedUsers != 400 {
		t.Errorf("ReservedUsers = %d after refusals, want 400", got.ReservedUsers)
	}
	// Exactly up to the limit is allowed.
	mustUpgrade(t, s, newUpgrade(c, "last", 100, upgrade.Pro))
}

func testIdempotency(t *testing.T, s upgrade.Store) {
	ctx := context.Background()
	op := ID("op")
	c := mustCustomer(t, s, customer(op, base))
	n := newUpgrade(c, "idem", 10, upgrade.Pro)
	n.IdempotencyKey, n.RequestHash, n.IdempotencyExpiresAt = "key-1", "hash-a", base.Add(24*time.Hour)
	first := mustUpgrade(t, s, n)

	retry := newUpgrade(c, "idem", 10, upgrade.Pro) // new ids, as a retried request would make
	retry.IdempotencyKey, retry.RequestHash, retry.IdempotencyExpiresAt = "key-1", "hash-a", base.Add(24*time.Hour)
	got, replayed, err := s.CreateUpgrade(ctx, retry)
	if err != nil || !replayed {
		t.Fatalf("retry: replayed %v, %v", replayed, err)
	}
	if got.ID != first.ID || got.Invitation.ID != first.Invitation.ID || got.Invitation.TokenID != first.Invitation.TokenID ||
		got.Service.ShortName != "idem" || !got.CreatedAt.Equal(first.CreatedAt) || !got.Invitation.ExpiresAt.Equal(first.Invitation.ExpiresAt) {
		t.Errorf("replay = %+v, want %+v", got, first)
	}
	if !InOutbox(t, s, n.Events) || InOutbox(t, s, retry.Events) {
		t.Error("want the first request's event in the outbox and not the replay's")
	}

	other := newUpgrade(c, "idem-b", 10, upgrade.Pro)
	other.IdempotencyKey, other.RequestHash, other.IdempotencyExpiresAt = "key-1", "hash-b", base.Add(24*time.Hour)
	if _, _, err := s.CreateUpgrade(ctx, other); !errors.Is(err, upgrade.ErrIdempotencyKeyReused) {
		t.Errorf("reused key: error = %v", err)
	}
	l, err := s.ListUpgrades(ctx, op, upgrade.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 1 {
		t.Errorf("%d upgrades stored, want 1", len(l.Items))
	}

	// Keys are per operator.
	c2 := mustCustomer(t, s, customer(ID("op"), base))
	n2 := newUpgrade(c2, "idem", 10, upgrade.Pro)
	n2.IdempotencyKey, n2.RequestHash, n2.IdempotencyExpiresAt = "key-1", "hash-a", base.Add(24*time.Hour)
	if _, replayed, err := s.CreateUpgrade(ctx, n2); err != nil || replayed {
		t.Errorf("same key, other operator: replayed %v, %v", replayed, err)
	}
}

func testConcurrentShortName(t *testing.T, s upgrade.Store) {
	ctx := context.Background()
	op := ID("op")
	const n = 6
	var customers []upgrade.Customer
	for range n {
		customers = append(customers, mustCustomer(t, s, customer(op, base)))
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, _, errs[i] = s.CreateUpgrade(ctx, newUpgrade(customers[i], "Race", 5, upgrade.Pro)) })
	}
	wg.Wait()
	var won, taken int
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, upgrade.ErrShortNameTaken):
			taken++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 || taken != n-1 {
		t.Errorf("%d created and %d refused as taken, want 1 and %d", won, taken, n-1)
	}
}

func testConcurrentIdempotencyKey(t *testing.T, s upgrade.Store) {
	ctx := context.Background()
	op := ID("op")
	c := mustCustomer(t, s, customer(op, base))
	const n = 5
	ups := make([]upgrade.Upgrade, n)
	replays := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := newUpgrade(c, "same", 10, upgrade.Pro)
			r.IdempotencyKey, r.RequestHash, r.IdempotencyExpiresAt = "k", "h", base.Add(time.Hour)
			ups[i], replays[i], errs[i] = s.CreateUpgrade(ctx, r)
		})
	}
	wg.Wait()
	fresh := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if !replays[i] {
			fresh++
		}
		if ups[i].ID != ups[0].ID {
			t.Errorf("request %d got upgrade %s, request 0 got %s", i, ups[i].ID, ups[0].ID)
		}
	}
	if fresh != 1 {
		t.Errorf("%d requests created an upgrade, want 1", fresh)
	}
	got, err := s.GetCustomer(ctx, op, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ReservedUsers != 10 {
		t.Errorf("ReservedUsers = %d, want 10", got.ReservedUsers)
	}
}

func testListInvitationsFilters(t *testing.T, s upgrade.Store) {
	ctx := context.Background()
	op := ID("op")
	c1 := mustCustomer(t, s, customer(op, base))
	c2 := mustCustomer(t, s, customer(op, base))
	var invs []upgrade.Invitation
	for i, c := range []upgrade.Customer{c1, c1, c1, c2} {
		n := newUpgrade(c, fmt.Sprintf("f%d", i), 1, upgrade.Pro)
		n.Upgrade.Invitation.CreatedAt = base.Add(time.Duration(i) * time.Minute)
		invs = append(invs, mustUpgrade(t, s, n).Invitation)
	}
	ids := func(l upgrade.List[upgrade.Invitation]) string {
		var out []string
		for _, inv := range l.Items {
			out = append(out, inv.ID)
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		name   string
		filter upgrade.InvitationFilter
		want   []upgrade.Invitation
	}{
		{"all, newest first", upgrade.InvitationFilter{}, []upgrade.Invitation{invs[3], invs[2], invs[1], invs[0]}},
		{"by customer", upgrade.InvitationFilter{CustomerID: c1.ID}, []upgrade.Invitation{invs[2], invs[1], invs[0]}},
		{"by status", upgrade.InvitationFilter{Status: upgrade.InvitationPending}, []upgrade.Invitation{invs[3], invs[2], invs[1], invs[0]}},
		{"by status none", upgrade.InvitationFilter{Status: upgrade.InvitationExpired}, nil},
		{"by token id (guide step 8)", upgrade.InvitationFilter{TokenID: invs[1].TokenID}, []upgrade.Invitation{invs[1]}},
		{"token id of another customer", upgrade.InvitationFilter{TokenID: invs[3].TokenID, CustomerID: c1.ID}, nil},
		{"customer and status", upgrade.InvitationFilter{CustomerID: c2.ID, Status: upgrade.InvitationPending}, []upgrade.Invitation{invs[3]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var all []upgrade.Invitation
			cursor := ""
			for range 10 {
				l, err := s.ListInvitations(ctx, op, tt.filter, upgrade.Page{Limit: 2, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, l.Items...)
				if cursor = l.NextCursor; cursor == "" {
					break
				}
			}
			if got, want := ids(upgrade.List[upgrade.Invitation]{Items: all}), ids(upgrade.List[upgrade.Invitation]{Items: tt.want}); got != want {
				t.Errorf("ListInvitations(%+v) = %s, want %s", tt.filter, got, want)
			}
		})
	}
}
