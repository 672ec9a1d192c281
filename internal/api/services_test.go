package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/ocpro/upgrade/internal/api"
	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// fakeFinisher answers with fixed records, or err, and records the resume
// input it got.
type fakeFinisher struct {
	mu      sync.Mutex
	err     error
	resumed *upgrade.ResumeInput
}

var finished = upgrade.Upgrade{ID: "u1", OperatorID: "live-platform", CustomerID: "c1", Status: upgrade.UpgradeCompleted, CreatedAt: now,
	Service: upgrade.Service{ID: "s1", CustomerID: "c1", FullName: "Contoso Teams Calling", ShortName: "Contoso1", License: upgrade.Pro,
		LicensedUsers: 25, Status: upgrade.ServiceActive, CreatedAt: now},
	Invitation: upgrade.Invitation{ID: "i1", TokenID: "T1", Status: upgrade.InvitationAuthenticationComplete, ExpiresAt: now.Add(48 * time.Hour)}}

var sip = upgrade.SIPConnection{ID: "p1", ServiceID: "s1", CustomerID: "c1", Name: "Contoso1", FQDN: "contoso1.sip.example.net",
	Port: upgrade.SIPPort, Transport: upgrade.SIPTransportTLS, Status: upgrade.SIPStatusActive, CreatedAt: now}

func (f *fakeFinisher) Resume(_ context.Context, _, _ string, in upgrade.ResumeInput) (upgrade.Upgrade, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resumed = &in
	return finished, f.err
}

func (f *fakeFinisher) Cancel(context.Context, string, string) (upgrade.Upgrade, error) {
	u := finished
	u.Status, u.Service.Status, u.Invitation.Status = upgrade.UpgradeCancelled, upgrade.ServiceCancelled, upgrade.InvitationRevoked
	return u, f.err
}

func (f *fakeFinisher) GetService(context.Context, string, string) (upgrade.ServiceDetails, error) {
	return upgrade.ServiceDetails{Service: finished.Service, UpgradeID: "u1", SIPConnections: []upgrade.SIPConnection{sip}}, f.err
}

func (f *fakeFinisher) ListSIPConnections(context.Context, string, string) ([]upgrade.SIPConnection, error) {
	return []upgrade.SIPConnection{sip}, f.err
}

func (f *fakeFinisher) GetCustomerOverview(context.Context, string, string) (upgrade.CustomerOverview, error) {
	return upgrade.CustomerOverview{Customer: upgrade.Customer{ID: "c1", Name: "Contoso", Kind: upgrade.KindCustomer, License: upgrade.Pro,
		LicensedUsers: 25, ReservedUsers: 25, CreatedAt: now}, Services: []upgrade.Service{finished.Service}}, f.err
}

// portalContract is openapi.yaml with a router, for checking the
// handler's answers without the stack.
var portalContract = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromFile(openAPIPath)
	if err != nil {
		return nil, err
	}
	doc.Servers = openapi3.Servers{{URL: "https://api.example"}}
	return gorillamux.NewRouter(doc)
})

// conforms fails t unless res is an answer openapi.yaml declares for req.
func conforms(t *testing.T, req events.APIGatewayV2HTTPRequest, res events.APIGatewayV2HTTPResponse) {
	t.Helper()
	router, err := portalContract()
	if err != nil {
		t.Fatal(err)
	}
	hr, err := http.NewRequest(req.RequestContext.HTTP.Method, "https://api.example"+req.RawPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	route, params, err := router.FindRoute(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", hr.Method, req.RawPath, err)
	}
	header := http.Header{}
	for k, v := range res.Headers {
		header.Set(k, v)
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route},
		Status:                 res.StatusCode, Header: header, Body: io.NopCloser(bytes.NewReader([]byte(res.Body))),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	})
	if err != nil {
		t.Errorf("%s %s answered %d, not as openapi.yaml says: %v\n%s", hr.Method, req.RawPath, res.StatusCode, err, res.Body)
	}
}

// finishRequest is a portal request to one of the finish routes.
func finishRequest(t *testing.T, method, pattern, id, body string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	req := golden(t, "get-customer.json")
	req.RouteKey = method + " " + pattern
	req.RawPath = strings.Replace(pattern, "{id}", id, 1)
	req.RequestContext.HTTP.Method, req.RequestContext.HTTP.Path = method, req.RawPath
	req.PathParameters = map[string]string{"id": id}
	if body != "" {
		req.Headers["content-type"] = "application/json"
		req = withBody(req, body)
	}
	return req
}

func finishHandler(t *testing.T, f *fakeFinisher) *api.Handler {
	t.Helper()
	h, err := api.NewHandler(failingPortal{}, "", nil, api.WithFinisher(f))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The finish routes (guide steps 22-26) answer with the documented shapes.
func TestFinishRoutes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, pattern, body string
		status                      int
		check                       func(t *testing.T, body map[string]any)
	}{
		{"resume", "POST", "/v1/upgrades/{id}/resume", `{"licenseType":"OC_PRO","licensedUsers":25}`, 200, func(t *testing.T, b map[string]any) {
			if b["status"] != "COMPLETED" || b["service"].(map[string]any)["status"] != "ACTIVE" {
				t.Errorf("resume = %v", b)
			}
		}},
		{"cancel", "POST", "/v1/upgrades/{id}/cancel", "", 200, func(t *testing.T, b map[string]any) {
			if b["status"] != "CANCELLED" || b["invitation"].(map[string]any)["status"] != "REVOKED" {
				t.Errorf("cancel = %v", b)
			}
		}},
		{"service", "GET", "/v1/services/{id}", "", 200, func(t *testing.T, b map[string]any) {
			perms, _ := b["permissions"].([]any)
			sips, _ := b["sipConnections"].([]any)
			if len(perms) != 9 || perms[8] != "Audit" || len(sips) != 1 || b["upgradeId"] != "u1" {
				t.Errorf("service = %v", b)
			}
		}},
		{"SIP connections", "GET", "/v1/services/{id}/sip-connections", "", 200, func(t *testing.T, b map[string]any) {
			items, _ := b["items"].([]any)
			if len(items) != 1 || items[0].(map[string]any)["fqdn"] != "contoso1.sip.example.net" || b["nextCursor"] != nil {
				t.Errorf("SIP connections = %v", b)
			}
		}},
		{"customer with services", "GET", "/v1/customers/{id}", "", 200, func(t *testing.T, b map[string]any) {
			svcs, _ := b["services"].([]any)
			if b["license"] != "OC_PRO" || len(svcs) != 1 {
				t.Errorf("customer = %v", b)
			}
		}},
		{"resume with bad input", "POST", "/v1/upgrades/{id}/resume", `{"licenseType":5,"extra":true}`, 400, func(t *testing.T, b map[string]any) {
			if errs, _ := b["errors"].([]any); len(errs) != 3 { // wrong type, unknown field, missing users
				t.Errorf("problem = %v", b)
			}
		}},
		{"resume without a body", "POST", "/v1/upgrades/{id}/resume", "", 415, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := finishRequest(t, tt.method, tt.pattern, "x1", tt.body)
			if tt.body == "" {
				delete(req.Headers, "content-type")
			}
			res, body := call(t, finishHandler(t, &fakeFinisher{}), req)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, res.Body)
			}
			if tt.check != nil {
				tt.check(t, body)
			}
			conforms(t, req, res)
		})
	}
}

// The domain's refusals of resume become problems with the tenant's reason
// and, for Microsoft's outages, its Retry-After.
func TestResumeProblems(t *testing.T) {
	t.Parallel()
	reason := []fault.FieldError{{Field: upgrade.FieldTenant, Code: upgrade.FailureSecretExpired, Message: "The secret expired (AADSTS7000222)"}}
	tests := []struct {
		name       string
		err        error
		status     int
		retryAfter string
	}{
		{"not AUTHENTICATION_COMPLETE", fault.New(fault.PreconditionFailed, "The invitation is PENDING."), 409, ""},
		{"permanent validation failure", &fault.Error{Kind: fault.Unprocessable, Detail: "failed", Fields: reason}, 422, ""},
		{"Microsoft unavailable", &fault.Error{Kind: fault.Unavailable, Detail: "down", RetryAfter: 7 * time.Second, Fields: reason}, 503, "7"},
		{"unavailable without a wait", fault.New(fault.Unavailable, "busy"), 503, "1"},
		{"a wait of a fraction of a second", &fault.Error{Kind: fault.Unavailable, RetryAfter: 1500 * time.Millisecond}, 503, "2"},
		{"not found", fault.NotFoundf("Not found."), 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := finishRequest(t, "POST", "/v1/upgrades/{id}/resume", "u1", `{"licenseType":"OC_PRO","licensedUsers":25}`)
			f := &fakeFinisher{err: tt.err}
			res, p := call(t, finishHandler(t, f), req)
			if res.StatusCode != tt.status || res.Headers["Retry-After"] != tt.retryAfter || res.Headers["Content-Type"] != "application/problem+json" {
				t.Fatalf("= %d Retry-After %q %s, want %d Retry-After %q", res.StatusCode, res.Headers["Retry-After"], res.Body, tt.status, tt.retryAfter)
			}
			if f.resumed == nil || f.resumed.LicenseType != "OC_PRO" || f.resumed.LicensedUsers != 25 {
				t.Errorf("the domain got %+v", f.resumed)
			}
			if fe, ok := tt.err.(*fault.Error); ok && len(fe.Fields) > 0 {
				errs, _ := p["errors"].([]any)
				if len(errs) != 1 || !strings.Contains(errs[0].(map[string]any)["message"].(string), "AADSTS7000222") {
					t.Errorf("problem = %v", p)
				}
			}
			conforms(t, req, res)
		})
	}
}
