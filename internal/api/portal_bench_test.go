package api_test

import (
	"context"
	"encoding/json"
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
	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/api"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

// The warm-path benchmarks of the portal API: each request goes through the real
// handler, the real domain and the real DynamoDB store to DynamoDB Local.
// Only what is not DynamoDB is faked: the EventBridge publishers and the
// tenant validator (Microsoft), which answers "passed" at once, so that the
// figures are this service's own cost. Fixtures are made before the timer
// and the counter is reset after them, so rtt/op, rcu/op and wcu/op are the
// operation's alone.

// benchOperator owns every record of a benchmark; each benchmark has a
// table of its own.
const benchOperator = "op-bench"

// benchTenant is the customer tenant the fixtures consent with.
const benchTenant = "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b"

// passingValidator stands in for Microsoft: every tenant validates.
type passingValidator struct{}

func (passingValidator) Validate(_ context.Context, t upgrade.TenantRef) (upgrade.Validation, error) {
	return upgrade.Validation{At: time.Now().UTC(), TenantID: t.TenantID,
		Application: upgrade.CheckResult{Passed: true, TenantDomain: "contoso.example", Permissions: []string{"Organization.Read.All"}}}, nil
}

// portalBench is the portal API and the M365 routes wired as
// UpgradeRequestsFunction and TokenValidationFunction wire them, on a
// DynamoDB client whose round trips and capacity are counted.
type portalBench struct {
	portal  *api.Handler
	m365    *api.Handler
	svc     *upgrade.M365
	wizard  *store.Wizard
	counter *bench.DynamoCounter
	seq     atomic.Int64
}

func newPortalBench(tb testing.TB) *portalBench {
	tb.Helper()
	base, table := testenv.DynamoDB(tb)
	counter := bench.NewDynamoCounter()
	db := dynamodb.New(base.Options(), counter.Options())
	st, err := store.New(db, table)
	if err != nil {
		tb.Fatal(err)
	}
	wiz, err := store.NewWizard(db, table)
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := link.NewSigner(link.StaticKey(strings.Repeat("k", 32)), "https://portal.example.net")
	if err != nil {
		tb.Fatal(err)
	}
	clock := upgrade.SystemClock{}
	// A log line per request would be most of what a benchmark measures
	// and all of what it prints.
	quiet := slog.New(slog.DiscardHandler)
	portal, err := upgrade.NewPortal(upgrade.Deps{Store: st, Links: signer, Clock: clock,
		IDs: upgrade.RandomIDs{}, Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	fin, err := upgrade.NewFinisher(upgrade.FinishDeps{Store: st, Validator: passingValidator{},
		Clock: clock, IDs: upgrade.RandomIDs{}, SIPDomain: "sip.operator.example", ApplicationID: "app-bench", Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	m, err := upgrade.NewM365(upgrade.M365Deps{Store: st, Validator: passingValidator{}, Clock: clock, ApplicationID: "app-bench", Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	p := &portalBench{wizard: wiz, svc: m, counter: counter}
	if p.portal, err = api.NewHandler(portal, "", quiet, api.WithFinisher(fin)); err != nil {
		tb.Fatal(err)
	}
	if p.m365, err = api.NewM365Handler(m, "", quiet); err != nil {
		tb.Fatal(err)
	}
	return p
}

// portalRequest is an authorised request of benchOperator.
func portalRequest(routeKey, path string, pathID string, query map[string]string, body string) events.APIGatewayV2HTTPRequest {
	method, _, _ := strings.Cut(routeKey, " ")
	req := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: routeKey, RawPath: path, Body: body,
		Headers: map[string]string{"content-type": "application/json"}, QueryStringParameters: query}
	if pathID != "" {
		req.PathParameters = map[string]string{"id": pathID}
	}
	req.RequestContext.HTTP.Method, req.RequestContext.HTTP.Path = method, path
	req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"operator_id": benchOperator}}}
	return req
}

// serve sends req and insists on want; it returns the decoded body.
func (p *portalBench) serve(tb testing.TB, h *api.Handler, req events.APIGatewayV2HTTPRequest, want int) map[string]any {
	tb.Helper()
	res, err := h.Handle(context.Background(), req)
	if err != nil {
		tb.Fatalf("%s: %v", req.RouteKey, err)
	}
	if res.StatusCode != want {
		tb.Fatalf("%s: status %d, want %d: %s", req.RouteKey, res.StatusCode, want, res.Body)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(res.Body), &body); err != nil {
		tb.Fatalf("%s: body is not a JSON object: %q", req.RouteKey, res.Body)
	}
	return body
}

func (p *portalBench) createCustomer(tb testing.TB) string {
	tb.Helper()
	n := p.seq.Add(1)
	body := fmt.Sprintf(`{"name":"Customer %d","kind":"CUSTOMER","domain":"c%d.example"}`, n, n)
	return p.serve(tb, p.portal, portalRequest("POST /v1/customers", "/v1/customers", "", nil, body), http.StatusCreated)["id"].(string)
}

// createUpgradeRequest asks for an upgrade of customer to OC Pro for one
// user with a short name no other request uses; key is the optional
// Idempotency-Key.
func (p *portalBench) createUpgradeRequest(customer, key string) events.APIGatewayV2HTTPRequest {
	n := p.seq.Add(1)
	body := fmt.Sprintf(`{"serviceFullName":"Teams Calling %d","serviceShortName":"svc-%d","licenseType":"OC_PRO",`+
		`"licensedUsers":1,"adminEmail":"it%d@contoso.example","sendInvitation":true}`, n, n, n)
	req := portalRequest("POST /v1/customers/{id}/upgrades", "/v1/customers/"+customer+"/upgrades", customer, nil, body)
	if key != "" {
		req.Headers["idempotency-key"] = key
	}
	return req
}

// createdUpgrade is what a fixture needs of a created upgrade.
type createdUpgrade struct {
	customer, upgrade, invitation string
}

func (p *portalBench) createUpgrade(tb testing.TB, customer string) createdUpgrade {
	tb.Helper()
	u := p.serve(tb, p.portal, p.createUpgradeRequest(customer, ""), http.StatusCreated)
	inv, ok := u["invitation"].(map[string]any)
	if !ok {
		tb.Fatalf("created upgrade has no invitation: %v", u)
	}
	return createdUpgrade{customer: customer, upgrade: u["id"].(string), invitation: inv["id"].(string)}
}

// completeAuthentication does what the wizard and the token validation
// function do once the administrator consented: TOKEN_ACQUIRED, then
// AUTHENTICATION_COMPLETE, then Authentication Completed (the M365 record,
// READY_TO_RESUME and the first validation).
func (p *portalBench) completeAuthentication(tb testing.TB, c createdUpgrade) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	steps := []wizard.Transition{
		{To: upgrade.InvitationTokenAcquired,
			TenantID: benchTenant, UPN: "admin@contoso.example", ObjectID: "oid-bench"},
		{To: upgrade.InvitationAuthenticationComplete,
			TenantID: benchTenant, Granted: []string{"Organization.Read.All"}},
	}
	for _, t := range steps {
		// A new invitation's link is of generation 1.
		t.InvitationID, t.OperatorID, t.At, t.Generation = c.invitation, benchOperator, now, 1
		if err := p.wizard.TransitionInvitation(ctx, t); err != nil {
			tb.Fatalf("invitation %s to %s: %v", c.invitation, t.To, err)
		}
	}
	err := p.svc.AuthenticationCompleted(ctx, upgrade.AuthenticationCompleted{OperatorID: benchOperator, CustomerID: c.customer,
		UpgradeID: c.upgrade, InvitationID: c.invitation, TenantID: benchTenant})
	if err != nil {
		tb.Fatalf("authentication completed: %v", err)
	}
}

// parallel runs build(i) for i in [0, n) on a few goroutines: fixtures are
// many small sequential round trips, and DynamoDB Local serves several at
// once.
func parallel[T any](tb testing.TB, n int, build func(i int) T) []T {
	tb.Helper()
	out := make([]T, n)
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 4 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n && !tb.Failed(); i = int(next.Add(1)) - 1 {
				out[i] = build(i)
			}
		})
	}
	wg.Wait()
	if tb.Failed() {
		tb.FailNow()
	}
	return out
}

// usersPerCustomer stays under the 500 users a customer may reserve: each
// benchmarked upgrade reserves one.
const usersPerCustomer = 400

// BenchmarkCreateUpgrade is POST /v1/customers/{id}/upgrades: one
// TransactWriteItems is the target, with or without an Idempotency-Key
// (which adds the key's record to the same transaction).
func BenchmarkCreateUpgrade(b *testing.B) {
	for _, keyed := range []bool{false, true} {
		b.Run(fmt.Sprintf("idempotency-key=%t", keyed), func(b *testing.B) {
			p := newPortalBench(b)
			customers := parallel(b, b.N/usersPerCustomer+1, func(int) string { return p.createCustomer(b) })
			reqs := make([]events.APIGatewayV2HTTPRequest, b.N)
			for i := range reqs {
				key := ""
				if keyed {
					key = fmt.Sprintf("bench-key-%08d", i)
				}
				reqs[i] = p.createUpgradeRequest(customers[i/usersPerCustomer], key)
			}
			ctx := context.Background()
			b.ReportAllocs()
			p.counter.Reset()
			b.ResetTimer()
			for i := range b.N {
				res, err := p.portal.Handle(ctx, reqs[i])
				if err != nil || res.StatusCode != http.StatusCreated {
					b.Fatalf("create upgrade: %d %v: %s", res.StatusCode, err, res.Body)
				}
			}
			b.StopTimer()
			p.counter.Report(b, b.N)
		})
	}
}

// BenchmarkListInvitations is GET /v1/invitations, the first page of 25 of
// an operator with 100 invitations, unfiltered (GSI1) and by status (GSI2).
func BenchmarkListInvitations(b *testing.B) {
	p := newPortalBench(b)
	// Four customers, so that the 100 upgrades' transactions on a
	// customer's item do not all meet.
	customers := parallel(b, 4, func(int) string { return p.createCustomer(b) })
	created := parallel(b, 100, func(i int) createdUpgrade { return p.createUpgrade(b, customers[i%len(customers)]) })
	// A fifth of them move on, so that the status index holds more than
	// one status.
	parallel(b, len(created)/5, func(i int) struct{} {
		err := p.wizard.TransitionInvitation(context.Background(), wizard.Transition{InvitationID: created[i].invitation,
			OperatorID: benchOperator, To: upgrade.InvitationInProgress, At: time.Now().UTC(), Generation: 1})
		if err != nil {
			b.Error(err)
		}
		return struct{}{}
	})

	for _, bc := range []struct {
		name  string
		query map[string]string
	}{
		{name: "all", query: map[string]string{"limit": "25"}},
		{name: "status=PENDING", query: map[string]string{"limit": "25", "status": "PENDING"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := portalRequest("GET /v1/invitations", "/v1/invitations", "", bc.query, "")
			if got := len(p.serve(b, p.portal, req, http.StatusOK)["items"].([]any)); got != 25 {
				b.Fatalf("first page has %d invitations, want 25", got)
			}
			ctx := context.Background()
			b.ReportAllocs()
			p.counter.Reset()
			b.ResetTimer()
			for b.Loop() {
				if res, err := p.portal.Handle(ctx, req); err != nil || res.StatusCode != http.StatusOK {
					b.Fatalf("list invitations: %d %v: %s", res.StatusCode, err, res.Body)
				}
			}
			p.counter.Report(b, b.N)
		})
	}
}

// BenchmarkResume is POST /v1/upgrades/{id}/resume on an upgrade whose
// administrator completed authentication, a fresh one each iteration,
// prepared before the timer. The tenant validation is passingValidator,
// not Microsoft: what Graph costs is not this service's.
func BenchmarkResume(b *testing.B) {
	p := newPortalBench(b)
	ready := parallel(b, b.N, func(int) createdUpgrade {
		c := p.createUpgrade(b, p.createCustomer(b))
		p.completeAuthentication(b, c)
		return c
	})
	reqs := make([]events.APIGatewayV2HTTPRequest, b.N)
	for i, c := range ready {
		reqs[i] = portalRequest("POST /v1/upgrades/{id}/resume", "/v1/upgrades/"+c.upgrade+"/resume", c.upgrade, nil,
			`{"licenseType":"OC_PRO","licensedUsers":1}`)
	}
	ctx := context.Background()
	b.ReportAllocs()
	p.counter.Reset()
	b.ResetTimer()
	for i := range b.N {
		res, err := p.portal.Handle(ctx, reqs[i])
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("resume: %d %v: %s", res.StatusCode, err, res.Body)
		}
	}
	b.StopTimer()
	p.counter.Report(b, b.N)
}

// TestResumeRoundTrips pins what BenchmarkResume measures: three reads
// (the upgrade, its invitation, the customer) and the one completing
// transaction. The answer shows the invitation read before the
// transaction, which only checked that its status had not changed.
func TestResumeRoundTrips(t *testing.T) {
	t.Parallel()
	p := newPortalBench(t)
	c := p.createUpgrade(t, p.createCustomer(t))
	p.completeAuthentication(t, c)
	p.counter.Reset()
	got := p.serve(t, p.portal, portalRequest("POST /v1/upgrades/{id}/resume", "/v1/upgrades/"+c.upgrade+"/resume", c.upgrade, nil,
		`{"licenseType":"OC_PRO","licensedUsers":1}`), http.StatusOK)
	body, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	calls := p.counter.Calls()
	if calls["GetItem"] != 3 || calls["TransactWriteItems"] != 1 || p.counter.RoundTrips() != 4 {
		t.Errorf("calls %v (%d round trips), want 3 GetItem and 1 TransactWriteItems", calls, p.counter.RoundTrips())
	}
	for _, want := range []string{`"status":"COMPLETED"`, `"AUTHENTICATION_COMPLETE"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the answer lacks %s: %s", want, body)
		}
	}
}

// BenchmarkValidate is POST /v1/customers/{id}/m365/validate ("Validate
// Authentication") on a connected customer; passingValidator stands in for
// Microsoft.
func BenchmarkValidate(b *testing.B) {
	p := newPortalBench(b)
	c := p.createUpgrade(b, p.createCustomer(b))
	p.completeAuthentication(b, c)
	req := portalRequest("POST /v1/customers/{id}/m365/validate", "/v1/customers/"+c.customer+"/m365/validate", c.customer, nil, "")
	ctx := context.Background()
	b.ReportAllocs()
	p.counter.Reset()
	b.ResetTimer()
	for b.Loop() {
		if res, err := p.m365.Handle(ctx, req); err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("validate: %d %v: %s", res.StatusCode, err, res.Body)
		}
	}
	p.counter.Report(b, b.N)
}

// TestCreateUpgradeRoundTrips holds POST /v1/customers/{id}/upgrades to
// its target: one TransactWriteItems and at most one read, whether
// or not the request carries an Idempotency-Key.
func TestCreateUpgradeRoundTrips(t *testing.T) {
	t.Parallel()
	reads := []string{"GetItem", "Query", "BatchGetItem", "TransactGetItems", "Scan"}
	for _, tc := range []struct {
		name string
		key  string
	}{
		{name: "without an Idempotency-Key"},
		{name: "with an Idempotency-Key", key: "round-trips-key-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPortalBench(t)
			customer := p.createCustomer(t)
			p.counter.Reset()
			p.serve(t, p.portal, p.createUpgradeRequest(customer, tc.key), http.StatusCreated)
			calls := p.counter.Calls()
			if calls["TransactWriteItems"] != 1 {
				t.Errorf("TransactWriteItems = %d, want 1 (all calls: %v)", calls["TransactWriteItems"], calls)
			}
			n := 0
			for _, op := range reads {
				n += calls[op]
			}
			if n > 1 {
				t.Errorf("%d reads, want at most 1 (all calls: %v)", n, calls)
			}
			if other := p.counter.RoundTrips() - calls["TransactWriteItems"] - n; other != 0 {
				t.Errorf("%d other round trips, want none (all calls: %v)", other, calls)
			}
		})
	}
}
