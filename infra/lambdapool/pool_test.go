package lambdapool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The binaries every process test needs, built once by TestMain.
var (
	rieBin       string
	bootstrapBin string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if !testingShort() {
		dir, err := os.MkdirTemp("", "lambdapool-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		rieBin, bootstrapBin = filepath.Join(dir, "aws-lambda-rie"), filepath.Join(dir, "fn", "bootstrap")
		builds := []*exec.Cmd{
			exec.Command("go", "build", "-o", rieBin, "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"),
			exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bootstrapBin, "./testdata/fn"),
		}
		builds[0].Dir = "../../tools"
		for _, b := range builds {
			if out, err := b.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n%s", strings.Join(b.Args, " "), err, out)
				return 1
			}
		}
	}
	return m.Run()
}

// testingShort reads -test.short before m.Run parses the flags for us.
func testingShort() bool {
	for _, a := range os.Args[1:] {
		if a == "-test.short" || a == "-test.short=true" {
			return true
		}
	}
	return false
}

// reply is what the test function answers.
type reply struct {
	PID  int               `json:"pid"`
	Echo string            `json:"echo"`
	Env  map[string]string `json:"env"`
}

func newPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	if testing.Short() {
		t.Skip("runs aws-lambda-rie processes")
	}
	if cfg.Name == "" {
		cfg.Name = "Echo"
	}
	cfg.Bootstrap, cfg.RIE = bootstrapBin, rieBin
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func invoke(t *testing.T, p *Pool, event string) reply {
	t.Helper()
	out, err := p.Invoke(context.Background(), []byte(event))
	if err != nil {
		t.Fatalf("Invoke(%s): %v", event, err)
	}
	var r reply
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("Invoke(%s) = %s: %v", event, out, err)
	}
	return r
}

// invokeConcurrently runs n slow invocations at once and returns the PIDs
// that served them.
func invokeConcurrently(t *testing.T, p *Pool, n int, sleep time.Duration) map[int]int {
	t.Helper()
	var (
		mu   sync.Mutex
		pids = map[int]int{}
		wg   sync.WaitGroup
		errs = make(chan error, n)
	)
	for i := range n {
		wg.Go(func() {
			event := fmt.Sprintf(`{"echo":"%d","sleepMs":%d}`, i, sleep.Milliseconds())
			out, err := p.Invoke(context.Background(), []byte(event))
			if err != nil {
				errs <- err
				return
			}
			var r reply
			if err := json.Unmarshal(out, &r); err != nil {
				errs <- err
				return
			}
			mu.Lock()
			pids[r.PID]++
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Invoke: %v", err)
	}
	return pids
}

func TestInvokeEchoesAndSetsLambdaEnvironment(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{
		Name:     "UpgradeRequestsFunction",
		Env:      map[string]string{"TABLE_NAME": "upgrades", "AWS_LAMBDA_FUNCTION_NAME": "overridden"},
		Timeout:  1500 * time.Millisecond,
		MemoryMB: 256,
		Region:   "eu-west-1",
	})
	r := invoke(t, p, `{"echo":"hello","env":["TABLE_NAME","AWS_LAMBDA_FUNCTION_NAME","AWS_LAMBDA_FUNCTION_TIMEOUT","AWS_LAMBDA_FUNCTION_MEMORY_SIZE","AWS_REGION","HOME"]}`)
	if r.Echo != "hello" {
		t.Errorf("echo = %q, want hello", r.Echo)
	}
	want := map[string]string{
		"TABLE_NAME":                      "upgrades",
		"AWS_LAMBDA_FUNCTION_NAME":        "UpgradeRequestsFunction", // reserved: Env cannot override it
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     "2",                       // rounded up to whole seconds
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_REGION":                      "eu-west-1",
		"HOME":                            os.Getenv("HOME"),
	}
	for k, v := range want {
		if r.Env[k] != v {
			t.Errorf("function sees %s=%q, want %q", k, r.Env[k], v)
		}
	}
}

func TestConcurrentInvocationsRunInSeparateInstances(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{MaxInstances: 4})
	pids := invokeConcurrently(t, p, 4, 400*time.Millisecond)
	if len(pids) != 4 {
		t.Errorf("4 concurrent invocations ran on %d processes %v, want 4", len(pids), pids)
	}
	if s := p.Stats(); s.Started != 4 || s.Live != 4 || s.Busy != 0 || s.Invocations != 4 {
		t.Errorf("Stats = %+v, want 4 started, 4 live, 0 busy, 4 invocations", s)
	}
}

func TestIdleInstanceIsReused(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{})
	first := invoke(t, p, `{"echo":"1"}`)
	for i := 2; i <= 3; i++ {
		if r := invoke(t, p, `{"echo":"`+strconv.Itoa(i)+`"}`); r.PID != first.PID {
			t.Errorf("invocation %d ran on PID %d, want the idle instance's %d", i, r.PID, first.PID)
		}
	}
	if s := p.Stats(); s.Started != 1 || s.Invocations != 3 {
		t.Errorf("Stats = %+v, want 1 started, 3 invocations", s)
	}
}

func TestPoolNeverExceedsMaxInstances(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{MaxInstances: 2})
	pids := invokeConcurrently(t, p, 6, 200*time.Millisecond)
	if len(pids) != 2 {
		t.Errorf("6 invocations with max 2 ran on %d processes %v, want 2", len(pids), pids)
	}
	if s := p.Stats(); s.Started != 2 || s.Invocations != 6 {
		t.Errorf("Stats = %+v, want 2 started, 6 invocations", s)
	}
}

func TestWaitingForABusyPoolRespectsContext(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{MaxInstances: 1})
	started := make(chan struct{})
	slow := make(chan error, 1)
	go func() {
		close(started)
		_, err := p.Invoke(context.Background(), []byte(`{"sleepMs":1500}`))
		slow <- err
	}()
	<-started
	waitFor(t, "the slow invocation to hold the only instance", func() bool { return p.Stats().Busy == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Invoke(ctx, []byte(`{}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Invoke on a busy pool = %v, want context.DeadlineExceeded", err)
	}
	if err := <-slow; err != nil {
		t.Errorf("slow invocation: %v", err)
	}
}

func TestFunctionErrorsAreTyped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		event       string
		wantType    string
		wantMessage string
	}{
		{name: "handler returns an error", event: `{"fail":"customer not found"}`, wantType: "errorString", wantMessage: "customer not found"},
		{name: "runtime exits", event: `{"exit":true}`, wantType: "Runtime.ExitError", wantMessage: "exit status 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, Config{Name: "Fails"})
			_, err := p.Invoke(context.Background(), []byte(tt.event))
			var fe *FunctionError
			if !errors.As(err, &fe) {
				t.Fatalf("Invoke = %v, want a *FunctionError", err)
			}
			if fe.Function != "Fails" || fe.Type != tt.wantType || !strings.Contains(fe.Message, tt.wantMessage) {
				t.Errorf("FunctionError = %+v, want Fails, %s, message containing %q", fe, tt.wantType, tt.wantMessage)
			}
			if r := invoke(t, p, `{"echo":"again"}`); r.Echo != "again" {
				t.Errorf("next invocation echoed %q, want again", r.Echo)
			}
		})
	}
}

func TestTimeoutReplacesTheInstance(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Timeout: time.Second})
	before := invoke(t, p, `{}`)

	_, err := p.Invoke(context.Background(), []byte(`{"sleepMs":3000}`))
	var te *TimeoutError
	if !errors.As(err, &te) || !te.Timeout() || te.Limit != time.Second {
		t.Fatalf("Invoke past the timeout = %v, want a *TimeoutError of 1s", err)
	}
	if !processGone(before.PID) {
		t.Errorf("bootstrap %d still runs after its timeout", before.PID)
	}
	if s := p.Stats(); s.Live != 0 {
		t.Errorf("Stats after timeout = %+v, want no live instance", s)
	}
	after := invoke(t, p, `{}`)
	if after.PID == before.PID {
		t.Errorf("invocation after the timeout ran on the old PID %d", after.PID)
	}
	if s := p.Stats(); s.Started != 2 {
		t.Errorf("Stats = %+v, want 2 started", s)
	}
}

func TestDeadInstanceIsReplaced(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{})
	before := invoke(t, p, `{}`)

	p.mu.Lock()
	in := p.idle[0]
	p.mu.Unlock()
	if err := in.cmd.Process.Kill(); err != nil {
		t.Fatalf("killing the emulator: %v", err)
	}
	<-in.done

	after := invoke(t, p, `{}`)
	if after.PID == before.PID {
		t.Errorf("invocation ran on PID %d of the dead instance", after.PID)
	}
	if s := p.Stats(); s.Started != 2 || s.Live != 1 {
		t.Errorf("Stats = %+v, want 2 started, 1 live", s)
	}
	waitFor(t, "the dead instance's bootstrap to go", func() bool { return processGone(before.PID) })
}

// An idle environment whose emulator no longer listens, before the pool has
// noticed, refuses the connection; the event never reached a function, so
// the pool gives it to a fresh environment instead of failing the call.
func TestRefusedConnectionGoesToAFreshInstance(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{})
	before := invoke(t, p, `{}`)

	p.mu.Lock()
	p.idle[0].url = "http://127.0.0.1:1/2015-03-31/functions/function/invocations"
	p.mu.Unlock()

	after := invoke(t, p, `{}`)
	if after.PID == before.PID {
		t.Errorf("invocation ran on PID %d of the unreachable instance", after.PID)
	}
	if s := p.Stats(); s.Started != 2 {
		t.Errorf("Stats = %+v, want 2 started", s)
	}
}

func TestCloseLeavesNoProcessBehind(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{})
	pids := invokeConcurrently(t, p, 3, 200*time.Millisecond)

	p.mu.Lock()
	for in := range p.live {
		pids[in.cmd.Process.Pid]++
	}
	p.mu.Unlock()
	if len(pids) != 6 {
		t.Fatalf("want 3 bootstraps and 3 emulators, got PIDs %v", pids)
	}

	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for pid := range pids {
		if !processGone(pid) {
			t.Errorf("process %d survived Close", pid)
		}
	}
	if _, err := p.Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Close = %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestLogLinesArePrefixed(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	p := newPool(t, Config{Name: "Logger", Log: &buf})
	invoke(t, p, `{"fail":""}`)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("log has %d lines, want the emulator's START/END lines: %q", len(lines), buf.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "[Logger] ") {
			t.Errorf("log line without prefix: %q", l)
		}
	}
	if !strings.Contains(buf.String(), "START RequestId") {
		t.Errorf("log lacks the emulator's START line: %q", buf.String())
	}
}

func TestPoolsInvokeUnknownFunction(t *testing.T) {
	t.Parallel()
	_, err := Pools{}.Invoke(context.Background(), "Missing", []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), `"Missing"`) {
		t.Errorf("Invoke of an unknown function = %v, want an error naming it", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exe := filepath.Join(dir, "bootstrap")
	plain := filepath.Join(dir, "plain")
	for path, mode := range map[string]os.FileMode{exe: 0o755, plain: 0o644} {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "no name", cfg: Config{Bootstrap: exe, RIE: exe}},
		{name: "missing bootstrap", cfg: Config{Name: "F", Bootstrap: filepath.Join(dir, "nope"), RIE: exe}},
		{name: "bootstrap not executable", cfg: Config{Name: "F", Bootstrap: plain, RIE: exe}},
		{name: "no emulator", cfg: Config{Name: "F", Bootstrap: exe}},
		{name: "emulator is a directory", cfg: Config{Name: "F", Bootstrap: exe, RIE: dir}},
		{name: "negative instances", cfg: Config{Name: "F", Bootstrap: exe, RIE: exe, MaxInstances: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if p, err := New(tt.cfg); err == nil {
				t.Errorf("New(%+v) = %v, want an error", tt.cfg, p)
			}
		})
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	t.Parallel()
	exe := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Name: "F", Bootstrap: exe, RIE: exe, Env: map[string]string{"AWS_REGION": "eu-central-1"}})
	if err != nil {
		t.Fatal(err)
	}
	got := p.cfg
	if got.Timeout != DefaultTimeout || got.MemoryMB != DefaultMemoryMB || got.MaxInstances != DefaultMaxInstances || got.Region != "eu-central-1" || got.Log == nil {
		t.Errorf("defaults = %+v", got)
	}
}

func TestInterpret(t *testing.T) {
	t.Parallel()
	p := &Pool{cfg: Config{Name: "F", Timeout: 15 * time.Second}}
	tests := []struct {
		name        string
		status      int
		body        string
		wantKeep    bool
		wantPayload bool
		wantFuncErr string // error type, when a *FunctionError is expected
		wantTimeout bool
	}{
		{name: "result", status: 200, body: `{"statusCode":200}`, wantKeep: true, wantPayload: true},
		{name: "string result", status: 200, body: `"ok"`, wantKeep: true, wantPayload: true},
		{name: "object mentioning errorType among other fields", status: 200, body: `{"errorType":"x","errorMessage":"y","statusCode":400}`, wantKeep: true, wantPayload: true},
		{name: "handler error", status: 200, body: `{"errorMessage":"boom","errorType":"errorString"}`, wantKeep: true, wantFuncErr: "errorString"},
		{name: "handler panic with stack", status: 200, body: `{"errorMessage":"boom","errorType":"runtime.Error","stackTrace":[]}`, wantKeep: true, wantFuncErr: "runtime.Error"},
		{name: "runtime exited", status: 502, body: `{"errorType":"Runtime.ExitError","errorMessage":"exit status 2"}`, wantFuncErr: "Runtime.ExitError"},
		{name: "timeout", status: 200, body: `Task timed out after 15.00 seconds`, wantTimeout: true},
		{name: "emulator failure", status: 500, body: ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, keep, err := p.interpret(tt.status, []byte(tt.body))
			if keep != tt.wantKeep {
				t.Errorf("keep = %v, want %v", keep, tt.wantKeep)
			}
			if tt.wantPayload != (err == nil) || (tt.wantPayload && !bytes.Equal(out, []byte(tt.body))) {
				t.Errorf("interpret = %q, %v; want payload %v", out, err, tt.wantPayload)
			}
			var fe *FunctionError
			if got := errors.As(err, &fe); got != (tt.wantFuncErr != "") || (got && fe.Type != tt.wantFuncErr) {
				t.Errorf("err = %v, want function error %q", err, tt.wantFuncErr)
			}
			var te *TimeoutError
			if errors.As(err, &te) != tt.wantTimeout {
				t.Errorf("err = %v, want timeout %v", err, tt.wantTimeout)
			}
		})
	}
}

func TestPrefixWriterKeepsLinesWhole(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := (&lineWriter{w: &buf}).prefixed("F")
	for _, chunk := range []string{"hel", "lo\nwor", "ld\n", "tail"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := buf.String(), "[F] hello\n[F] world\n"; got != want {
		t.Errorf("log = %q, want %q", got, want)
	}
}

// processGone reports whether pid no longer runs; a zombie counts as gone.
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && len(b) > i+2 && b[i+2] == 'Z'
}

// waitFor polls cond until it holds or five seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// syncBuffer is a bytes.Buffer safe for the pool's log goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Each environment gets its own extension, as a layer's extension runs in
// each Lambda environment: its own loopback port in the port variable and
// its own session token, which only its extension accepts; configured
// values of both are overridden.
func TestEachEnvironmentGetsItsOwnExtension(t *testing.T) {
	t.Parallel()
	const portVar = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
	p := newPool(t, Config{
		MaxInstances: 2,
		Env:          map[string]string{portVar: "2773", "AWS_SESSION_TOKEN": "configured"},
		Extension: &Extension{PortVariable: portVar, Handler: func(token string) (http.Handler, error) {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Token") != token {
					w.WriteHeader(http.StatusForbidden)
				}
			}), nil
		}},
	})
	// Two at once, so that two environments run.
	seen := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			out, err := p.Invoke(context.Background(), []byte(`{"sleepMs":300,"env":["`+portVar+`","AWS_SESSION_TOKEN"]}`))
			if err != nil {
				t.Error(err)
				return
			}
			var r reply
			if err := json.Unmarshal(out, &r); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seen[r.Env[portVar]] = r.Env["AWS_SESSION_TOKEN"]
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) != 2 {
		t.Fatalf("two environments saw the extension ports %v, want two ports", seen)
	}
	status := func(port, token string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+port+"/", nil)
		req.Header.Set("X-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var tokens []string
	for port, token := range seen {
		if port == "2773" || token == "configured" || token == "" {
			t.Errorf("an environment kept the configured port %s or token %q", port, token)
		}
		if got := status(port, token); got != http.StatusOK {
			t.Errorf("the extension on %s refuses its environment's token: %d", port, got)
		}
		tokens = append(tokens, token)
	}
	if tokens[0] == tokens[1] {
		t.Error("two environments share a session token")
	}
	for port, token := range seen {
		other := tokens[0]
		if other == token {
			other = tokens[1]
		}
		if got := status(port, other); got != http.StatusForbidden {
			t.Errorf("the extension on %s accepts another environment's token: %d", port, got)
		}
	}
}
