// Package lambdapool runs functions' real bootstrap binaries under the AWS
// Lambda Runtime Interface Emulator (aws-lambda-rie), the way Lambda runs
// them: each concurrent invocation gets its own execution environment, idle
// environments are reused, and a function that times out or dies loses its
// environment.
//
// One emulator process serves one invocation at a time, so a Pool keeps up to
// MaxInstances of them per function and queues callers beyond that.
package lambdapool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults applied by New to zero Config fields; they are Lambda's own.
const (
	DefaultMaxInstances = 4
	DefaultTimeout      = 3 * time.Second
	DefaultMemoryMB     = 128
	DefaultRegion       = "us-east-1"
)

// maxResponseBytes is Lambda's limit for a synchronous response payload.
const maxResponseBytes = 6 << 20

// invokePath is where the emulator accepts invocations.
const invokePath = "/2015-03-31/functions/function/invocations"

// ErrClosed is returned by Invoke after Close.
var ErrClosed = errors.New("lambdapool: pool closed")

// Config describes one function and how many environments it may use.
type Config struct {
	// Name is the function's name (its logical id locally). It prefixes the
	// log lines and becomes AWS_LAMBDA_FUNCTION_NAME.
	Name string
	// Bootstrap is the path of the function's executable.
	Bootstrap string
	// RIE is the path of the aws-lambda-rie executable.
	RIE string
	// Env is the function's environment (template variables, credentials,
	// endpoints). The host environment is not passed on, except PATH and HOME.
	Env map[string]string
	// Timeout is the function timeout; the emulator counts whole seconds, so
	// it is rounded up. Default DefaultTimeout.
	Timeout time.Duration
	// MemoryMB becomes AWS_LAMBDA_FUNCTION_MEMORY_SIZE. Default DefaultMemoryMB.
	MemoryMB int
	// MaxInstances bounds the concurrent environments. Default DefaultMaxInstances.
	MaxInstances int
	// Region becomes AWS_REGION and AWS_DEFAULT_REGION. Default: Env's
	// AWS_REGION, else DefaultRegion.
	Region string
	// Log receives the emulator's and the function's output, each line
	// prefixed with the function name. Default: discarded.
	Log io.Writer
	// Extension, when set, runs beside every environment as a layer's
	// extension runs in Lambda: Handler(token) is served on a loopback port
	// of its own, which the environment finds in PortVariable, and token is
	// the environment's own AWS_SESSION_TOKEN, as Lambda gives each
	// environment its role's session.
	Extension *Extension
}

// Extension is a local extension: an HTTP server per environment.
type Extension struct {
	PortVariable string
	Handler      func(sessionToken string) (http.Handler, error)
}

// Stats is a snapshot of a pool's counters.
type Stats struct {
	// Started counts the environments started since New, replacements included.
	Started int
	// Live is the number of environments running now, busy or idle.
	Live int
	// Busy is the number of environments serving an invocation now.
	Busy int
	// Invocations counts the invocations sent to an environment.
	Invocations int
}

// FunctionError is an error the function itself returned or died of, as
// Lambda reports it in the response payload (Lambda's "Unhandled" error).
type FunctionError struct {
	Function string
	Type     string
	Message  string
}

// Error implements error.
func (e *FunctionError) Error() string {
	return fmt.Sprintf("lambdapool: %s: function error %s: %s", e.Function, e.Type, e.Message)
}

// TimeoutError says that the function ran past its timeout and its
// environment was discarded.
type TimeoutError struct {
	Function string
	Limit    time.Duration // the function's configured timeout
}

// Error implements error.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("lambdapool: %s: task timed out after %s", e.Function, e.Limit)
}

// Timeout reports true, so that callers can recognise a timeout through a
// small interface (as with net.Error) without importing this package.
func (e *TimeoutError) Timeout() bool { return true }

// Pool runs one function in up to MaxInstances emulator processes.
type Pool struct {
	cfg     Config
	env     []string
	client  *http.Client
	log     *lineWriter
	slots   chan struct{} // one token per environment in use by a caller
	closing chan struct{}

	mu          sync.Mutex
	idle        []*instance
	live        map[*instance]struct{}
	closed      bool
	started     int
	invocations int
}

// New checks cfg, applies its defaults and returns a pool with no running
// environment: they start on the first invocations.
func New(cfg Config) (*Pool, error) {
	if cfg.Name == "" {
		return nil, errors.New("lambdapool: Config.Name is empty")
	}
	for what, path := range map[string]string{"Bootstrap": cfg.Bootstrap, "RIE": cfg.RIE} {
		if err := checkExecutable(path); err != nil {
			return nil, fmt.Errorf("lambdapool: %s: Config.%s: %w", cfg.Name, what, err)
		}
	}
	if cfg.Timeout < 0 || cfg.MemoryMB < 0 || cfg.MaxInstances < 0 {
		return nil, fmt.Errorf("lambdapool: %s: negative Timeout, MemoryMB or MaxInstances", cfg.Name)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	cfg.Timeout = roundUpToSecond(cfg.Timeout)
	if cfg.MemoryMB == 0 {
		cfg.MemoryMB = DefaultMemoryMB
	}
	if cfg.MaxInstances == 0 {
		cfg.MaxInstances = DefaultMaxInstances
	}
	if cfg.Region == "" {
		cfg.Region = cfg.Env["AWS_REGION"]
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	return &Pool{
		cfg: cfg,
		env: environment(cfg),
		// Loopback only, never through a proxy; one idle connection per
		// environment keeps warm invocations cheap.
		client: &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 1,
			MaxIdleConns:        cfg.MaxInstances,
		}},
		log:     &lineWriter{w: cfg.Log},
		slots:   make(chan struct{}, cfg.MaxInstances),
		closing: make(chan struct{}),
		live:    map[*instance]struct{}{},
	}, nil
}

func checkExecutable(path string) error {
	if path == "" {
		return errors.New("path is empty")
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

func roundUpToSecond(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}

// environment builds the emulator's environment, which the emulator hands on
// to the function. The variables Lambda reserves are set last so that
// Config.Env cannot override them, as in Lambda.
func environment(cfg Config) []string {
	env := map[string]string{}
	for _, k := range []string{"PATH", "HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	for k, v := range cfg.Env {
		env[k] = v
	}
	env["AWS_LAMBDA_FUNCTION_NAME"] = cfg.Name
	env["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST"
	env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = fmt.Sprint(int(cfg.Timeout / time.Second))
	env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = fmt.Sprint(cfg.MemoryMB)
	env["AWS_REGION"] = cfg.Region
	env["AWS_DEFAULT_REGION"] = cfg.Region
	// This variable switches the emulator into its managed-instances mode,
	// which is not how a plain function runs.
	delete(env, "AWS_LAMBDA_MAX_CONCURRENCY")
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// Invoke runs the function once with event and returns its response payload.
// It waits, as long as ctx allows, for an environment when all are busy. A
// function error is a *FunctionError and a timeout a *TimeoutError.
func (p *Pool) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("lambdapool: %s: waiting for an environment: %w", p.cfg.Name, ctx.Err())
	case <-p.closing:
		return nil, ErrClosed
	}
	defer func() { <-p.slots }()

	for attempt := 1; ; attempt++ {
		in, err := p.acquire(ctx)
		if err != nil {
			return nil, err
		}
		out, keep, err := p.invoke(ctx, in, event)
		p.release(in, keep)
		// An idle environment whose emulator has gone refuses the
		// connection: the event never reached the function, so a fresh
		// environment may take it, as Lambda would.
		if err != nil && errors.Is(err, syscall.ECONNREFUSED) && attempt < 3 {
			continue
		}
		return out, err
	}
}

// acquire returns an idle live environment or starts one. Holding a slot
// guarantees that starting one keeps the pool within MaxInstances: every
// environment is either idle or held by a slot owner.
func (p *Pool) acquire(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	for len(p.idle) > 0 {
		in := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if in.alive() {
			p.mu.Unlock()
			return in, nil
		}
		// The process died while idle: drop it and clean up what it left.
		delete(p.live, in)
		go in.stop()
	}
	p.mu.Unlock()

	in, err := start(ctx, p.cfg, p.env, p.log)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		go in.stop()
		return nil, ErrClosed
	}
	p.live[in] = struct{}{}
	p.started++
	return in, nil
}

// release returns a healthy environment to the idle list and stops any other.
func (p *Pool) release(in *instance, keep bool) {
	p.mu.Lock()
	if keep && !p.closed && in.alive() {
		p.idle = append(p.idle, in)
		p.mu.Unlock()
		return
	}
	delete(p.live, in)
	p.mu.Unlock()
	in.stop()
}

// invoke sends one event to in. keep says whether in can serve again.
func (p *Pool) invoke(ctx context.Context, in *instance, event []byte) (out []byte, keep bool, err error) {
	p.mu.Lock()
	p.invocations++
	p.mu.Unlock()

	// The emulator answers a timeout itself; the extra margin only guards
	// against an emulator that never answers.
	callCtx, cancel := context.WithTimeout(ctx, p.cfg.Timeout+5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(callCtx, http.MethodPost, in.url, bytes.NewReader(event))
	if err != nil {
		return nil, false, fmt.Errorf("lambdapool: %s: %w", p.cfg.Name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		// The environment is mid-invocation or gone: it cannot be trusted
		// with the next event either way.
		if ctx.Err() == nil && callCtx.Err() != nil {
			return nil, false, &TimeoutError{Function: p.cfg.Name, Limit: p.cfg.Timeout}
		}
		return nil, false, fmt.Errorf("lambdapool: %s: invoke: %w", p.cfg.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, false, fmt.Errorf("lambdapool: %s: reading response: %w", p.cfg.Name, err)
	}
	if len(body) > maxResponseBytes {
		return nil, true, fmt.Errorf("lambdapool: %s: response larger than %d bytes", p.cfg.Name, maxResponseBytes)
	}
	return p.interpret(resp.StatusCode, body)
}

// interpret turns the emulator's answer into a payload or an error. The
// emulator sets no function-error header (Lambda's X-Amz-Function-Error): a
// handler error is a 200 whose body is Lambda's error object, a runtime that
// exited is a 502 with the same object, and a timeout is a 200 with a
// plain-text "Task timed out" line.
func (p *Pool) interpret(status int, body []byte) ([]byte, bool, error) {
	if status == http.StatusOK && bytes.HasPrefix(body, []byte("Task timed out after")) {
		return nil, false, &TimeoutError{Function: p.cfg.Name, Limit: p.cfg.Timeout}
	}
	if fe, ok := functionError(body); ok {
		fe.Function = p.cfg.Name
		// A runtime that exited is restarted by the emulator, but Lambda
		// would give the next call a fresh environment; so do we.
		return nil, status == http.StatusOK, fe
	}
	if status != http.StatusOK {
		return nil, false, fmt.Errorf("lambdapool: %s: emulator answered %d: %s", p.cfg.Name, status, truncate(body, 200))
	}
	return body, true, nil
}

// functionError recognises Lambda's error object: a JSON object with
// errorType and errorMessage and nothing but stackTrace besides. Handlers of
// this service never return that shape as a result.
func functionError(body []byte) (*FunctionError, bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, false
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, false
	}
	var fe FunctionError
	typ, okType := obj["errorType"]
	msg, okMsg := obj["errorMessage"]
	if !okType || !okMsg || json.Unmarshal(typ, &fe.Type) != nil || json.Unmarshal(msg, &fe.Message) != nil {
		return nil, false
	}
	for k := range obj {
		if k != "errorType" && k != "errorMessage" && k != "stackTrace" {
			return nil, false
		}
	}
	return &fe, true
}

func truncate(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{
		Started:     p.started,
		Live:        len(p.live),
		Busy:        len(p.live) - len(p.idle),
		Invocations: p.invocations,
	}
}

// Close stops every environment, busy ones included, and waits until their
// processes are gone. Invocations in flight fail. Close is idempotent.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.closing)
	all := make([]*instance, 0, len(p.live))
	for in := range p.live {
		all = append(all, in)
	}
	p.live = map[*instance]struct{}{}
	p.idle = nil
	p.mu.Unlock()

	var wg sync.WaitGroup
	for _, in := range all {
		wg.Go(in.stop)
	}
	wg.Wait()
	p.client.CloseIdleConnections()
	return nil
}

// Pools maps function logical ids to their pools.
type Pools map[string]*Pool

// Invoke runs the named function once with event.
func (ps Pools) Invoke(ctx context.Context, function string, event []byte) ([]byte, error) {
	p, ok := ps[function]
	if !ok {
		return nil, fmt.Errorf("lambdapool: no function %q", function)
	}
	return p.Invoke(ctx, event)
}

// Close closes every pool.
func (ps Pools) Close() error {
	var errs []error
	for _, p := range ps {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}
