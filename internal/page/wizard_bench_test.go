package page_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ocpro/upgrade/infra/bench"
	"github.com/ocpro/upgrade/infra/entra"
	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/identity"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/page"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

// The warm-path benchmarks of the public pages: each request
// goes through the page handler, the real wizard and the real DynamoDB
// store to DynamoDB Local; Microsoft is the in-process Entra emulator
// (infra/entra) behind the real identity adapter. Only KMS (a sealer that
// does nothing) and EventBridge (a publisher that drops) are faked.

const (
	benchOperator = "op-bench"
	benchClientID = "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
	benchSecret   = "bench-secret"
	benchBaseURL  = "http://127.0.0.1:3000"
)

// benchRoles are the application permissions consent must prove.
var benchRoles = []string{"Organization.Read.All"}

type staticSecret string

func (s staticSecret) ClientSecret(context.Context) (string, error) { return string(s), nil }

// clearSealer stands in for KMS; the benchmarked paths seal nothing the
// figures depend on.
type clearSealer struct{}

func (clearSealer) Seal(_ context.Context, p []byte, _ map[string]string) ([]byte, error) {
	return p, nil
}
func (clearSealer) Open(_ context.Context, b []byte, _ map[string]string) ([]byte, error) {
	return b, nil
}

// wizardBench is ConsentCallbackFunction's handler wired as its main wires
// it, on a DynamoDB client whose round trips and capacity are counted, and
// the portal that makes its fixtures.
type wizardBench struct {
	h       *page.Handler
	portal  *upgrade.Portal
	store   *store.Wizard
	links   *link.Signer
	counter *bench.DynamoCounter
	seq     atomic.Int64
}

func newWizardBench(tb testing.TB) *wizardBench {
	tb.Helper()
	base, table := testenv.DynamoDB(tb)
	counter := bench.NewDynamoCounter()
	st, err := store.NewWizard(dynamodb.New(base.Options(), counter.Options()), table)
	if err != nil {
		tb.Fatal(err)
	}
	links, err := link.NewSigner(link.StaticKey(strings.Repeat("k", 32)), benchBaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	em, err := entra.New(entra.Config{Apps: []entra.App{{ClientID: benchClientID, DisplayName: "Operator Connect",
		Secrets: []string{benchSecret}, MultiTenant: true, RedirectURIs: []string{benchBaseURL + "/consent/callback"},
		RequiredRoles: benchRoles, GroupMembershipClaims: "DirectoryRole"}}})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	authority, err := em.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if err := em.GrantAdminConsent(entra.ContosoTenantID, benchClientID); err != nil {
		tb.Fatal(err)
	}
	id, err := identity.New(identity.Config{AuthorityHost: authority, ClientID: benchClientID, Secret: staticSecret(benchSecret),
		RedirectURI: benchBaseURL + "/consent/callback", GraphBaseURL: authority, HTTPClient: em.Client()})
	if err != nil {
		tb.Fatal(err)
	}
	// A log line per request would be most of what a benchmark measures.
	quiet := slog.New(slog.DiscardHandler)
	clock := upgrade.SystemClock{}
	w, err := wizard.New(wizard.Config{Store: st, Identity: id, Sealer: clearSealer{}, Links: links,
		FormKeys: link.StaticKey(strings.Repeat("k", 32)), Clock: clock, Logger: quiet, RequiredRoles: benchRoles})
	if err != nil {
		tb.Fatal(err)
	}
	wb := &wizardBench{store: st, links: links, counter: counter}
	if wb.h, err = page.NewHandler(page.Config{Wizard: w, PublicBaseURL: benchBaseURL, AuthorityHost: authority,
		OperatorName: "Live Platform", Logger: quiet}); err != nil {
		tb.Fatal(err)
	}
	if wb.portal, err = upgrade.NewPortal(upgrade.Deps{Store: st.Store, Links: links, Clock: clock,
		IDs: upgrade.RandomIDs{}, Logger: quiet}); err != nil {
		tb.Fatal(err)
	}
	return wb
}

// invite makes a customer with an upgrade and returns its invitation
// (PENDING) and the link token the Welcome mail carries.
func (wb *wizardBench) invite(tb testing.TB) (upgrade.Invitation, string) {
	tb.Helper()
	return wb.inviteWith(tb, wb.portal)
}

// inviteWith is invite through portal, whose clock decides the
// invitation's expiry.
func (wb *wizardBench) inviteWith(tb testing.TB, portal *upgrade.Portal) (upgrade.Invitation, string) {
	tb.Helper()
	ctx := context.Background()
	n := wb.seq.Add(1)
	c, err := portal.CreateCustomer(ctx, benchOperator, upgrade.CustomerInput{Name: fmt.Sprintf("Customer %d", n), Kind: "CUSTOMER"})
	if err != nil {
		tb.Fatal(err)
	}
	u, _, err := portal.StartUpgrade(ctx, benchOperator, c.ID, upgrade.StartUpgradeInput{ServiceFullName: fmt.Sprintf("Teams Calling %d", n),
		ServiceShortName: fmt.Sprintf("svc-%d", n), LicenseType: string(upgrade.Pro), LicensedUsers: 1,
		AdminEmail: "it@contoso.example", SendInvitation: true})
	if err != nil {
		tb.Fatal(err)
	}
	token, err := wb.links.Token(ctx, u.Invitation.ID, u.Invitation.Generation)
	if err != nil {
		tb.Fatal(err)
	}
	return u.Invitation, token
}

// consentReturn prepares what Microsoft's return from admin consent finds:
// an invitation whose administrator signed in (TOKEN_ACQUIRED, Contoso)
// and the one-time consent state bound to this browser. It returns the
// callback request.
func (wb *wizardBench) consentReturn(tb testing.TB) events.APIGatewayV2HTTPRequest {
	tb.Helper()
	ctx := context.Background()
	inv, _ := wb.invite(tb)
	now := time.Now().UTC()
	err := wb.store.TransitionInvitation(ctx, wizard.Transition{InvitationID: inv.ID, OperatorID: benchOperator, At: now, Generation: inv.Generation,
		To:       upgrade.InvitationTokenAcquired,
		TenantID: entra.ContosoTenantID, UPN: "admin@contoso.example", ObjectID: "oid-bench"})
	if err != nil {
		tb.Fatal(err)
	}
	state, binding := wizard.NewBinding(), wizard.NewBinding()
	err = wb.store.PutState(ctx, wizard.State{Hash: wizard.Hash(state), InvitationID: inv.ID, Purpose: wizard.PurposeConsent,
		BindingHash: wizard.Hash(binding), TenantID: entra.ContosoTenantID, ExpiresAt: now.Add(wizard.DefaultStateTTL)})
	if err != nil {
		tb.Fatal(err)
	}
	return events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "GET /consent/callback", RawPath: "/consent/callback",
		QueryStringParameters: map[string]string{"admin_consent": "True", "tenant": entra.ContosoTenantID, "state": state},
		Cookies:               []string{"ocpro-binding=" + binding}, Headers: map[string]string{}}
}

func openRequest(token string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "GET /invite/{token}", RawPath: "/invite/" + token,
		PathParameters: map[string]string{"token": token}, Headers: map[string]string{}}
}

// BenchmarkOpenLink is GET /invite/{token}: the administrator (or a mail
// scanner) opens the emailed link of a pending invitation.
func BenchmarkOpenLink(b *testing.B) {
	wb := newWizardBench(b)
	_, token := wb.invite(b)
	req := openRequest(token)
	ctx := context.Background()
	if res, err := wb.h.Handle(ctx, req); err != nil || res.StatusCode != http.StatusOK {
		b.Fatalf("open link: %d %v", res.StatusCode, err)
	}
	b.ReportAllocs()
	wb.counter.Reset()
	b.ResetTimer()
	for b.Loop() {
		if res, err := wb.h.Handle(ctx, req); err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("open link: %d %v", res.StatusCode, err)
		}
	}
	wb.counter.Report(b, b.N)
}

// BenchmarkConsentCallback is GET /consent/callback on Microsoft's return
// from a granted admin consent: take the state, read the invitation, prove
// the consent with an application token from the emulator and record
// AUTHENTICATION_COMPLETE. Each iteration has an invitation and a state of
// its own, made before the timer. MSAL keeps the application token of the
// tenant after the first iteration, as a warm Lambda does.
func BenchmarkConsentCallback(b *testing.B) {
	wb := newWizardBench(b)
	reqs := make([]events.APIGatewayV2HTTPRequest, b.N)
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 4 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < b.N && !b.Failed(); i = int(next.Add(1)) - 1 {
				reqs[i] = wb.consentReturn(b)
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	ctx := context.Background()
	b.ReportAllocs()
	wb.counter.Reset()
	b.ResetTimer()
	for i := range b.N {
		res, err := wb.h.Handle(ctx, reqs[i])
		if err != nil || res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "Tenant Activation") {
			b.Fatalf("consent callback: %d %v: %s", res.StatusCode, err, res.Body)
		}
	}
	b.StopTimer()
	wb.counter.Report(b, b.N)
}

// pastClock is a clock stopped at a time gone by.
type pastClock struct{ at time.Time }

func (c pastClock) Now() time.Time { return c.at }

// transitions moves an invitation through the statuses in order, as the
// wizard (or the portal, for REVOKED) would.
func (wb *wizardBench) transitions(tb testing.TB, inv upgrade.Invitation, to ...upgrade.InvitationStatus) {
	tb.Helper()
	from := inv.Status
	for _, s := range to {
		err := wb.store.TransitionInvitation(context.Background(), wizard.Transition{InvitationID: inv.ID, OperatorID: benchOperator, Generation: inv.Generation,
			At: time.Now().UTC(), To: s, TenantID: entra.ContosoTenantID,
			UPN: "admin@contoso.example", ObjectID: "oid-bench"})
		if err != nil {
			tb.Fatalf("%s -> %s: %v", from, s, err)
		}
		from = s
	}
}

// TestOpenLinkOnlyReads holds GET /invite/{token} to its target: one
// GetItem (the invitation, which carries what the page shows) and no
// write, so that a mail scanner that follows the link changes nothing. A
// link that does not work, whatever the reason, costs exactly the same:
// the work done tells nothing about the link.
func TestOpenLinkOnlyReads(t *testing.T) {
	t.Parallel()
	wb := newWizardBench(t)
	past, err := upgrade.NewPortal(upgrade.Deps{Store: wb.store.Store, Links: wb.links,
		Clock: pastClock{time.Now().Add(-upgrade.DefaultInvitationTTL - time.Hour)}, IDs: upgrade.RandomIDs{},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		// link returns the token to open.
		link   func(t *testing.T) string
		status int
		// text is on the page.
		text string
	}{
		{"live", func(t *testing.T) string { _, tok := wb.invite(t); return tok }, http.StatusOK, "Teams Calling"},
		{"live, signed in", func(t *testing.T) string {
			inv, tok := wb.invite(t)
			wb.transitions(t, inv, upgrade.InvitationTokenAcquired)
			return tok
		}, http.StatusOK, "admin@contoso.example"},
		{"unknown id", func(t *testing.T) string {
			tok, err := wb.links.Token(context.Background(), "no-such-invitation", 1)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, http.StatusNotFound, ""},
		{"expired", func(t *testing.T) string { _, tok := wb.inviteWith(t, past); return tok }, http.StatusNotFound, ""},
		{"revoked", func(t *testing.T) string {
			inv, tok := wb.invite(t)
			wb.transitions(t, inv, upgrade.InvitationRevoked)
			return tok
		}, http.StatusNotFound, ""},
		{"used", func(t *testing.T) string {
			inv, tok := wb.invite(t)
			wb.transitions(t, inv, upgrade.InvitationTokenAcquired, upgrade.InvitationAuthenticationComplete)
			return tok
		}, http.StatusNotFound, ""},
	}
	var neutral string
	for _, tt := range tests {
		// Sequential: the cases share the counter of one client.
		t.Run(tt.name, func(t *testing.T) {
			token := tt.link(t)
			wb.counter.Reset()
			res, err := wb.h.Handle(context.Background(), openRequest(token))
			if err != nil || res.StatusCode != tt.status || !strings.Contains(res.Body, tt.text) {
				t.Fatalf("open link: %d %v, want %d with %q: %s", res.StatusCode, err, tt.status, tt.text, res.Body)
			}
			if calls := wb.counter.Calls(); calls["GetItem"] != 1 || wb.counter.RoundTrips() != 1 {
				t.Errorf("round trips %v, want one GetItem", calls)
			}
			// Strongly consistent: a regenerate or a revoke must kill
			// the link at once, not once a replica has seen it.
			if r := wb.counter.ReadCapacity(); r != 1 {
				t.Errorf("consumed %v read units, want 1 (one strongly consistent read)", r)
			}
			if w := wb.counter.WriteCapacity(); w != 0 {
				t.Errorf("consumed %v write units, want none", w)
			}
			if tt.status == http.StatusNotFound {
				if neutral == "" {
					neutral = res.Body
				} else if res.Body != neutral {
					t.Errorf("a dead link's page differs from another's:\n%s\nwant\n%s", res.Body, neutral)
				}
			}
		})
	}
}
