package upgrade_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/upgrade/memory"
)

// pubRecorder reads the Invitation Created events of its store's outbox;
// newPortal gives it the portal's store.
type pubRecorder struct{ store *memory.Store }

func (p *pubRecorder) created() []event.InvitationCreated {
	return memory.Announced[event.InvitationCreated](p.store)
}

type fakeLinks struct{}

func (fakeLinks) URL(_ context.Context, id string, gen int) (string, error) {
	return fmt.Sprintf("https://x.example/invite/%s.g%d", id, gen), nil
}

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

// seqIDs hands out predictable ids; tokens repeat "TOKEN00000" for the first
// collisions count calls so that the retry on a token id clash is tested.
type seqIDs struct {
	mu         sync.Mutex
	n          int
	collisions int
}

func (s *seqIDs) NewID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprintf("id%04d", s.n)
}

func (s *seqIDs) NewTokenID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if s.collisions > 0 {
		s.collisions--
		return "TOKEN00000"
	}
	return fmt.Sprintf("T%09d", s.n)
}

func newPortal(t *testing.T, pub *pubRecorder, ids *seqIDs, c *clock) *upgrade.Portal {
	t.Helper()
	pub.store = memory.New()
	p, err := upgrade.NewPortal(upgrade.Deps{Store: pub.store, Links: fakeLinks{}, Clock: c, IDs: ids,
		InvitationTTL: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func input(short string) upgrade.StartUpgradeInput {
	return upgrade.StartUpgradeInput{ServiceFullName: "Contoso", ServiceShortName: short, LicenseType: "OC_PRO",
		LicensedUsers: 10, AdminEmail: "admin@contoso.com", SendInvitation: true}
}

func TestStartUpgrade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pub := &pubRecorder{}
	c := &clock{t0}
	p := newPortal(t, pub, &seqIDs{}, c)
	cust, err := p.CreateCustomer(ctx, "op", upgrade.CustomerInput{Name: " Contoso ", Kind: "LEAD"})
	if err != nil {
		t.Fatal(err)
	}
	if cust.Name != "Contoso" || cust.License != upgrade.Essentials {
		t.Errorf("customer = %+v", cust)
	}
	u, replayed, err := p.StartUpgrade(ctx, "op", cust.ID, input("svc1"))
	if err != nil || replayed {
		t.Fatalf("StartUpgrade = %v, %v", replayed, err)
	}
	if u.Invitation.Status != upgrade.InvitationPending || u.Service.Status != upgrade.ServicePendingAuthentication ||
		!u.Invitation.ExpiresAt.Equal(t0.Add(48*time.Hour)) || u.Invitation.AuthURL != "https://x.example/invite/"+u.Invitation.ID+".g1" {
		t.Errorf("upgrade = %+v", u)
	}
	if ev := pub.created(); len(ev) != 1 || ev[0].InvitationID != u.Invitation.ID || ev[0].UpgradeID != u.ID ||
		ev[0].ServiceID != u.Service.ID || ev[0].CustomerID != cust.ID || ev[0].OperatorID != "op" || ev[0].EventID == "" {
		t.Errorf("events %+v, want one Invitation Created of the upgrade", ev)
	}
	// The invitation keeps what its link's page shows.
	stored, err := p.GetInvitation(ctx, "op", u.Invitation.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []upgrade.Invitation{u.Invitation, stored} {
		if got.CustomerName != "Contoso" || got.ServiceName != "Contoso" || got.License != upgrade.Pro {
			t.Errorf("invitation copy = %q, %q, %s; want Contoso, Contoso, OC_PRO", got.CustomerName, got.ServiceName, got.License)
		}
	}
	// After expiry the link is not shown any more.
	c.t = t0.Add(49 * time.Hour)
	inv, err := p.GetInvitation(ctx, "op", u.Invitation.ID)
	if err != nil || inv.AuthURL != "" {
		t.Errorf("expired invitation shows %q, %v", inv.AuthURL, err)
	}
	if _, err := p.GetInvitation(ctx, "other", u.Invitation.ID); fault.KindOf(err) != fault.NotFound {
		t.Errorf("other operator's invitation: %v", err)
	}
}

// TestStartUpgradeAnnouncesInItsWrite: Invitation Created is written with
// the upgrade, in the same store call, and only then: a replay of the
// Idempotency-Key, a refused create and an upgrade without a mail write
// none.
func TestStartUpgradeAnnouncesInItsWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pub := &pubRecorder{}
	p := newPortal(t, pub, &seqIDs{}, &clock{t0})
	cust, err := p.CreateCustomer(ctx, "op", upgrade.CustomerInput{Name: "Contoso", Kind: "CUSTOMER"})
	if err != nil {
		t.Fatal(err)
	}
	in := input("svc1")
	in.IdempotencyKey = "key-1"
	if _, _, err := p.StartUpgrade(ctx, "op", cust.ID, in); err != nil {
		t.Fatal(err)
	}
	if _, replayed, err := p.StartUpgrade(ctx, "op", cust.ID, in); err != nil || !replayed {
		t.Fatalf("replay = %v, %v", replayed, err)
	}
	if _, _, err := p.StartUpgrade(ctx, "op", cust.ID, input("svc1")); fault.KindOf(err) != fault.Conflict {
		t.Fatalf("taken short name = %v", err)
	}
	quiet := input("svc2")
	quiet.SendInvitation = false
	if _, _, err := p.StartUpgrade(ctx, "op", cust.ID, quiet); err != nil {
		t.Fatal(err)
	}
	if n := len(pub.store.Outbox()); n != 1 {
		t.Errorf("%d events in the outbox, want the first create's alone", n)
	}
}

func TestStartUpgradeRetriesTokenIDCollision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ids := &seqIDs{}
	p := newPortal(t, &pubRecorder{}, ids, &clock{t0})
	cust, err := p.CreateCustomer(ctx, "op", upgrade.CustomerInput{Name: "Contoso", Kind: "CUSTOMER"})
	if err != nil {
		t.Fatal(err)
	}
	ids.collisions = 1
	if _, _, err := p.StartUpgrade(ctx, "op", cust.ID, input("svc1")); err != nil {
		t.Fatal(err)
	}
	ids.collisions = 2 // the first collides with the token above, the second is fresh
	u, _, err := p.StartUpgrade(ctx, "op", cust.ID, input("svc2"))
	if err != nil {
		t.Fatalf("second upgrade: %v", err)
	}
	if u.Invitation.TokenID == "TOKEN00000" {
		t.Error("token id collision was stored")
	}
}

func TestStartUpgradeErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newPortal(t, &pubRecorder{}, &seqIDs{}, &clock{t0})
	cust, err := p.CreateCustomer(ctx, "op", upgrade.CustomerInput{Name: "Contoso", Kind: "CUSTOMER"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.StartUpgrade(ctx, "op", cust.ID, input("taken")); err != nil {
		t.Fatal(err)
	}
	noMail := input("quiet")
	noMail.SendInvitation, noMail.AdminEmail = false, ""
	tests := []struct {
		name     string
		customer string
		in       upgrade.StartUpgradeInput
		kind     fault.Kind
		code     string
	}{
		{"unknown customer", "missing", input("new1"), fault.NotFound, ""},
		{"short name taken", cust.ID, input("TAKEN"), fault.Conflict, upgrade.CodeTaken},
		{"bad input is checked before the store", "missing", input("a.b"), fault.Invalid, upgrade.CodeForbiddenCharacter},
		{"no address needed without a mail", cust.ID, noMail, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := p.StartUpgrade(ctx, "op", tt.customer, tt.in)
			if tt.kind == -1 {
				if err != nil {
					t.Fatalf("StartUpgrade: %v", err)
				}
				return
			}
			if fault.KindOf(err) != tt.kind {
				t.Fatalf("kind = %v (%v), want %v", fault.KindOf(err), err, tt.kind)
			}
			if tt.code != "" && (len(fault.FieldsOf(err)) == 0 || fault.FieldsOf(err)[0].Code != tt.code) {
				t.Errorf("fields = %v, want code %s", fault.FieldsOf(err), tt.code)
			}
		})
	}
}

func TestDowngradeIsRefusedByTheStoreCondition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memory.New()
	p, err := upgrade.NewPortal(upgrade.Deps{Store: st, Links: fakeLinks{}, Clock: &clock{t0}, IDs: &seqIDs{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateCustomer(ctx, upgrade.Customer{ID: "pro", OperatorID: "op", Name: "P", Kind: upgrade.KindCustomer, License: upgrade.Pro, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	in := input("down")
	in.LicenseType = "OC_ESSENTIALS_PLUS"
	_, _, err = p.StartUpgrade(ctx, "op", "pro", in)
	if fault.KindOf(err) != fault.Unprocessable || fault.FieldsOf(err)[0].Code != upgrade.CodeDowngrade {
		t.Errorf("downgrade: %v", err)
	}
	_, _, err = p.StartUpgrade(ctx, "op", "pro", input("same"))
	if fault.KindOf(err) != fault.Unprocessable || fault.FieldsOf(err)[0].Code != upgrade.CodeSameLicense {
		t.Errorf("same licence: %v", err)
	}
}

func TestNewPortalChecksDependencies(t *testing.T) {
	t.Parallel()
	full := upgrade.Deps{Store: memory.New(), Links: fakeLinks{}, Clock: &clock{}, IDs: &seqIDs{}}
	tests := []struct {
		name   string
		change func(*upgrade.Deps)
	}{
		{"store", func(d *upgrade.Deps) { d.Store = nil }},
		{"links", func(d *upgrade.Deps) { d.Links = nil }},
		{"clock", func(d *upgrade.Deps) { d.Clock = nil }},
		{"ids", func(d *upgrade.Deps) { d.IDs = nil }},
		{"negative ttl", func(d *upgrade.Deps) { d.InvitationTTL = -time.Hour }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := full
			tt.change(&d)
			if _, err := upgrade.NewPortal(d); err == nil || !strings.Contains(err.Error(), "upgrade:") {
				t.Errorf("NewPortal() = %v", err)
			}
		})
	}
}

func TestRandomIDs(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id, tok := upgrade.RandomIDs{}.NewID(), upgrade.RandomIDs{}.NewTokenID()
		if len(id) != 26 || len(tok) != 10 || strings.ContainsAny(tok, "ILOU") || seen[id] {
			t.Fatalf("id %q token %q", id, tok)
		}
		seen[id] = true
	}
}
