package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestIsolationOnEveryRoute has operator A create a customer, an upgrade
// (with its service and invitation) and its own email settings, then calls
// every /v1 route of template.yaml as operator B with A's ids: B gets 404
// for A's ids, empty lists, and its own default settings, never A's. A new
// route in the template is covered without editing this test; one whose
// {id} kind is unknown fails it.
func TestIsolationOnEveryRoute(t *testing.T) {
	t.Parallel()
	a, b := portal(t, unique("op-iso-a-")), portal(t, unique("op-iso-b-"))
	cust := newCustomer(t, a)
	up := must(t, a.do(http.MethodPost, fmt.Sprintf("/v1/customers/%s/upgrades", cust["id"]), upgradeBody(unique("isoall"))),
		http.StatusCreated)
	ids := map[string]string{
		"customers":   cust["id"].(string),
		"upgrades":    up["id"].(string),
		"invitations": up["invitation"].(map[string]any)["id"].(string),
		"services":    up["service"].(map[string]any)["id"].(string),
	}
	const secretSubject = "Only operator A writes this"
	settings := must(t, a.do(http.MethodGet, "/v1/settings/email", nil), http.StatusOK)
	settings["welcomeSubject"] = secretSubject
	must(t, a.do(http.MethodPut, "/v1/settings/email", settings), http.StatusOK)

	bodies := map[string]any{
		"POST /v1/customers":               map[string]any{"name": "B's own", "kind": "CUSTOMER"},
		"POST /v1/customers/{id}/upgrades": upgradeBody(unique("isob")),
		"POST /v1/upgrades/{id}/resume":    map[string]any{"licenseType": "OC_PRO", "licensedUsers": 25},
		"PUT /v1/settings/email":           map[string]any{"senderName": "B"},
		"POST /v1/settings/email/test":     map[string]any{"to": "b-admin@fabrikam.example"},
		"PATCH /v1/customers/{id}":         map[string]any{"domain": "fabrikam.example"},
	}
	routes := 0
	for _, r := range env.Template.Routes {
		if !strings.HasPrefix(r.Path, "/v1/") {
			continue
		}
		routes++
		key := r.RouteKey()
		path := r.Path
		if strings.Contains(path, "{id}") {
			kind := strings.Split(path, "/")[2]
			id, ok := ids[kind]
			if !ok {
				t.Errorf("%s: no id of kind %q; teach this test the new route", key, kind)
				continue
			}
			path = strings.Replace(path, "{id}", id, 1)
		}
		var body any
		if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
			body = bodies[key]
			if body == nil {
				body = map[string]any{}
			}
		}
		res := b.do(r.Method, path, body)
		switch {
		case strings.Contains(r.Path, "{id}"):
			if res.Status != http.StatusNotFound {
				t.Errorf("B %s with A's id: %d, want 404\n%s", key, res.Status, res.Body)
			}
		case r.Method == http.MethodGet && r.Path == "/v1/settings/email":
			if res.Status != http.StatusOK || strings.Contains(string(res.Body), secretSubject) {
				t.Errorf("B %s: %d %s; want B's own settings without A's", key, res.Status, res.Body)
			}
		case r.Method == http.MethodGet:
			if res.Status != http.StatusOK {
				t.Errorf("B %s: %d, want 200", key, res.Status)
				continue
			}
			for _, item := range res.JSON(t)["items"].([]any) {
				for _, id := range ids {
					if strings.Contains(fmt.Sprint(item), id) {
						t.Errorf("B's %s lists A's %s", key, id)
					}
				}
			}
		default:
			// B's own writes: whatever they answer, they must not touch
			// A's records, checked below.
			if res.Status >= 500 {
				t.Errorf("B %s: %d\n%s", key, res.Status, res.Body)
			}
		}
	}
	if routes < 15 {
		t.Fatalf("only %d /v1 routes in the template; the loop would prove little", routes)
	}
	// A still sees its own, unchanged by B.
	got := must(t, a.do(http.MethodGet, "/v1/upgrades/"+ids["upgrades"], nil), http.StatusOK)
	if got["status"] != up["status"] {
		t.Errorf("A's upgrade is %v after B's calls, was %v", got["status"], up["status"])
	}
	if s := a.do(http.MethodGet, "/v1/settings/email", nil); !strings.Contains(string(s.Body), secretSubject) {
		t.Errorf("A's settings lost its subject: %s", s.Body)
	}
}

// TestIdempotencyKeysPerOperator sends the same Idempotency-Key with the
// same body from two operators: each gets a customer of its own, and each
// one's retry replays its own answer.
func TestIdempotencyKeysPerOperator(t *testing.T) {
	t.Parallel()
	a, b := portal(t, unique("op-idem-a-")), portal(t, unique("op-idem-b-"))
	key := unique("shared-key-")
	body := map[string]any{"name": "Contoso " + key, "kind": "CUSTOMER"}
	ra := must(t, a.do(http.MethodPost, "/v1/customers", body, "Idempotency-Key", key), http.StatusCreated)
	rb := must(t, b.do(http.MethodPost, "/v1/customers", body, "Idempotency-Key", key), http.StatusCreated)
	if ra["id"] == rb["id"] {
		t.Fatalf("both operators got customer %v", ra["id"])
	}
	for _, tc := range []struct {
		c    *client
		want any
	}{{a, ra["id"]}, {b, rb["id"]}} {
		r := tc.c.do(http.MethodPost, "/v1/customers", body, "Idempotency-Key", key)
		if r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "true" || r.JSON(t)["id"] != tc.want {
			t.Errorf("%s retry: %d replayed=%q %s; want its own customer %v replayed", tc.c.operator, r.Status,
				r.Header.Get("Idempotent-Replayed"), r.Body, tc.want)
		}
	}
	other := map[string]any{"name": "Fabrikam " + key, "kind": "CUSTOMER"}
	if r := a.do(http.MethodPost, "/v1/customers", other, "Idempotency-Key", key); r.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(string(r.Body), "idempotency_key_reused") {
		t.Errorf("same key, other body: %d %s; want 422 idempotency_key_reused", r.Status, r.Body)
	}
}
