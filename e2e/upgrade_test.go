package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/entra"
)

var seq atomic.Int64

// unique gives names that do not collide between tests sharing the stack.
func unique(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, seq.Add(1))
}

func newCustomer(t *testing.T, c *client) map[string]any {
	t.Helper()
	return must(t, c.do(http.MethodPost, "/v1/customers", map[string]any{
		"name": "Contoso " + unique("c"), "kind": "CUSTOMER", "domain": "contoso.example",
	}), http.StatusCreated)
}

func upgradeBody(shortName string) map[string]any {
	return map[string]any{
		"serviceFullName":  "Contoso Teams Calling",
		"serviceShortName": shortName,
		"licenseType":      "OC_PRO",
		"licensedUsers":    25,
		"adminEmail":       "it-admin@contoso.example",
		"sendInvitation":   true,
	}
}

// Guide steps 1-6: the Onboarding wizard's first screen creates the service
// pending authentication and an invitation with its AuthURL.
func TestCreateUpgrade(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-create-"))
	cust := newCustomer(t, c)
	if cust["license"] != "OC_ESSENTIALS" || cust["kind"] != "CUSTOMER" {
		t.Fatalf("new customer = %v", cust)
	}

	r := c.do(http.MethodPost, fmt.Sprintf("/v1/customers/%s/upgrades", cust["id"]), upgradeBody(unique("svc")))
	up := must(t, r, http.StatusCreated)
	if up["status"] != "PENDING_AUTHENTICATION" || up["customerId"] != cust["id"] {
		t.Fatalf("upgrade = %v", up)
	}
	svc := up["service"].(map[string]any)
	if svc["status"] != "PENDING_AUTHENTICATION" || svc["licenseType"] != "OC_PRO" || svc["licensedUsers"] != float64(25) {
		t.Fatalf("service = %v", svc)
	}
	inv := up["invitation"].(map[string]any)
	authURL, _ := inv["authUrl"].(string)
	if inv["status"] != "PENDING" || inv["emailSent"] != false || !strings.HasPrefix(authURL, env.APIURL+"/invite/") {
		t.Fatalf("invitation = %v", inv)
	}
	if loc := r.Header.Get("Location"); !strings.HasSuffix(loc, "/v1/upgrades/"+up["id"].(string)) {
		t.Errorf("Location = %q", loc)
	}

	got := must(t, c.do(http.MethodGet, "/v1/upgrades/"+up["id"].(string), nil), http.StatusOK)
	if got["id"] != up["id"] || got["status"] != "PENDING_AUTHENTICATION" {
		t.Fatalf("GET upgrade = %v", got)
	}
	// Guide step 8: the operator finds the invitation by its token id and
	// sees whether the mail went.
	one := must(t, c.do(http.MethodGet, "/v1/invitations/"+inv["id"].(string), nil), http.StatusOK)
	for _, k := range []string{"tokenId", "status", "emailSent", "authUrl", "createdAt", "expiresAt"} {
		if _, ok := one[k]; !ok {
			t.Errorf("invitation has no %s: %v", k, one)
		}
	}
	if one["authUrl"] != authURL {
		t.Errorf("authUrl changed between reads: %v vs %v", one["authUrl"], authURL)
	}
	list := must(t, c.do(http.MethodGet, "/v1/invitations?tokenId="+one["tokenId"].(string), nil), http.StatusOK)
	items := list["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["id"] != inv["id"] {
		t.Fatalf("invitations by token id = %v", list)
	}
}

// Staff of one operator get 404 for another operator's ids and never see its
// records in lists.
func TestOperatorIsolation(t *testing.T) {
	t.Parallel()
	a, b := portal(t, unique("op-a-")), portal(t, unique("op-b-"))
	cust := newCustomer(t, a)
	up := must(t, a.do(http.MethodPost, fmt.Sprintf("/v1/customers/%s/upgrades", cust["id"]), upgradeBody(unique("iso"))), http.StatusCreated)
	inv := up["invitation"].(map[string]any)

	for _, path := range []string{
		"/v1/customers/" + cust["id"].(string),
		"/v1/upgrades/" + up["id"].(string),
		"/v1/invitations/" + inv["id"].(string),
	} {
		if r := b.do(http.MethodGet, path, nil); r.Status != http.StatusNotFound {
			t.Errorf("other operator GET %s = %d, want 404", path, r.Status)
		}
	}
	if r := b.do(http.MethodPost, fmt.Sprintf("/v1/customers/%s/upgrades", cust["id"]), upgradeBody(unique("iso"))); r.Status != http.StatusNotFound {
		t.Errorf("other operator upgrading = %d, want 404", r.Status)
	}
	for _, path := range []string{"/v1/customers", "/v1/upgrades", "/v1/invitations"} {
		list := must(t, b.do(http.MethodGet, path, nil), http.StatusOK)
		if items := list["items"].([]any); len(items) != 0 {
			t.Errorf("other operator's %s shows %d items", path, len(items))
		}
	}
}

// Guide step 3: the short name is unique; two requests racing for it (in
// different case) give exactly one 201 and one 409.
func TestShortNameRace(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-race-"))
	c1, c2 := newCustomer(t, c), newCustomer(t, c)
	name := unique("race")
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i, cust := range []map[string]any{c1, c2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := name
			if i == 1 {
				n = strings.ToUpper(name)
			}
			statuses[i] = c.do(http.MethodPost, fmt.Sprintf("/v1/customers/%s/upgrades", cust["id"]), upgradeBody(n)).Status
		}()
	}
	wg.Wait()
	if !(statuses[0] == 201 && statuses[1] == 409 || statuses[0] == 409 && statuses[1] == 201) {
		t.Fatalf("statuses = %v, want one 201 and one 409", statuses)
	}
}

// The same Idempotency-Key and body give the same response without a second
// upgrade; the same key with another body is refused.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-idem-"))
	cust := newCustomer(t, c)
	path := fmt.Sprintf("/v1/customers/%s/upgrades", cust["id"])
	body := upgradeBody(unique("idem"))
	key := unique("key-")

	var wg sync.WaitGroup
	rs := make([]response, 3)
	for i := range rs {
		wg.Add(1)
		go func() { defer wg.Done(); rs[i] = c.do(http.MethodPost, path, body, "Idempotency-Key", key) }()
	}
	wg.Wait()
	first := must(t, rs[0], http.StatusCreated)
	for _, r := range rs[1:] {
		if got := must(t, r, http.StatusCreated); got["id"] != first["id"] {
			t.Fatalf("replay gave another upgrade: %v vs %v", got["id"], first["id"])
		}
	}
	list := must(t, c.do(http.MethodGet, "/v1/upgrades", nil), http.StatusOK)
	if n := len(list["items"].([]any)); n != 1 {
		t.Fatalf("%d upgrades after replays, want 1", n)
	}

	other := upgradeBody(unique("idem"))
	r := c.do(http.MethodPost, path, other, "Idempotency-Key", key)
	if r.Status != http.StatusUnprocessableEntity || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("reused key with another body = %d %s", r.Status, r.Body)
	}
}

// Bad input of every kind gets an RFC 9457 problem document with one entry
// per bad field, and writes nothing.
func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	c := portal(t, unique("op-bad-"))
	cust := newCustomer(t, c)
	path := fmt.Sprintf("/v1/customers/%s/upgrades", cust["id"])
	cases := []struct {
		name   string
		body   any
		ctype  string
		status int
		fields []string
	}{
		{"malformed JSON", `{"serviceFullName": `, "", 400, nil},
		{"wrong types", map[string]any{"serviceFullName": 5, "serviceShortName": "abc", "licenseType": "OC_PRO", "licensedUsers": "ten", "adminEmail": "a@b.example"}, "", 400, []string{"serviceFullName", "licensedUsers"}},
		{"unknown licence", func() map[string]any { b := upgradeBody("okname1"); b["licenseType"] = "OC_GOLD"; return b }(), "", 400, []string{"licenseType"}},
		{"missing fields", map[string]any{}, "", 400, []string{"serviceFullName", "serviceShortName", "licenseType", "licensedUsers"}},
		{"forbidden characters and too many users", func() map[string]any {
			b := upgradeBody("a/b:c")
			b["licensedUsers"] = 501
			return b
		}(), "", 400, []string{"serviceShortName", "licensedUsers"}},
		{"wrong content type", `serviceFullName=x`, "application/x-www-form-urlencoded", 415, nil},
		{"oversized body", `{"serviceFullName":"` + strings.Repeat("x", 200<<10) + `"}`, "", 413, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r response
			if tc.ctype != "" {
				r = c.do(http.MethodPost, path, tc.body, "Content-Type", tc.ctype)
			} else {
				r = c.do(http.MethodPost, path, tc.body)
			}
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Fatalf("content type %q", ct)
			}
			p := r.JSON(t)
			for _, k := range []string{"type", "title", "status", "detail"} {
				if _, ok := p[k]; !ok {
					t.Errorf("problem has no %s: %v", k, p)
				}
			}
			got := map[string]bool{}
			errs, _ := p["errors"].([]any)
			for _, e := range errs {
				got[e.(map[string]any)["field"].(string)] = true
			}
			for _, f := range tc.fields {
				if !got[f] {
					t.Errorf("no error for field %s: %s", f, r.Body)
				}
			}
		})
	}
	list := must(t, c.do(http.MethodGet, "/v1/upgrades", nil), http.StatusOK)
	if n := len(list["items"].([]any)); n != 0 {
		t.Fatalf("bad requests wrote %d upgrades", n)
	}
}

// Portal routes need a valid token; the public routes do not.
func TestPortalNeedsToken(t *testing.T) {
	t.Parallel()
	anon := &client{t: t}
	if r := anon.do(http.MethodGet, "/v1/customers", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", r.Status)
	}
	forged := &client{t: t, token: "eyJhbGciOiJub25lIn0.eyJvcGVyYXRvcl9pZCI6IngifQ."}
	if r := forged.do(http.MethodGet, "/v1/customers", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("unsigned token: %d, want 401", r.Status)
	}
}

// The local gateway enforces the template's JWT authorizer: signature,
// issuer, audience, expiry and scope. An ID token (audience: the portal
// client, no scope) or a token for another API never reaches a function.
func TestPortalRefusesWrongTokens(t *testing.T) {
	t.Parallel()
	op := unique("op-tokens-")
	cases := []struct {
		name   string
		token  func() (string, error)
		status int
	}{
		{"ID token", func() (string, error) { return env.Entra.OperatorIDToken(op) }, http.StatusUnauthorized},
		{"another audience", func() (string, error) { return env.Entra.OperatorToken(op, entra.WithAudience("api://another-api")) }, http.StatusUnauthorized},
		{"another issuer", func() (string, error) {
			return env.Entra.OperatorToken(op, entra.WithIssuer("https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0"))
		}, http.StatusUnauthorized},
		{"expired", func() (string, error) {
			return env.Entra.OperatorToken(op, entra.WithIssuedAt(time.Now().Add(-2*time.Hour)), entra.WithExpiresAt(time.Now().Add(-time.Hour)))
		}, http.StatusUnauthorized},
		{"forged signature", func() (string, error) { return env.Entra.OperatorToken(op, entra.WithForeignKey()) }, http.StatusUnauthorized},
		{"no portal scope", func() (string, error) { return env.Entra.OperatorToken(op, entra.WithScopes("User.Read")) }, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := tc.token()
			if err != nil {
				t.Fatal(err)
			}
			c := &client{t: t, token: tok}
			if r := c.do(http.MethodGet, "/v1/customers", nil); r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
		})
	}
}
