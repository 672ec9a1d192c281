package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/api"
	"github.com/ocpro/upgrade/internal/idempotency"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/upgrade/memory"
)

// gatedPortal holds CreateCustomer until gate closes, once entered is
// signalled, so that a second request can meet the first in progress.
type gatedPortal struct {
	api.Portal
	entered chan struct{}
	gate    chan struct{}
	once    sync.Once
}

func (g *gatedPortal) CreateCustomer(ctx context.Context, op string, in upgrade.CustomerInput) (upgrade.Customer, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.gate
	return g.Portal.CreateCustomer(ctx, op, in)
}

// idempotentHandler returns a Handler whose idempotency records live in
// DynamoDB Local; wrap may replace the portal.
func idempotentHandler(t *testing.T, wrap func(api.Portal) api.Portal) *api.Handler {
	t.Helper()
	testenv.Integration(t)
	signer, err := link.NewSigner(link.StaticKey(strings.Repeat("k", 32)), "https://portal.example.net")
	if err != nil {
		t.Fatal(err)
	}
	var portal api.Portal
	portal, err = upgrade.NewPortal(upgrade.Deps{Store: memory.New(), Links: signer,
		Clock: fixedClock{now}, IDs: upgrade.RandomIDs{}})
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		portal = wrap(portal)
	}
	db, table := testenv.DynamoDB(t)
	p, err := idempotency.NewDynamo(db, table)
	if err != nil {
		t.Fatal(err)
	}
	g, err := idempotency.New(p, idempotency.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewHandler(portal, "", nil, api.WithIdempotency(g))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func keyedCreate(op, key, body string) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{RouteKey: "POST /v1/customers", RawPath: "/v1/customers", Body: body,
		Headers: map[string]string{"content-type": "application/json"}}
	if key != "" {
		req.Headers["idempotency-key"] = key
	}
	req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"operator_id": op}}}
	return req
}

// problemCode returns the first field code of a problem response.
func problemCode(t *testing.T, res events.APIGatewayV2HTTPResponse) string {
	t.Helper()
	var p struct {
		Errors []struct{ Code string }
	}
	if err := json.Unmarshal([]byte(res.Body), &p); err != nil || len(p.Errors) == 0 {
		t.Fatalf("not a problem with a field code: %v\n%s", err, res.Body)
	}
	return p.Errors[0].Code
}

// TestIdempotencyKeyReplays sends POST /v1/customers twice after a first
// request, each case with its own handler and records.
func TestIdempotencyKeyReplays(t *testing.T) {
	t.Parallel()
	const body = `{"name":"Contoso","kind":"CUSTOMER"}`
	tests := []struct {
		name         string
		second       events.APIGatewayV2HTTPRequest
		wantStatus   int
		wantSame     bool // the first response's body
		wantReplayed bool
		wantCode     string
	}{
		{name: "same key and body replays the first answer", second: keyedCreate("op-a", "k1", body),
			wantStatus: http.StatusCreated, wantSame: true, wantReplayed: true},
		{name: "same key with another body is refused", second: keyedCreate("op-a", "k1", `{"name":"Fabrikam","kind":"CUSTOMER"}`),
			wantStatus: http.StatusUnprocessableEntity, wantCode: upgrade.CodeIdempotencyKeyReused},
		{name: "another operator's same key is its own", second: keyedCreate("op-b", "k1", body),
			wantStatus: http.StatusCreated},
		{name: "another key creates again", second: keyedCreate("op-a", "k2", body), wantStatus: http.StatusCreated},
		{name: "no key creates again", second: keyedCreate("op-a", "", body), wantStatus: http.StatusCreated},
		{name: "a key that is not printable is invalid", second: keyedCreate("op-a", "bad\x01key", body),
			wantStatus: http.StatusBadRequest, wantCode: upgrade.CodeInvalidIdempotencyKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := idempotentHandler(t, nil)
			first, _ := h.Handle(t.Context(), keyedCreate("op-a", "k1", body))
			if first.StatusCode != http.StatusCreated || first.Headers["Idempotent-Replayed"] != "" {
				t.Fatalf("first: %d %v %s", first.StatusCode, first.Headers, first.Body)
			}
			got, _ := h.Handle(t.Context(), tt.second)
			if got.StatusCode != tt.wantStatus {
				t.Fatalf("second: status %d, want %d\n%s", got.StatusCode, tt.wantStatus, got.Body)
			}
			if (got.Body == first.Body) != tt.wantSame {
				t.Errorf("second body %s; same as the first: %v, want %v", got.Body, got.Body == first.Body, tt.wantSame)
			}
			if replayed := got.Headers["Idempotent-Replayed"] == "true"; replayed != tt.wantReplayed {
				t.Errorf("Idempotent-Replayed %q, want %v", got.Headers["Idempotent-Replayed"], tt.wantReplayed)
			}
			if tt.wantReplayed && got.Headers["Location"] != first.Headers["Location"] {
				t.Errorf("replayed Location %q, want %q", got.Headers["Location"], first.Headers["Location"])
			}
			if tt.wantCode != "" {
				if c := problemCode(t, got); c != tt.wantCode {
					t.Errorf("code %q, want %q", c, tt.wantCode)
				}
			}
		})
	}
}

// TestIdempotencyKeyInProgress sends a second request with the key of a
// request that is still being served: 409 request_in_progress, and once
// the first is done the key replays its answer.
func TestIdempotencyKeyInProgress(t *testing.T) {
	t.Parallel()
	gp := &gatedPortal{entered: make(chan struct{}), gate: make(chan struct{})}
	h := idempotentHandler(t, func(p api.Portal) api.Portal { gp.Portal = p; return gp })
	const body = `{"name":"Contoso","kind":"CUSTOMER"}`
	firstDone := make(chan events.APIGatewayV2HTTPResponse, 1)
	go func() {
		res, _ := h.Handle(t.Context(), keyedCreate("op-a", "k1", body))
		firstDone <- res
	}()
	<-gp.entered
	got, _ := h.Handle(t.Context(), keyedCreate("op-a", "k1", body))
	if got.StatusCode != http.StatusConflict || problemCode(t, got) != api.CodeRequestInProgress {
		t.Errorf("concurrent request: %d %s, want 409 %s", got.StatusCode, got.Body, api.CodeRequestInProgress)
	}
	close(gp.gate)
	first := <-firstDone
	again, _ := h.Handle(t.Context(), keyedCreate("op-a", "k1", body))
	if first.StatusCode != http.StatusCreated || again.Body != first.Body || again.Headers["Idempotent-Replayed"] != "true" {
		t.Errorf("after the first finished: %d %s, replay %s %v", first.StatusCode, first.Body, again.Body, again.Headers)
	}
}

// TestRefusedRequestReleasesKey checks that a refused request is not
// stored: fixed and sent again with the same key, it is served.
func TestRefusedRequestReleasesKey(t *testing.T) {
	t.Parallel()
	h := idempotentHandler(t, nil)
	bad, _ := h.Handle(t.Context(), keyedCreate("op-a", "k1", `{"name":"Contoso"}`))
	if bad.StatusCode != http.StatusBadRequest {
		t.Fatalf("invalid body: %d %s", bad.StatusCode, bad.Body)
	}
	good, _ := h.Handle(t.Context(), keyedCreate("op-a", "k1", `{"name":"Contoso","kind":"CUSTOMER"}`))
	if good.StatusCode != http.StatusCreated || good.Headers["Idempotent-Replayed"] != "" {
		t.Errorf("fixed request with the same key: %d %v %s", good.StatusCode, good.Headers, good.Body)
	}
}
