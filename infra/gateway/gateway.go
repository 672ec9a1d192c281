// Package gateway is a local stand-in for an API Gateway HTTP API with Lambda
// proxy integrations (payload format 2.0) and a JWT authorizer.
//
// It routes by the routes of template.yaml as API Gateway does, validates
// bearer tokens against the issuer's published keys, builds the
// events.APIGatewayV2HTTPRequest a function receives in AWS, invokes the
// function and turns its answer into the HTTP response, with API Gateway's
// own status codes and bodies for everything that goes wrong on the way.
package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/infra/template"
)

// DefaultMaxBodyBytes is API Gateway's payload limit.
const DefaultMaxBodyBytes = 10 << 20

// integrationTimeout is the longest an HTTP API waits for an integration.
const integrationTimeout = 30 * time.Second

// Invoker runs a function by logical id with an event and returns its
// response payload. An error with a Timeout() bool method reporting true
// means the function timed out.
type Invoker interface {
	Invoke(ctx context.Context, function string, event []byte) ([]byte, error)
}

// Config wires a gateway.
type Config struct {
	// Routes are the HttpApi events of template.yaml.
	Routes []template.Route
	// Authorizer guards every route not marked Public; nil leaves all
	// routes open, as an API without authorizer does.
	Authorizer *template.JWTAuthorizer
	// Invoker runs the functions. Required.
	Invoker Invoker
	// HTTPClient fetches the issuer's discovery document and keys (the
	// Entra emulator serves them over https with its own CA). Default: a
	// client with a 10 second timeout.
	HTTPClient *http.Client
	// AccountID, APIID and Stage fill the event's requestContext. Defaults:
	// 123456789012, "local", "$default". Region (default us-east-1) is
	// accepted for symmetry with AWS; the 2.0 event carries no region.
	Region, AccountID, APIID, Stage string
	// Log receives one access-log line per request and the detail of
	// failures. Default: slog.Default().
	Log *slog.Logger
	// MaxBodyBytes bounds request bodies. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Throttle gives a route key's rate limit (template.Template's
	// ThrottleFor); requests over it get 429 as from API Gateway. Nil
	// throttles nothing.
	Throttle func(routeKey string) (template.Throttle, bool)
}

// gateway is the http.Handler New returns.
type gateway struct {
	cfg       Config
	router    *router
	auth      *authorizer // nil when no authorizer is configured
	throttles throttles
	log       *slog.Logger
	now       func() time.Time
	requestID func() string
}

// New checks cfg and returns the gateway handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.Invoker == nil {
		return nil, errors.New("gateway: Config.Invoker is nil")
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, errors.New("gateway: Config.MaxBodyBytes is negative")
	}
	rt, err := newRouter(cfg.Routes)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g := &gateway{
		cfg:       withDefaults(cfg),
		router:    rt,
		now:       time.Now,
		requestID: newRequestID,
	}
	g.log = g.cfg.Log
	g.throttles = newThrottles(cfg.Routes, cfg.Throttle, g.now())
	if cfg.Authorizer != nil {
		g.auth, err = newAuthorizer(*cfg.Authorizer, g.cfg.HTTPClient, func() time.Time { return g.now() })
		if err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
	}
	return g, nil
}

func withDefaults(cfg Config) Config {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "123456789012"
	}
	if cfg.APIID == "" {
		cfg.APIID = "local"
	}
	if cfg.Stage == "" {
		cfg.Stage = "$default"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return cfg
}

// newRequestID makes an id shaped like API Gateway's (base64 of 10 bytes).
func newRequestID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.StdEncoding.EncodeToString(b)
}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// ServeHTTP handles one request the way API Gateway does.
func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.now()
	id := g.requestID()
	w.Header().Set("Apigw-Requestid", id)
	sw := &statusWriter{ResponseWriter: w}
	routeKey := g.serve(sw, r, id, start)
	// The route key, never the raw path or query: public routes carry
	// secret link tokens in both.
	g.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("requestId", id),
		slog.String("method", r.Method),
		slog.String("routeKey", routeKey),
		slog.Int("status", sw.status),
		slog.Duration("latency", g.now().Sub(start)),
	)
}

// serve answers r and returns the route key it matched ("" when none).
func (g *gateway) serve(w *statusWriter, r *http.Request, id string, start time.Time) string {
	rt, params, ok := g.router.match(r.Method, r.URL.EscapedPath())
	if !ok {
		writeMessage(w, http.StatusNotFound, "Not Found")
		return ""
	}
	ctx := r.Context()
	if !g.throttles.allow(rt.key, g.now()) {
		writeMessage(w, http.StatusTooManyRequests, "Too Many Requests")
		return rt.key
	}

	var who *identity
	if g.auth != nil && !rt.Public {
		var err error
		who, err = g.auth.authorize(ctx, r)
		var d *denial
		switch {
		case errors.As(err, &d):
			g.deny(w, d)
			return rt.key
		case err != nil:
			g.log.ErrorContext(ctx, "authorizer failed", "requestId", id, "routeKey", rt.key, "err", err)
			writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
			return rt.key
		}
	}

	if r.ContentLength > g.cfg.MaxBodyBytes {
		writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return rt.key
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, g.cfg.MaxBodyBytes+1))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "Bad Request")
		return rt.key
	}
	if int64(len(body)) > g.cfg.MaxBodyBytes {
		writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return rt.key
	}

	ev := g.event(request{
		http: r, route: rt, params: params, body: body, id: id, at: start, identity: who,
		accountID: g.cfg.AccountID, apiID: g.cfg.APIID, stage: g.cfg.Stage,
	})
	payload, err := json.Marshal(ev)
	if err != nil {
		g.log.ErrorContext(ctx, "encoding event", "requestId", id, "routeKey", rt.key, "err", err)
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return rt.key
	}

	ctx, cancel := context.WithTimeout(ctx, integrationTimeout)
	defer cancel()
	out, err := g.cfg.Invoker.Invoke(ctx, rt.Function, payload)
	if err != nil {
		var t interface{ Timeout() bool }
		if errors.As(err, &t) && t.Timeout() {
			g.log.WarnContext(ctx, "function timed out", "requestId", id, "routeKey", rt.key, "function", rt.Function, "err", err)
			writeMessage(w, http.StatusServiceUnavailable, "Service Unavailable")
			return rt.key
		}
		g.log.ErrorContext(ctx, "function failed", "requestId", id, "routeKey", rt.key, "function", rt.Function, "err", err)
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return rt.key
	}
	if err := writeResponse(w, out); err != nil {
		g.log.ErrorContext(ctx, "malformed function response", "requestId", id, "routeKey", rt.key, "function", rt.Function, "err", err)
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
	}
	return rt.key
}

// deny answers a failed authorization with API Gateway's body and a
// www-authenticate header that says why.
func (g *gateway) deny(w http.ResponseWriter, d *denial) {
	switch {
	case d.status == http.StatusForbidden:
		w.Header().Set("Www-Authenticate", fmt.Sprintf(`Bearer scope=%q error="insufficient_scope" error_description=%q`,
			strings.Join(g.auth.cfg.Scopes, " "), d.description))
		writeMessage(w, http.StatusForbidden, "Forbidden")
	case d.description == "":
		// No token at all: RFC 6750 sends no error code then.
		w.Header().Set("Www-Authenticate", "Bearer")
		writeMessage(w, http.StatusUnauthorized, "Unauthorized")
	default:
		w.Header().Set("Www-Authenticate", fmt.Sprintf(`Bearer scope="" error="invalid_token" error_description=%q`, d.description))
		writeMessage(w, http.StatusUnauthorized, "Unauthorized")
	}
}

// writeMessage writes API Gateway's own {"message": ...} answers.
func writeMessage(w http.ResponseWriter, status int, message string) {
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{message})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeResponse maps a function's payload to the HTTP response. A JSON
// object with a statusCode is a structured response; any other valid JSON is
// the payload 2.0 shortcut: 200 with the JSON itself as body.
func writeResponse(w http.ResponseWriter, payload []byte) error {
	if !json.Valid(payload) {
		return errors.New("payload is not JSON")
	}
	var probe map[string]json.RawMessage
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &probe) != nil || probe["statusCode"] == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(payload)
		return nil
	}

	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(trimmed, &resp); err != nil {
		return fmt.Errorf("decoding response: %w", err)
	}
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return fmt.Errorf("status code %d out of range", resp.StatusCode)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return fmt.Errorf("decoding base64 body: %w", err)
		}
	}
	h := w.Header()
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return nil
}
