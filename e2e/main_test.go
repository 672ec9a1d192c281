// Package e2e tests the service end to end: the real bootstraps under
// aws-lambda-rie behind the local API Gateway, with DynamoDB Local,
// aws-ses-v2-local, the local EventBridge and the Entra emulator, all started
// by infra/stack on free ports.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/stack"
)

// env is the stack every test in this package talks to.
var env *stack.Stack

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped under -short (needs the local stack; run make test)")
		os.Exit(0)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	cache := os.Getenv("OCPRO_CACHE")
	if cache == "" {
		cache = filepath.Join(root, ".cache")
	}
	bin, err := os.MkdirTemp("", "ocpro-e2e-bin-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(bin)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := stack.BuildFunctions(ctx, root, bin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	var logs bytes.Buffer
	s, err := stack.Start(ctx, stack.Options{
		Root: root, Cache: cache, Bootstraps: bin,
		// make test builds the console first; the walk fails without it.
		ConsoleDir: filepath.Join(root, "console", "dist"),
		Output:     &lockedBuffer{buf: &logs},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting the stack:", err, "\n(run make test: it installs the stand-ins)")
		return 1
	}
	env = s
	code := m.Run()
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: stopping the stack:", err)
	}
	// Every secret the tests saw must be absent from every line the stack
	// printed: the functions' logs, the gateway's access log, the stand-ins.
	if leaked := leakedSecrets(logs.Bytes()); len(leaked) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: secrets found in the stack's output: %v\n", leaked)
		code = 1
	} else if code == 0 {
		secrets.Lock()
		fmt.Printf("e2e: searched %d bytes of stack output for %d secrets: none found\n", logs.Len(), len(secrets.values))
		secrets.Unlock()
	}
	if code != 0 || os.Getenv("E2E_LOGS") != "" {
		fmt.Fprintln(os.Stderr, "---- stack output ----")
		os.Stderr.Write(logs.Bytes())
	}
	return code
}

// client is a portal client acting for one operator.
type client struct {
	t        testing.TB
	operator string
	token    string
}

func portal(t testing.TB, operator string) *client {
	t.Helper()
	tok, err := env.Entra.OperatorToken(operator)
	if err != nil {
		t.Fatalf("operator token: %v", err)
	}
	return &client{t: t, operator: operator, token: tok}
}

// response is what came back from one request.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

func (c *client) do(method, path string, body any, header ...string) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, env.APIURL+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
		rememberSecret("bearer token", c.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	r := response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	rememberLinks(r)
	if strings.HasPrefix(path, "/v1/") {
		checkContract(c.t, req, r) // every portal answer must be one openapi.yaml declares
	}
	return r
}

// rememberLinks records the link tokens of every authUrl in a response.
func rememberLinks(r response) {
	for _, part := range strings.Split(string(r.Body), `"authUrl":"`)[1:] {
		if end := strings.IndexByte(part, '"'); end > 0 {
			rememberLink(part[:end])
		}
	}
}

// must fails the test unless the response has the wanted status.
func must(t testing.TB, r response, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d\n%s", r.Status, status, r.Body)
	}
	return r.JSON(t)
}

// waitFor bounds every wait for something the functions do asynchronously
// (a mail, an event's effect, a page's next step).
const waitFor = 40 * time.Second

// waitUntil polls ok, letting the local EventBridge deliver what is in
// flight between tries, until it holds or waitFor passes.
func waitUntil(t testing.TB, what string, ok func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	for !ok() {
		_ = env.Bus.Drain(ctx)
		select {
		case <-ctx.Done():
			t.Fatalf("gave up after %v waiting for %s", waitFor, what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
