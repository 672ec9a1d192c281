package entra

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// newServed starts an emulator on a free loopback port for the test.
func newServed(t *testing.T, cfg Config) (*Emulator, string) {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	base, err := e.Serve(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	return e, base
}

// getJSON fetches u and decodes the body into out, returning the status.
func getJSON(t *testing.T, c *http.Client, u string, out any) int {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	decodeBody(t, resp, out)
	return resp.StatusCode
}

// postForm posts form to u with optional headers and decodes the answer.
func postForm(t *testing.T, c *http.Client, u string, form url.Values, header http.Header, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	decodeBody(t, resp, out)
	return resp.StatusCode
}

func decodeBody(t *testing.T, resp *http.Response, out any) {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if out == nil {
		return
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("decode %s (status %d): %v\n%s", resp.Request.URL, resp.StatusCode, err, body)
	}
}

// checkAADError asserts the Microsoft error shape and the AADSTS number.
func checkAADError(t *testing.T, body map[string]any, wantError string, wantCode int) {
	t.Helper()
	if body["error"] != wantError {
		t.Errorf("error = %v, want %s", body["error"], wantError)
	}
	desc, _ := body["error_description"].(string)
	if want := "AADSTS" + itoa(wantCode) + ": "; !strings.HasPrefix(desc, want) {
		t.Errorf("error_description = %q, want prefix %q", desc, want)
	}
	for _, part := range []string{"\r\nTrace ID: ", "\r\nCorrelation ID: ", "\r\nTimestamp: "} {
		if !strings.Contains(desc, part) {
			t.Errorf("error_description lacks %q: %q", part, desc)
		}
	}
	codes, _ := body["error_codes"].([]any)
	if len(codes) != 1 || codes[0] != float64(wantCode) {
		t.Errorf("error_codes = %v, want [%d]", body["error_codes"], wantCode)
	}
	for _, k := range []string{"trace_id", "correlation_id"} {
		if s, _ := body[k].(string); !guidPattern.MatchString(s) {
			t.Errorf("%s = %v, want a GUID", k, body[k])
		}
	}
	if ts, _ := body["timestamp"].(string); len(ts) != len(aadTimestamp) || !strings.HasSuffix(ts, "Z") {
		t.Errorf("timestamp = %v, want layout %s", body["timestamp"], aadTimestamp)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
