package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/infra/template"
	"github.com/ocpro/upgrade/internal/api"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/upgrade/memory"
)

// recorder reads the events the store's outbox holds.
type recorder struct{ store *memory.Store }

// count is the number of events written so far.
func (r *recorder) count() int { return len(r.store.Outbox()) }

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var now = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

type fixture struct {
	h     *api.Handler
	pub   *recorder
	store *memory.Store
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	signer, err := link.NewSigner(link.StaticKey(strings.Repeat("k", 32)), "https://portal.example.net")
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{store: memory.New()}
	f.pub = &recorder{store: f.store}
	portal, err := upgrade.NewPortal(upgrade.Deps{Store: f.store, Links: signer,
		Clock: fixedClock{now}, IDs: upgrade.RandomIDs{}})
	if err != nil {
		t.Fatal(err)
	}
	if f.h, err = api.NewHandler(portal, "", nil); err != nil {
		t.Fatal(err)
	}
	return f
}

// golden loads a sample event from events/upgraderequests.
func golden(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "upgraderequests", name))
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return req
}

func withID(req events.APIGatewayV2HTTPRequest, id string) events.APIGatewayV2HTTPRequest {
	req.PathParameters = map[string]string{"id": id}
	return req
}

func withBody(req events.APIGatewayV2HTTPRequest, body string) events.APIGatewayV2HTTPRequest {
	req.Body, req.IsBase64Encoded = body, false
	return req
}

func withOperator(req events.APIGatewayV2HTTPRequest, op string) events.APIGatewayV2HTTPRequest {
	claims := map[string]string{}
	for k, v := range req.RequestContext.Authorizer.JWT.Claims {
		claims[k] = v
	}
	claims["operator_id"] = op
	jwt := *req.RequestContext.Authorizer.JWT
	jwt.Claims = claims
	req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &jwt}
	return req
}

func call(t *testing.T, h *api.Handler, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, map[string]any) {
	t.Helper()
	res, err := h.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("Handle returned an error: %v", err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(res.Body), &body); err != nil {
		t.Fatalf("body is not a JSON object: %q", res.Body)
	}
	return res, body
}

func createCustomer(t *testing.T, h *api.Handler) string {
	t.Helper()
	res, body := call(t, h, golden(t, "create-customer.json"))
	if res.StatusCode != 201 {
		t.Fatalf("create customer: %d %s", res.StatusCode, res.Body)
	}
	return body["id"].(string)
}

func TestGoldenFlow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	res, cust := call(t, f.h, golden(t, "create-customer.json"))
	if res.StatusCode != 201 || cust["license"] != "OC_ESSENTIALS" || cust["kind"] != "CUSTOMER" || cust["domain"] != "contoso.com" {
		t.Fatalf("create customer = %d %s", res.StatusCode, res.Body)
	}
	cid := cust["id"].(string)
	if res.Headers["Location"] != "/v1/customers/"+cid {
		t.Errorf("Location = %q", res.Headers["Location"])
	}

	res, up := call(t, f.h, withID(golden(t, "create-upgrade.json"), cid))
	if res.StatusCode != 201 {
		t.Fatalf("create upgrade = %d %s", res.StatusCode, res.Body)
	}
	svc := up["service"].(map[string]any)
	inv := up["invitation"].(map[string]any)
	if up["status"] != "PENDING_AUTHENTICATION" || up["customerId"] != cid || svc["status"] != "PENDING_AUTHENTICATION" ||
		svc["shortName"] != "Contoso-OCP" || svc["licenseType"] != "OC_PRO" || svc["licensedUsers"] != 120.0 ||
		inv["status"] != "PENDING" || inv["emailSent"] != false || len(inv["tokenId"].(string)) != 10 {
		t.Errorf("create upgrade body = %s", res.Body)
	}
	if !strings.HasPrefix(inv["authUrl"].(string), "https://portal.example.net/invite/"+inv["id"].(string)+".") {
		t.Errorf("authUrl = %v", inv["authUrl"])
	}
	if inv["expiresAt"] != now.Add(168*time.Hour).Format(time.RFC3339) {
		t.Errorf("expiresAt = %v", inv["expiresAt"])
	}
	if res.Headers["Location"] != "/v1/upgrades/"+up["id"].(string) {
		t.Errorf("Location = %q", res.Headers["Location"])
	}
	if f.pub.count() != 1 {
		t.Errorf("%d events published, want 1", f.pub.count())
	}

	// The same Idempotency-Key and body: the same answer, nothing new.
	again, _ := call(t, f.h, withID(golden(t, "create-upgrade.json"), cid))
	if again.StatusCode != 201 || again.Body != res.Body || again.Headers["Idempotent-Replayed"] != "true" {
		t.Errorf("replay = %d %s, want the first response", again.StatusCode, again.Body)
	}
	if f.pub.count() != 1 {
		t.Errorf("replay published again: %d events", f.pub.count())
	}

	res, got := call(t, f.h, withID(golden(t, "get-upgrade.json"), up["id"].(string)))
	if res.StatusCode != 200 || got["id"] != up["id"] || got["invitation"].(map[string]any)["authUrl"] != inv["authUrl"] {
		t.Errorf("get upgrade = %d %s", res.StatusCode, res.Body)
	}
	res, gi := call(t, f.h, withID(golden(t, "get-invitation.json"), inv["id"].(string)))
	if res.StatusCode != 200 || gi["tokenId"] != inv["tokenId"] || gi["emailSent"] != false || gi["remindersSent"] != 0.0 ||
		gi["authUrl"] != inv["authUrl"] || gi["createdAt"] != now.Format(time.RFC3339) {
		t.Errorf("get invitation = %d %s", res.StatusCode, res.Body)
	}
	li := golden(t, "list-invitations.json")
	li.QueryStringParameters["customerId"] = cid
	for name, req := range map[string]events.APIGatewayV2HTTPRequest{
		"invitations": li, "customers": golden(t, "list-customers.json"), "upgrades": golden(t, "list-upgrades.json"),
	} {
		res, l := call(t, f.h, req)
		if res.StatusCode != 200 || len(l["items"].([]any)) != 1 {
			t.Errorf("list %s = %d %s", name, res.StatusCode, res.Body)
		}
		if _, ok := l["nextCursor"]; ok {
			t.Errorf("list %s has a nextCursor on its only page", name)
		}
	}
	res, _ = call(t, f.h, withID(golden(t, "get-customer.json"), cid))
	if res.StatusCode != 200 {
		t.Errorf("get customer = %d %s", res.StatusCode, res.Body)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	valid := `{"serviceFullName":"Contoso","serviceShortName":"Contoso1","licenseType":"OC_PRO","licensedUsers":10,"adminEmail":"a@contoso.com"}`
	type fieldCode struct{ field, code string }
	tests := []struct {
		name               string
		change             func(events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest
		wantStatus         int
		wantType           string
		wantErrors         []fieldCode
		wantDetailContains string
	}{
		{"malformed JSON names the position", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
			return withBody(r, "{\n  \"serviceFullName\": \"x\",,\n}")
		}, 400, "malformed-request", nil, "line 2"},
		{"wrong types, every field", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
			return withBody(r, `{"serviceFullName":1,"serviceShortName":true,"licenseType":"OC_PRO","licensedUsers":"ten","sendInvitation":"yes"}`)
		}, 400, "validation", []fieldCode{{"serviceFullName", "wrong_type"}, {"serviceShortName", "wrong_type"}, {"licensedUsers", "wrong_type"}, {"sendInvitation", "wrong_type"}}, ""},
		{"quoted number", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
			return withBody(r, strings.Replace(valid, `10`, `"50"`, 1))
		}, 400, "validation", []fieldCode{{"licensedUsers", "wrong_type"}}, ""},
		{"fractional users", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
			return withBody(r, strings.Replace(valid, `10`, `10.5`, 1))
		}, 400, "validation", []fieldCode{{"licensedUsers", "wrong_type"}}, ""},
		{"unknown field", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
			return withBody(r, strings.Replace(valid, `{`, `{"licenceType":"OC_PRO",`, 1))
		}, 400, "validation", []fieldCode{{"licenceType", "unknown_field"}}, ""},
		{"missing fields", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
			return withBody(r, `{"adminEmail":"a@contoso.com"}`)
		}, 400, "validation", []fieldCode{{"serviceFullName", "required"}, {"serviceShortName", "required"}, {"licenseType", "required"}, {"licensedUsers", "required"}}, ""},
		{"every rule at once (guide steps 2-6)", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
			return withBody(r, `{"serviceFullName":"  ","serviceShortName":"my.svc","licenseType":"OC_GOLD","licensedUsers":501,"adminEmail":"Admin <a@contoso.com>"}`)
		}, 400, "validation", []fieldCode{{"serviceFullName", "required"}, {"serviceShortName", "forbidden_character"}, {"licenseType", "unknown_value"}, {"licensedUsers", "out_of_range"}, {"adminEmail", "invalid_email"}}, ""},
		{"empty body", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest { return withBody(r, "") }, 400, "malformed-request", nil, "empty"},
		{"array body", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest { return withBody(r, "[]") }, 400, "malformed-request", nil, "object"},
		{"two values", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest { return withBody(r, valid+valid) }, 400, "malformed-request", nil, ""},
		{"oversized body", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
			return withBody(r, `{"serviceFullName":"`+strings.Repeat("x", api.MaxBodyBytes)+`"}`)
		}, 413, "payload-too-large", nil, ""},
		{"wrong content type", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
			r = withBody(r, valid)
			r.Headers = map[string]string{"content-type": "text/plain"}
			return r
		}, 415, "unsupported-media-type", nil, ""},
		{"bad base64", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
			r.Body, r.IsBase64Encoded = "%%%", true
			return r
		}, 400, "malformed-request", nil, "base64"},
		{"bad idempotency key", func(r events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
			r = withBody(r, valid)
			r.Headers["idempotency-key"] = ""
			return r
		}, 400, "validation", []fieldCode{{"Idempotency-Key", "invalid_idempotency_key"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			cid := createCustomer(t, f.h)
			req := golden(t, "create-upgrade.json")
			req.Headers = map[string]string{"content-type": "application/json"}
			res, p := call(t, f.h, tt.change(withID(req, cid)))
			if res.StatusCode != tt.wantStatus || p["type"] != api.ProblemTypeBase+tt.wantType || p["status"] != float64(tt.wantStatus) {
				t.Fatalf("response = %d %s", res.StatusCode, res.Body)
			}
			if res.Headers["Content-Type"] != "application/problem+json" {
				t.Errorf("Content-Type = %q", res.Headers["Content-Type"])
			}
			if !strings.Contains(fmt.Sprint(p["detail"]), tt.wantDetailContains) {
				t.Errorf("detail = %q, want it to mention %q", p["detail"], tt.wantDetailContains)
			}
			var got []fieldCode
			if errs, ok := p["errors"].([]any); ok {
				for _, e := range errs {
					m := e.(map[string]any)
					if m["message"] == "" {
						t.Errorf("field error without a message: %v", m)
					}
					got = append(got, fieldCode{m["field"].(string), m["code"].(string)})
				}
			}
			if !slices.Equal(got, tt.wantErrors) {
				t.Errorf("errors = %v, want %v", got, tt.wantErrors)
			}
			res, l := call(t, f.h, golden(t, "list-upgrades.json"))
			if res.StatusCode != 200 || len(l["items"].([]any)) != 0 || f.pub.count() != 0 {
				t.Errorf("bad input wrote something: %s, %d events", res.Body, f.pub.count())
			}
		})
	}
}

func TestRuleViolations(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := createCustomer(t, f.h)
	create := func(body string, key string) (events.APIGatewayV2HTTPResponse, map[string]any) {
		req := withBody(withID(golden(t, "create-upgrade.json"), cid), body)
		req.Headers["idempotency-key"] = key
		return call(t, f.h, req)
	}
	body := func(short string, users int) string {
		return fmt.Sprintf(`{"serviceFullName":"Contoso","serviceShortName":%q,"licenseType":"OC_PRO","licensedUsers":%d,"adminEmail":"a@contoso.com"}`, short, users)
	}
	if res, _ := create(body("first", 400), "k1"); res.StatusCode != 201 {
		t.Fatalf("first upgrade = %d %s", res.StatusCode, res.Body)
	}
	tests := []struct {
		name       string
		body, key  string
		wantStatus int
		wantField  string
		wantCode   string
	}{
		{"short name taken in another case (guide step 3)", body("FIRST", 1), "k2", 409, "serviceShortName", "taken"},
		{"more than 500 users per customer (guide step 5)", body("second", 101), "k3", 422, "licensedUsers", "customer_limit_exceeded"},
		{"idempotency key reused with another body", body("third", 1), "k1", 422, "Idempotency-Key", "idempotency_key_reused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, p := create(tt.body, tt.key)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d %s", res.StatusCode, res.Body)
			}
			e := p["errors"].([]any)[0].(map[string]any)
			if e["field"] != tt.wantField || e["code"] != tt.wantCode {
				t.Errorf("error = %v", e)
			}
		})
	}
}

func TestNoMailWhenSendInvitationIsFalse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := createCustomer(t, f.h)
	req := withBody(withID(golden(t, "create-upgrade.json"), cid),
		`{"serviceFullName":"Contoso","serviceShortName":"quiet","licenseType":"OC_ESSENTIALS_PLUS","licensedUsers":5,"sendInvitation":false}`)
	res, up := call(t, f.h, req)
	if res.StatusCode != 201 {
		t.Fatalf("create = %d %s", res.StatusCode, res.Body)
	}
	if f.pub.count() != 0 {
		t.Errorf("%d events published, want none", f.pub.count())
	}
	if up["invitation"].(map[string]any)["authUrl"] == nil {
		t.Error("no authUrl to copy")
	}
}

func TestOperatorIsolationAndAuth(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := createCustomer(t, f.h)
	_, up := call(t, f.h, withID(golden(t, "create-upgrade.json"), cid))
	uid, iid := up["id"].(string), up["invitation"].(map[string]any)["id"].(string)

	for name, req := range map[string]events.APIGatewayV2HTTPRequest{
		"customer":                             withID(golden(t, "get-customer.json"), cid),
		"upgrade":                              withID(golden(t, "get-upgrade.json"), uid),
		"invitation":                           withID(golden(t, "get-invitation.json"), iid),
		"upgrade of other operator's customer": withID(golden(t, "create-upgrade.json"), cid),
	} {
		if res, _ := call(t, f.h, withOperator(req, "other-operator")); res.StatusCode != 404 {
			t.Errorf("%s from another operator = %d %s", name, res.StatusCode, res.Body)
		}
	}
	for _, list := range []string{"list-customers.json", "list-upgrades.json", "list-invitations.json"} {
		res, l := call(t, f.h, withOperator(golden(t, list), "other-operator"))
		if res.StatusCode != 200 || len(l["items"].([]any)) != 0 {
			t.Errorf("%s for another operator = %d %s", list, res.StatusCode, res.Body)
		}
	}
	for name, op := range map[string]string{"missing claim": "", "hash in claim": "a#b"} {
		if res, _ := call(t, f.h, withOperator(golden(t, "list-customers.json"), op)); res.StatusCode != 403 {
			t.Errorf("%s = %d", name, res.StatusCode)
		}
	}
	noAuth := golden(t, "list-customers.json")
	noAuth.RequestContext.Authorizer = nil
	if res, _ := call(t, f.h, noAuth); res.StatusCode != 401 {
		t.Errorf("no authorizer = %d", res.StatusCode)
	}
}

func TestQueryValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name  string
		query map[string]string
		field string
	}{
		{"limit zero", map[string]string{"limit": "0"}, "limit"},
		{"limit too big", map[string]string{"limit": "101"}, "limit"},
		{"limit not a number", map[string]string{"limit": "ten"}, "limit"},
		{"unknown status", map[string]string{"status": "DONE"}, "status"},
		{"bad cursor", map[string]string{"cursor": "bm9wZQ"}, "cursor"},
		{"customer id with a hash", map[string]string{"customerId": "a#b"}, "customerId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := golden(t, "list-invitations.json")
			req.QueryStringParameters = tt.query
			res, p := call(t, f.h, req)
			if res.StatusCode != 400 {
				t.Fatalf("status = %d %s", res.StatusCode, res.Body)
			}
			if e := p["errors"].([]any)[0].(map[string]any); e["field"] != tt.field {
				t.Errorf("error = %v", e)
			}
		})
	}
}

type failingPortal struct{ api.Portal }

func (failingPortal) ListCustomers(context.Context, string, upgrade.Page) (upgrade.List[upgrade.Customer], error) {
	return upgrade.List[upgrade.Customer]{}, errors.New("dynamodb: secret-table-detail exploded")
}

func TestInternalErrorsAreNotShown(t *testing.T) {
	t.Parallel()
	h, err := api.NewHandler(failingPortal{}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, p := call(t, h, golden(t, "list-customers.json"))
	if res.StatusCode != 500 || strings.Contains(res.Body, "secret-table-detail") || p["requestId"] != "Jx1AbCdEfGhIjK=" {
		t.Errorf("internal error = %d %s", res.StatusCode, res.Body)
	}
}

func TestRoutesMatchTemplate(t *testing.T) {
	t.Parallel()
	tmpl, err := template.Load(filepath.Join("..", "..", "template.yaml"), template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range tmpl.Routes {
		if r.Function == "UpgradeRequestsFunction" {
			want = append(want, r.Method+" "+r.Path)
		}
	}
	f := newFixture(t)
	got := f.h.Routes()
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("handler routes = %v\ntemplate routes = %v", got, want)
	}
	for _, rk := range got {
		req := golden(t, "list-customers.json")
		req.RouteKey = rk
		req.PathParameters = map[string]string{"id": "x1"}
		res, _ := call(t, f.h, req)
		if res.StatusCode == 404 && !strings.Contains(rk, "{id}") {
			t.Errorf("%s is not routed", rk)
		}
	}
	for _, rk := range []string{"POST /v1/upgrades/{id}/resume", "PUT /v1/settings/email"} {
		req := golden(t, "list-customers.json")
		req.RouteKey = rk
		if res, _ := call(t, f.h, req); res.StatusCode != 501 {
			t.Errorf("%s = %d, want 501", rk, res.StatusCode)
		}
	}
}
