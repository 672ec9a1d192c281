package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/infra/template"
)

// Probe is the event a cold start is invoked with.
type Probe struct {
	Event       []byte
	Description string
}

// unreachable is where every AWS and Microsoft endpoint of a probed function
// points: a loopback port nothing listens on, so that a function that does
// reach for the network fails at once instead of leaving the machine.
const unreachable = "http://127.0.0.1:1"

// probePath is a route no function serves.
const probePath = "/__bench/cold-start"

// HTTPProbe is a GET of a route the function does not serve, in the payload
// format 2.0 a function behind an HTTP API receives: answering it needs
// the router and nothing else.
func HTTPProbe() Probe {
	ev := events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: "GET " + probePath,
		RawPath:  probePath,
		Headers:  map[string]string{"accept": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID:    "000000000000",
			APIID:        "bench",
			Stage:        "$default",
			RequestID:    "bench-cold-start",
			RouteKey:     "GET " + probePath,
			DomainName:   "127.0.0.1",
			DomainPrefix: "127",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: http.MethodGet, Path: probePath, Protocol: "HTTP/1.1", SourceIP: "127.0.0.1", UserAgent: "bench",
			},
		},
	}
	b, _ := json.Marshal(ev) // a struct of strings always marshals
	return Probe{Event: b, Description: "GET " + probePath}
}

// eventProbe is an EventBridge event that no rule of the service matches: a
// handler can only turn it down, which needs no network.
func eventProbe() Probe {
	b, _ := json.Marshal(events.EventBridgeEvent{
		Version: "0", ID: "bench-cold-start", DetailType: "Bench Probe", Source: "ocpro.bench",
		AccountID: "000000000000", Time: time.Unix(0, 0).UTC(), Region: "eu-west-1",
		Resources: []string{}, Detail: json.RawMessage(`{}`),
	})
	return Probe{Event: b, Description: "EventBridge Bench Probe"}
}

// scheduleProbe is the scheduled event. Answering it means querying the
// table; with every endpoint unreachable (see ProbeEnv) that query is refused
// on loopback at once, so the figure is init plus one refused connection.
func scheduleProbe() Probe {
	b, _ := json.Marshal(events.EventBridgeEvent{
		Version: "0", ID: "bench-cold-start", DetailType: "Scheduled Event", Source: "aws.events",
		AccountID: "000000000000", Time: time.Unix(0, 0).UTC(), Region: "eu-west-1",
		Resources: []string{}, Detail: json.RawMessage(`{}`),
	})
	return Probe{Event: b, Description: "Scheduled Event"}
}

// ProbeFor picks a function's probe from its triggers in t: an unknown route
// for an HTTP function, an unmatched event for an EventBridge one, the
// scheduled event otherwise. A file <LogicalId>.json in eventsDir, when
// eventsDir is set and the file exists, replaces the event.
func ProbeFor(t *template.Template, function, eventsDir string) (Probe, error) {
	if eventsDir != "" {
		path := filepath.Join(eventsDir, function+".json")
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			if !json.Valid(b) {
				return Probe{}, fmt.Errorf("bench: %s is not JSON", path)
			}
			return Probe{Event: b, Description: filepath.Base(path)}, nil
		case !errors.Is(err, os.ErrNotExist):
			return Probe{}, fmt.Errorf("bench: %w", err)
		}
	}
	for _, r := range t.Routes {
		if r.Function == function {
			return HTTPProbe(), nil
		}
	}
	for _, r := range t.Rules {
		if r.Function == function {
			return eventProbe(), nil
		}
	}
	return scheduleProbe(), nil
}

// ProbeParameters gives every parameter of t a local value: URLs and hosts
// point at an unreachable loopback port, ARNs and ids get well-formed dummy
// values, and the rest keep their default or get a placeholder. Load the
// template again with these to get each function's environment.
func ProbeParameters(t *template.Template) map[string]string {
	out := map[string]string{}
	for name, p := range t.Parameters {
		switch {
		case strings.HasSuffix(name, "Url"), strings.HasSuffix(name, "Host"), strings.HasSuffix(name, "Issuer"):
			out[name] = strings.Replace(unreachable, "http:", "https:", 1)
			// Microsoft's endpoints are https only (Graph's address is also
			// the resource its tokens name); the rest may be plain http.
			if strings.HasSuffix(name, "Url") && name != "GraphBaseUrl" {
				out[name] = unreachable
			}
		case strings.HasSuffix(name, "Arn"):
			out[name] = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:bench/" + name
		case strings.HasSuffix(name, "Id"):
			out[name] = "00000000-0000-4000-8000-000000000000"
		case strings.HasSuffix(name, "Address"):
			out[name] = "bench@example.com"
		case p.HasDefault:
			out[name] = p.Default
		default:
			out[name] = "bench-" + strings.ToLower(name)
		}
	}
	return out
}

// ProbeEnv is the environment a probed function runs with: its template
// environment, and what Lambda and the local stack add (region, dummy
// credentials), with every AWS endpoint unreachable and no retries, so that
// init cannot leave the machine and a stray call fails at once.
func ProbeEnv(fn *template.Function) map[string]string {
	env := map[string]string{
		"AWS_REGION":                       "eu-west-1",
		"AWS_DEFAULT_REGION":               "eu-west-1",
		"AWS_ACCESS_KEY_ID":                "bench",
		"AWS_SECRET_ACCESS_KEY":            "bench",
		"AWS_EC2_METADATA_DISABLED":        "true",
		"AWS_ENDPOINT_URL":                 unreachable,
		"AWS_MAX_ATTEMPTS":                 "1",
		"AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
		"TOKEN_KMS_KEY_ID":                 "arn:aws:kms:eu-west-1:000000000000:key/bench",
	}
	if fn != nil {
		for k, v := range fn.Environment {
			env[k] = v
		}
	}
	return env
}

// Start is one cold start's measurements.
type Start struct {
	// FirstResponse is the time from the invocation, on which the emulator
	// execs the bootstrap, to the response.
	FirstResponse time.Duration
	// Outcome summarises the response.
	Outcome string
}

// ErrInitFailed says that the function's runtime did not come up: the
// emulator answered with a Runtime error instead of the function.
var ErrInitFailed = errors.New("runtime init failed")

// ColdStartOnce runs bootstrap under a fresh aws-lambda-rie with env and
// invokes it once with event. It returns ErrInitFailed (wrapped, with the
// emulator's answer) when the runtime did not start.
func ColdStartOnce(ctx context.Context, rie, bootstrap string, env map[string]string, event []byte) (Start, error) {
	ports, err := freePorts(2)
	if err != nil {
		return Start{}, err
	}
	invokeAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	runtimeAddr := "127.0.0.1:" + strconv.Itoa(ports[1])
	bootstrap, err = filepath.Abs(bootstrap)
	if err != nil {
		return Start{}, fmt.Errorf("bench: %w", err)
	}
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", runtimeAddr, bootstrap)
	cmd.Env = processEnv(env)
	cmd.Dir = filepath.Dir(bootstrap)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return Start{}, fmt.Errorf("bench: starting %s: %w", rie, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	defer stopProcess(cmd, done)

	if err := waitListening(ctx, invokeAddr, done); err != nil {
		return Start{}, fmt.Errorf("bench: aws-lambda-rie: %w: %s", err, tail(out.String(), 400))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+invokeAddr+"/2015-03-31/functions/function/invocations", bytes.NewReader(event))
	if err != nil {
		return Start{}, fmt.Errorf("bench: %w", err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: 30 * time.Second}
	began := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return Start{}, fmt.Errorf("bench: invoking: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	s := Start{FirstResponse: time.Since(began)}
	if err != nil {
		return Start{}, fmt.Errorf("bench: reading the response: %w", err)
	}
	s.Outcome = outcome(body)
	if resp.StatusCode != http.StatusOK || strings.HasPrefix(s.Outcome, "function error: Runtime.") {
		return s, fmt.Errorf("bench: %w: emulator answered %d: %s: %s", ErrInitFailed, resp.StatusCode,
			tail(string(body), 200), tail(out.String(), 600))
	}
	return s, nil
}

// outcome summarises a function's response for the table.
func outcome(body []byte) string {
	var obj struct {
		StatusCode *int    `json:"statusCode"`
		ErrorType  *string `json:"errorType"`
	}
	if json.Unmarshal(body, &obj) == nil {
		switch {
		case obj.ErrorType != nil:
			return "function error: " + *obj.ErrorType
		case obj.StatusCode != nil:
			return "statusCode " + strconv.Itoa(*obj.StatusCode)
		}
	}
	return fmt.Sprintf("%d bytes", len(body))
}

// processEnv is what the emulator gets, and hands on to the bootstrap: the
// function's variables and the ones Lambda sets, plus PATH and HOME.
func processEnv(env map[string]string) []string {
	out := make([]string, 0, len(env)+6)
	for _, k := range []string{"PATH", "HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return append(out,
		"AWS_LAMBDA_FUNCTION_NAME=bench",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=30")
}

// waitListening polls until addr accepts connections.
func waitListening(ctx context.Context, addr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var d net.Dialer
	for {
		if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("exited before listening")
		case <-ctx.Done():
			return fmt.Errorf("not listening on %s: %w", addr, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// stopProcess asks the emulator to stop, which stops its runtime too, and
// kills its process group if it does not exit in time. A runtime left behind
// by a killed emulator exits when its runtime API goes away.
func stopProcess(cmd *exec.Cmd, done <-chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// freePorts asks the kernel for n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("bench: finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// syncBuffer is a bytes.Buffer that the process's output copiers and the
// reader may use at once.
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

// Probed is a built bootstrap ready to be cold-started.
type Probed struct {
	Name      string
	Bootstrap string
	Env       map[string]string
	Probe     Probe
	// Status other than StatusOK (a missing or unbuildable function) is
	// carried into the table without a start.
	Status Status
	Error  string
	// Floor, when set, is the bootstrap of the function's libraries' floor
	// (BuildFloor). It is started in the same rounds, with the minimal
	// handler's environment and probe, which it answers the same way.
	Floor string
}

// MeasureColdStarts cold-starts the minimal handler and every function
// starts times each, in rounds, so that whatever else the machine is doing
// weighs on all of them alike. A function whose runtime fails is reported
// as failed and not started again; a minimal handler that fails is an error.
// Progress, when not nil, gets one line per round.
func MeasureColdStarts(ctx context.Context, rie string, minimal Probed, functions []Probed, starts int, progress io.Writer) (*ColdStartSection, error) {
	if starts < 1 {
		return nil, fmt.Errorf("bench: %d cold starts asked for; need at least 1", starts)
	}
	type series struct {
		first   []time.Duration
		outcome string
		floor   []time.Duration
		// floorErr stops the floor's starts after its first failure.
		floorErr error
	}
	results := make([]series, len(functions))
	var floor series
	status := make([]ColdStart, len(functions))
	for i, f := range functions {
		status[i] = ColdStart{Function: f.Name, Status: f.Status, Error: f.Error, Probe: f.Probe.Description}
		if status[i].Status == "" {
			status[i].Status = StatusOK
		}
	}
	for round := range starts {
		s, err := ColdStartOnce(ctx, rie, minimal.Bootstrap, minimal.Env, minimal.Probe.Event)
		if err != nil {
			return nil, fmt.Errorf("bench: cold start of the %s: %w", MinimalName, err)
		}
		floor.first, floor.outcome = append(floor.first, s.FirstResponse), s.Outcome
		for i, f := range functions {
			if status[i].Status != StatusOK {
				continue
			}
			s, err := ColdStartOnce(ctx, rie, f.Bootstrap, f.Env, f.Probe.Event)
			if err != nil {
				status[i].Status, status[i].Error, status[i].Outcome = StatusFailed, err.Error(), s.Outcome
				continue
			}
			r := &results[i]
			r.first = append(r.first, s.FirstResponse)
			if r.outcome == "" {
				r.outcome = s.Outcome
			}
			if f.Floor != "" && r.floorErr == nil {
				s, err := ColdStartOnce(ctx, rie, f.Floor, minimal.Env, minimal.Probe.Event)
				if err != nil {
					r.floorErr = err
					continue
				}
				r.floor = append(r.floor, s.FirstResponse)
			}
		}
		if progress != nil {
			fmt.Fprintf(progress, "cold starts: round %d of %d\n", round+1, starts)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	sec := &ColdStartSection{
		Target: ColdStartTarget,
		Starts: starts,
		Minimal: ColdStart{Function: MinimalName, Status: StatusOK, Probe: minimal.Probe.Description,
			Outcome: floor.outcome, Starts: len(floor.first),
			FirstResponse: Summarize(floor.first)},
	}
	for i := range functions {
		c := status[i]
		if c.Status == StatusOK {
			r := results[i]
			c.Starts, c.Outcome = len(r.first), r.outcome
			c.FirstResponse = Summarize(r.first)
			c.Ratio = Ratio(float64(c.FirstResponse.Median), float64(sec.Minimal.FirstResponse.Median))
			switch {
			case r.floorErr != nil:
				c.FloorError = r.floorErr.Error()
			case len(r.floor) > 0:
				floor := Summarize(r.floor)
				c.Floor = &floor
				c.FloorRatio = Ratio(float64(floor.Median), float64(sec.Minimal.FirstResponse.Median))
				c.OverFloor = Ratio(float64(c.FirstResponse.Median), float64(floor.Median))
			}
		}
		sec.Functions = append(sec.Functions, c)
	}
	return sec, nil
}
