package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"github.com/ocpro/upgrade/infra/template"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fakeInvoker records what the gateway sends and answers as told.
type fakeInvoker struct {
	mu       sync.Mutex
	calls    int
	function string
	event    []byte
	answer   []byte
	err      error
}

func (f *fakeInvoker) Invoke(_ context.Context, function string, event []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.function, f.event = function, event
	if f.answer == nil && f.err == nil {
		return []byte(`{"statusCode":200,"body":"ok"}`), nil
	}
	return f.answer, f.err
}

func (f *fakeInvoker) lastEvent(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(f.event, &ev); err != nil {
		t.Fatalf("event %s: %v", f.event, err)
	}
	return ev
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "task timed out" }
func (timeoutErr) Timeout() bool { return true }

// issuer is an OpenID provider over TLS: discovery document and key set.
type issuer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	keys    map[string]*rsa.PrivateKey
	fetches int
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	iss := &issuer{keys: map[string]*rsa.PrivateKey{"k1": sharedKey(t)}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": iss.srv.URL, "jwks_uri": iss.srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		iss.mu.Lock()
		defer iss.mu.Unlock()
		iss.fetches++
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		for kid, k := range iss.keys {
			set.Keys = append(set.Keys, map[string]string{
				"kty": "RSA", "use": "sig", "kid": kid,
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
			})
		}
		json.NewEncoder(w).Encode(set)
	})
	iss.srv = httptest.NewTLSServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

// issuerKey is generated once: RSA key generation dominates the test time.
var issuerKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func sharedKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := issuerKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (iss *issuer) key(kid string) *rsa.PrivateKey {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.keys[kid]
}

// sign makes an RS256 token with kid k1 unless the claims say otherwise.
func sign(t *testing.T, key *rsa.PrivateKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const audience = "portal-api"

var now = time.Date(2026, 3, 12, 19, 3, 58, 0, time.UTC)

func validClaims(iss string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":         iss,
		"aud":         audience,
		"sub":         "staff-1",
		"exp":         now.Add(time.Hour).Unix(),
		"iat":         now.Add(-time.Minute).Unix(),
		"nbf":         now.Add(-time.Minute).Unix(),
		"scp":         "Upgrades.Read Upgrades.Manage",
		"operator_id": "op-1",
		"roles":       []string{"admin", "viewer"},
	}
}

var testRoutes = []template.Route{
	{Function: "Portal", Method: "GET", Path: "/v1/customers/{id}"},
	{Function: "Portal", Method: "POST", Path: "/v1/customers/{id}/upgrades"},
	{Function: "Validation", Method: "GET", Path: "/v1/customers/{id}/m365"},
	{Function: "Consent", Method: "GET", Path: "/invite/{token}", Public: true},
	{Function: "Consent", Method: "GET", Path: "/invite/{token}/status", Public: true},
	{Function: "Consent", Method: "POST", Path: "/invite/{token}/{action}", Public: true},
	{Function: "Assets", Method: "GET", Path: "/assets/{proxy+}", Public: true},
	{Function: "Any", Method: "ANY", Path: "/any/{x}", Public: true},
	{Function: "AnyStatic", Method: "GET", Path: "/any/static", Public: true},
	{Function: "AnyGet", Method: "GET", Path: "/any/{x}/y", Public: true},
	{Function: "AnyAny", Method: "ANY", Path: "/any/{x}/y", Public: true},
}

type fixture struct {
	handler http.Handler
	gw      *gateway
	inv     *fakeInvoker
	iss     *issuer
	logs    *bytes.Buffer
}

func newFixture(t *testing.T, mutate func(*Config)) *fixture {
	t.Helper()
	f := &fixture{inv: &fakeInvoker{}, iss: newIssuer(t), logs: &bytes.Buffer{}}
	cfg := Config{
		Routes: testRoutes,
		Authorizer: &template.JWTAuthorizer{
			Name: "OperatorJwt", IdentitySource: "$request.header.Authorization",
			Issuer: f.iss.srv.URL, Audience: []string{audience}, Scopes: []string{"Upgrades.Manage"},
		},
		Invoker:    f.inv,
		HTTPClient: f.iss.srv.Client(),
		AccountID:  "111122223333",
		APIID:      "api1234567",
		Log:        slog.New(slog.NewJSONHandler(f.logs, nil)),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.handler, f.gw = h, h.(*gateway)
	f.gw.now = func() time.Time { return now }
	f.gw.requestID = func() string { return "JKJaXmPLvHcESHA=" }
	return f
}

func (f *fixture) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

func (f *fixture) token(t *testing.T, mutate func(jwt.MapClaims)) string {
	t.Helper()
	c := validClaims(f.iss.srv.URL)
	if mutate != nil {
		mutate(c)
	}
	return sign(t, f.iss.key("k1"), "k1", c)
}

func TestRouting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		method, path string
		wantStatus   int
		wantFunction string
		wantRouteKey string
		wantParams   map[string]string
	}{
		{name: "param route", method: "GET", path: "/invite/abc", wantStatus: 200, wantFunction: "Consent", wantRouteKey: "GET /invite/{token}", wantParams: map[string]string{"token": "abc"}},
		{name: "static segment beats param", method: "GET", path: "/invite/abc/status", wantStatus: 200, wantFunction: "Consent", wantRouteKey: "GET /invite/{token}/status", wantParams: map[string]string{"token": "abc"}},
		{name: "method picks the param route", method: "POST", path: "/invite/abc/status", wantStatus: 200, wantFunction: "Consent", wantRouteKey: "POST /invite/{token}/{action}", wantParams: map[string]string{"token": "abc", "action": "status"}},
		{name: "path parameters are decoded", method: "GET", path: "/invite/a%20b%2Fc", wantStatus: 200, wantFunction: "Consent", wantRouteKey: "GET /invite/{token}", wantParams: map[string]string{"token": "a b/c"}},
		{name: "greedy variable takes the rest", method: "GET", path: "/assets/css/site.css", wantStatus: 200, wantFunction: "Assets", wantRouteKey: "GET /assets/{proxy+}", wantParams: map[string]string{"proxy": "css/site.css"}},
		{name: "greedy variable needs a segment", method: "GET", path: "/assets/", wantStatus: 404},
		{name: "static beats ANY param", method: "GET", path: "/any/static", wantStatus: 200, wantFunction: "AnyStatic", wantRouteKey: "GET /any/static"},
		{name: "ANY matches other methods", method: "DELETE", path: "/any/static", wantStatus: 200, wantFunction: "Any", wantRouteKey: "ANY /any/{x}", wantParams: map[string]string{"x": "static"}},
		{name: "exact method beats ANY", method: "GET", path: "/any/1/y", wantStatus: 200, wantFunction: "AnyGet", wantRouteKey: "GET /any/{x}/y", wantParams: map[string]string{"x": "1"}},
		{name: "ANY on the same path", method: "PUT", path: "/any/1/y", wantStatus: 200, wantFunction: "AnyAny", wantRouteKey: "ANY /any/{x}/y", wantParams: map[string]string{"x": "1"}},
		{name: "wrong method", method: "DELETE", path: "/invite/abc", wantStatus: 404},
		{name: "no route", method: "GET", path: "/nowhere", wantStatus: 404},
		{name: "too many segments", method: "GET", path: "/invite/a/status/x", wantStatus: 404},
		{name: "trailing slash", method: "GET", path: "/invite/abc/", wantStatus: 404},
		{name: "root", method: "GET", path: "/", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			w := f.do(httptest.NewRequest(tt.method, tt.path, nil))
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if tt.wantStatus == 404 {
				if got := w.Body.String(); got != `{"message":"Not Found"}` {
					t.Errorf("body = %s", got)
				}
				if f.inv.calls != 0 {
					t.Errorf("function invoked for an unmatched request")
				}
				return
			}
			ev := f.inv.lastEvent(t)
			if f.inv.function != tt.wantFunction || ev.RouteKey != tt.wantRouteKey || ev.RequestContext.RouteKey != tt.wantRouteKey {
				t.Errorf("invoked %s with route key %q/%q, want %s %q", f.inv.function, ev.RouteKey, ev.RequestContext.RouteKey, tt.wantFunction, tt.wantRouteKey)
			}
			if !equalMaps(ev.PathParameters, tt.wantParams) {
				t.Errorf("pathParameters = %v, want %v", ev.PathParameters, tt.wantParams)
			}
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func TestEventMatchesGolden(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r := httptest.NewRequest("POST", "http://api.local:3000/v1/customers/c%201/upgrades?q=a&tag=x&tag=y&empty=", strings.NewReader(`{"licence":"OC_PRO"}`))
	r.RemoteAddr = "192.0.2.10:51234"
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "portal/1.0")
	r.Header.Add("X-Multi", "one")
	r.Header.Add("X-Multi", "two")
	r.Header.Add("Cookie", "session=abc; theme=dark")
	r.Header.Add("Cookie", "lang=en")
	r.Header.Set("Authorization", "Bearer "+f.token(t, nil))

	if w := f.do(r); w.Code != 200 {
		t.Fatalf("status = %d, body %s", w.Code, w.Body)
	}
	ev := f.inv.lastEvent(t)
	// The token and the issuer's port change on every run; the rest is fixed.
	if !strings.HasPrefix(ev.Headers["authorization"], "Bearer ey") || ev.RequestContext.Authorizer.JWT.Claims["iss"] != f.iss.srv.URL {
		t.Errorf("authorization header %q or iss claim %q not passed on", ev.Headers["authorization"], ev.RequestContext.Authorizer.JWT.Claims["iss"])
	}
	ev.Headers["authorization"] = "Bearer <token>"
	ev.RequestContext.Authorizer.JWT.Claims["iss"] = "<issuer>"
	got, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "event-jwt.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(bytes.TrimSpace(want)) != string(got) {
		t.Errorf("event differs from %s (run go test -update to accept):\n%s", golden, got)
	}
}

func TestBodyEncoding(t *testing.T) {
	t.Parallel()
	body := "name=Zoë&sum=€\n"
	tests := []struct {
		contentType string
		wantBase64  bool
	}{
		{"text/plain; charset=utf-8", false},
		{"text/html", false},
		{"application/json", false},
		{"application/problem+json", false},
		{"application/x-www-form-urlencoded", false},
		{"application/xml", false},
		{"APPLICATION/JSON", false},
		{"application/octet-stream", true},
		{"image/png", true},
		{"", true},
	}
	for _, tt := range tests {
		t.Run(tt.contentType, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			r := httptest.NewRequest("POST", "/invite/t/accept", strings.NewReader(body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			f.do(r)
			ev := f.inv.lastEvent(t)
			if ev.IsBase64Encoded != tt.wantBase64 {
				t.Fatalf("isBase64Encoded = %v, want %v", ev.IsBase64Encoded, tt.wantBase64)
			}
			got := ev.Body
			if ev.IsBase64Encoded {
				b, err := base64.StdEncoding.DecodeString(ev.Body)
				if err != nil {
					t.Fatal(err)
				}
				got = string(b)
			}
			if got != body {
				t.Errorf("body = %q, want %q", got, body)
			}
		})
	}
}

func TestEmptyBodyIsOmitted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.do(httptest.NewRequest("GET", "/invite/t", nil))
	if ev := f.inv.lastEvent(t); ev.Body != "" || ev.IsBase64Encoded || ev.Cookies != nil || ev.QueryStringParameters != nil || ev.RequestContext.Authorizer != nil {
		t.Errorf("event of a bare public GET = %+v", ev)
	}
}

func TestAuthorizer(t *testing.T) {
	t.Parallel()
	other := newKey(t)
	tests := []struct {
		name        string
		header      func(t *testing.T, f *fixture) string
		wantStatus  int
		wantAuthHdr string // substring of www-authenticate
	}{
		{name: "no token", header: func(*testing.T, *fixture) string { return "" }, wantStatus: 401, wantAuthHdr: "Bearer"},
		{name: "not a JWT", header: func(*testing.T, *fixture) string { return "Bearer nonsense" }, wantStatus: 401, wantAuthHdr: "malformed"},
		{name: "bad signature", header: func(t *testing.T, f *fixture) string {
			return "Bearer " + sign(t, other, "k1", validClaims(f.iss.srv.URL))
		}, wantStatus: 401, wantAuthHdr: "signature"},
		{name: "unknown key", header: func(t *testing.T, f *fixture) string {
			return "Bearer " + sign(t, other, "k9", validClaims(f.iss.srv.URL))
		}, wantStatus: 401, wantAuthHdr: "signature"},
		{name: "HS256 with the public key as secret", header: func(t *testing.T, f *fixture) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims(f.iss.srv.URL))
			tok.Header["kid"] = "k1"
			s, err := tok.SignedString(f.iss.key("k1").N.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			return "Bearer " + s
		}, wantStatus: 401, wantAuthHdr: "invalid_token"},
		{name: "wrong issuer", header: func(t *testing.T, f *fixture) string {
			return "Bearer " + f.token(t, func(c jwt.MapClaims) { c["iss"] = f.iss.srv.URL + "/" })
		}, wantStatus: 401, wantAuthHdr: "issuer"},
		{name: "wrong audience", header: func(t *testing.T, f *fixture) string {
			return "Bearer " + f.token(t, func(c jwt.MapClaims) { c["aud"] = "someone-else" })
		}, wantStatus: 401, wantAuthHdr: "audience"},
		{name: "aud wins over a matching client_id", header: func(t *testing.T, f *fixture) string {
			return "Bearer " + f.token(t, func(c jwt.MapClaims) { c["aud"] = "someone-else"; c["client_id"] = audience })
		}, wantStatus: 401, wantAuthHdr: "audience"},
		{name: "client_id when there is no aud", header: func(t *testing.T, f *fixture) string {
			return "Bearer " + f.token(t, func(c jwt.MapClaims) { delete(c, "aud"); c["client_id"] = audience })
		}, wantStatus: 200},
		{name: "audience among several", header: func(t *testing.T, f *fixture) string {
			return "Bearer " + f.token(t, func(c jwt.MapClaims) { c["aud"] = []string{"x", audience} })
		}, wantStatus: 200},
		{name: "expired", header: func(t *testing.T, f *fixture) string {
			return "Bearer " + f.token(t, func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() })
		}, wantStatus: 401, wantAuthHdr: "expired"},
		{name: "no exp", header: func(t *testing.T, f *fixture) string {
			return "Bearer " + f.token(t, func(c jwt.MapClaims) { delete(c, "exp") })
		}, wantStatus: 401, wantAuthHdr: "invalid_token"},
		{name: "nbf in the future", header: func(t *testing.T, f *fixture) string {
			return "Bearer " + f.token(t, func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() })
		}, wantStatus: 401, wantAuthHdr: "not valid yet"},
		{name: "iat in the future", header: func(t *testing.T, f *fixture) string {
			return "Bearer " + f.token(t, func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() })
		}, wantStatus: 401, wantAuthHdr: "future"},
		{name: "missing scope", header: func(t *testing.T, f *fixture) string {
			return "Bearer " + f.token(t, func(c jwt.MapClaims) { c["scp"] = "Upgrades.Read" })
		}, wantStatus: 403, wantAuthHdr: "insufficient_scope"},
		{name: "scope claim instead of scp", header: func(t *testing.T, f *fixture) string {
			return "Bearer " + f.token(t, func(c jwt.MapClaims) { delete(c, "scp"); c["scope"] = "openid Upgrades.Manage" })
		}, wantStatus: 200},
		{name: "ok", header: func(t *testing.T, f *fixture) string { return "Bearer " + f.token(t, nil) }, wantStatus: 200},
		{name: "ok without Bearer prefix", header: func(t *testing.T, f *fixture) string { return f.token(t, nil) }, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			r := httptest.NewRequest("GET", "/v1/customers/c1", nil)
			if h := tt.header(t, f); h != "" {
				r.Header.Set("Authorization", h)
			}
			w := f.do(r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d (%s, www-authenticate %q), want %d", w.Code, w.Body, w.Header().Get("Www-Authenticate"), tt.wantStatus)
			}
			switch tt.wantStatus {
			case 200:
				ev := f.inv.lastEvent(t)
				if ev.RequestContext.Authorizer == nil || ev.RequestContext.Authorizer.JWT.Claims["sub"] != "staff-1" {
					t.Errorf("authorizer context = %+v, want the token's claims", ev.RequestContext.Authorizer)
				}
				return
			case 401:
				if w.Body.String() != `{"message":"Unauthorized"}` {
					t.Errorf("body = %s", w.Body)
				}
			case 403:
				if w.Body.String() != `{"message":"Forbidden"}` {
					t.Errorf("body = %s", w.Body)
				}
			}
			if got := w.Header().Get("Www-Authenticate"); !strings.Contains(got, tt.wantAuthHdr) {
				t.Errorf("www-authenticate = %q, want it to mention %q", got, tt.wantAuthHdr)
			}
			if f.inv.calls != 0 {
				t.Errorf("function invoked for a denied request")
			}
		})
	}
}

func TestClaimsAreStrings(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r := httptest.NewRequest("GET", "/v1/customers/c1", nil)
	r.Header.Set("Authorization", "Bearer "+f.token(t, func(c jwt.MapClaims) { c["admin"] = true; c["n"] = 1.5 }))
	if w := f.do(r); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	jwtCtx := f.inv.lastEvent(t).RequestContext.Authorizer.JWT
	want := map[string]string{
		"roles": "[admin viewer]",
		"exp":   "1773345838",
		"admin": "true",
		"n":     "1.5",
		"scp":   "Upgrades.Read Upgrades.Manage",
	}
	for k, v := range want {
		if jwtCtx.Claims[k] != v {
			t.Errorf("claim %s = %q, want %q", k, jwtCtx.Claims[k], v)
		}
	}
	if strings.Join(jwtCtx.Scopes, " ") != "Upgrades.Read Upgrades.Manage" {
		t.Errorf("scopes = %v", jwtCtx.Scopes)
	}
}

func TestKeysAreCachedAndRefetchedForANewKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.gw.auth.refetch = 0
	call := func(tok string) int {
		r := httptest.NewRequest("GET", "/v1/customers/c1", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return f.do(r).Code
	}
	for range 3 {
		if code := call(f.token(t, nil)); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	if f.iss.fetches != 1 {
		t.Errorf("key set fetched %d times for one key, want 1", f.iss.fetches)
	}
	rotated := newKey(t)
	f.iss.mu.Lock()
	f.iss.keys["k2"] = rotated
	f.iss.mu.Unlock()
	if code := call(sign(t, rotated, "k2", validClaims(f.iss.srv.URL))); code != 200 {
		t.Errorf("token signed with a rotated-in key: status %d, want 200", code)
	}
	if f.iss.fetches != 2 {
		t.Errorf("key set fetched %d times, want 2", f.iss.fetches)
	}
}

func TestPublicRoutesSkipTheAuthorizer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r := httptest.NewRequest("GET", "/invite/t", nil)
	r.Header.Set("Authorization", "Bearer garbage")
	if w := f.do(r); w.Code != 200 {
		t.Errorf("public route with a bad token: status %d, want 200", w.Code)
	}
}

func TestResponseMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		answer      string
		wantStatus  int
		wantBody    string
		wantHeaders map[string][]string
	}{
		{
			name:       "structured",
			answer:     `{"statusCode":201,"headers":{"content-type":"text/html","x-one":"1"},"multiValueHeaders":{"x-many":["a","b"]},"cookies":["a=1; HttpOnly","b=2"],"body":"<p>hi</p>"}`,
			wantStatus: 201, wantBody: "<p>hi</p>",
			wantHeaders: map[string][]string{"Content-Type": {"text/html"}, "X-One": {"1"}, "X-Many": {"a", "b"}, "Set-Cookie": {"a=1; HttpOnly", "b=2"}},
		},
		{
			name:       "base64 body",
			answer:     `{"statusCode":200,"headers":{"content-type":"image/png"},"body":"AAEC/w==","isBase64Encoded":true}`,
			wantStatus: 200, wantBody: "\x00\x01\x02\xff",
			wantHeaders: map[string][]string{"Content-Type": {"image/png"}},
		},
		{
			name:       "redirect without body",
			answer:     `{"statusCode":302,"headers":{"location":"https://login.example/authorize"}}`,
			wantStatus: 302, wantBody: "",
			wantHeaders: map[string][]string{"Location": {"https://login.example/authorize"}},
		},
		{
			name:       "shortcut object",
			answer:     `{"id":"c1","name":"Contoso"}`,
			wantStatus: 200, wantBody: `{"id":"c1","name":"Contoso"}`,
			wantHeaders: map[string][]string{"Content-Type": {"application/json"}},
		},
		{
			name:       "shortcut string",
			answer:     `"hello"`,
			wantStatus: 200, wantBody: `"hello"`,
			wantHeaders: map[string][]string{"Content-Type": {"application/json"}},
		},
		{name: "not JSON", answer: `hello`, wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`},
		{name: "bad base64", answer: `{"statusCode":200,"body":"***","isBase64Encoded":true}`, wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`},
		{name: "status out of range", answer: `{"statusCode":42}`, wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			f.inv.answer = []byte(tt.answer)
			w := f.do(httptest.NewRequest("GET", "/invite/t", nil))
			if w.Code != tt.wantStatus || w.Body.String() != tt.wantBody {
				t.Errorf("response = %d %q, want %d %q", w.Code, w.Body, tt.wantStatus, tt.wantBody)
			}
			for k, want := range tt.wantHeaders {
				if got := w.Header().Values(k); strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if w.Header().Get("Apigw-Requestid") == "" {
				t.Errorf("no apigw-requestid header")
			}
		})
	}
}

func TestFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		body       io.Reader
		maxBody    int64
		wantStatus int
		wantBody   string
	}{
		{name: "function error", err: errors.New("lambdapool: Portal: function error errorString: boom"), wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`},
		{name: "function timeout", err: timeoutErr{}, wantStatus: 503, wantBody: `{"message":"Service Unavailable"}`},
		{name: "integration deadline", err: context.DeadlineExceeded, wantStatus: 503, wantBody: `{"message":"Service Unavailable"}`},
		{name: "body over the limit", body: strings.NewReader(strings.Repeat("x", 11)), maxBody: 10, wantStatus: 413, wantBody: `{"message":"Request Entity Too Large"}`},
		{name: "body of unknown length over the limit", body: io.MultiReader(strings.NewReader(strings.Repeat("x", 11))), maxBody: 10, wantStatus: 413, wantBody: `{"message":"Request Entity Too Large"}`},
		{name: "body at the limit", body: strings.NewReader(strings.Repeat("x", 10)), maxBody: 10, wantStatus: 200, wantBody: "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, func(c *Config) { c.MaxBodyBytes = tt.maxBody })
			f.inv.err = tt.err
			w := f.do(httptest.NewRequest("POST", "/invite/t/accept", tt.body))
			if w.Code != tt.wantStatus || w.Body.String() != tt.wantBody {
				t.Errorf("response = %d %s, want %d %s", w.Code, w.Body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestAccessLogKeepsSecretsOut(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r := httptest.NewRequest("GET", "/invite/secret-link-token?code=secret-code", nil)
	f.do(r)
	tok := f.token(t, nil)
	r = httptest.NewRequest("GET", "/v1/customers/c1", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	f.do(r)
	f.inv.err = errors.New("boom")
	f.do(httptest.NewRequest("GET", "/invite/secret-link-token", nil))

	logs := f.logs.String()
	for _, secret := range []string{"secret-link-token", "secret-code", tok} {
		if strings.Contains(logs, secret) {
			t.Errorf("log holds %q:\n%s", secret, logs)
		}
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("%d access-log lines, want 3:\n%s", len(lines), logs)
	}
	if lines[0]["routeKey"] != "GET /invite/{token}" || lines[0]["status"] != 200.0 || lines[0]["method"] != "GET" || lines[0]["requestId"] != "JKJaXmPLvHcESHA=" {
		t.Errorf("access-log line = %v", lines[0])
	}
	if lines[2]["status"] != 500.0 {
		t.Errorf("access-log line of a failure = %v", lines[2])
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	inv := &fakeInvoker{}
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "no invoker", cfg: Config{}},
		{name: "path without slash", cfg: Config{Invoker: inv, Routes: []template.Route{{Function: "F", Method: "GET", Path: "x"}}}},
		{name: "greedy not last", cfg: Config{Invoker: inv, Routes: []template.Route{{Function: "F", Method: "GET", Path: "/{p+}/x"}}}},
		{name: "duplicate route", cfg: Config{Invoker: inv, Routes: []template.Route{{Function: "F", Method: "GET", Path: "/x"}, {Function: "G", Method: "GET", Path: "/x"}}}},
		{name: "route without function", cfg: Config{Invoker: inv, Routes: []template.Route{{Method: "GET", Path: "/x"}}}},
		{name: "authorizer without issuer", cfg: Config{Invoker: inv, Authorizer: &template.JWTAuthorizer{Audience: []string{"a"}}}},
		{name: "authorizer without audience", cfg: Config{Invoker: inv, Authorizer: &template.JWTAuthorizer{Issuer: "https://i"}}},
		{name: "negative body limit", cfg: Config{Invoker: inv, MaxBodyBytes: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(tt.cfg); err == nil {
				t.Errorf("New accepted %+v", tt.cfg)
			}
		})
	}
}

func TestTemplateRoutesAreServed(t *testing.T) {
	t.Parallel()
	tpl, err := template.Load("../../template.yaml", template.Options{Parameters: map[string]string{
		"JwtIssuer": "https://issuer.example", "JwtAudience": audience,
	}})
	if err != nil {
		t.Fatal(err)
	}
	inv := &fakeInvoker{}
	h, err := New(Config{Routes: tpl.Routes, Authorizer: tpl.Authorizer, Invoker: inv, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("New with template.yaml's routes: %v", err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/customers/c1", nil))
	if w.Code != 401 {
		t.Errorf("portal route without token: status %d, want 401", w.Code)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/invite/tok/status", nil))
	if w.Code != 200 || inv.lastEvent(t).RouteKey != "GET /invite/{token}/status" {
		t.Errorf("public route: status %d, route %q", w.Code, inv.lastEvent(t).RouteKey)
	}
}
