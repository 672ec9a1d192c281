package lambdapool

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// startAttempts covers the small window in which a port picked as free
	// can be taken by someone else before the emulator binds it.
	startAttempts = 3
	// readyTimeout bounds how long an emulator may take to listen.
	readyTimeout = 10 * time.Second
	// stopGrace is how long the emulator gets to shut its runtime down after
	// SIGTERM before everything is killed.
	stopGrace = 3 * time.Second
)

// instance is one emulator process, which runs one bootstrap process.
type instance struct {
	cmd       *exec.Cmd
	url       string
	done      chan struct{} // closed when the emulator process has exited
	stopOnce  sync.Once
	extension *http.Server // the environment's extension, if any
}

// start launches an emulator for cfg and waits until it accepts invocations.
func start(ctx context.Context, cfg Config, env []string, log *lineWriter) (*instance, error) {
	var errs []error
	for range startAttempts {
		in, err := startOnce(ctx, cfg, env, log)
		if err == nil {
			return in, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("lambdapool: %s: starting an environment: %w", cfg.Name, errors.Join(errs...))
}

func startOnce(ctx context.Context, cfg Config, env []string, log *lineWriter) (*instance, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	invokeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	runtimeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	bootstrap, err := filepath.Abs(cfg.Bootstrap)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(cfg.RIE,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", runtimeAddr,
		bootstrap)
	ext, env, err := startExtension(cfg.Extension, env)
	if err != nil {
		return nil, fmt.Errorf("starting the extension: %w", err)
	}
	cmd.Env = env
	// The emulator runs the bootstrap in its working directory, which Lambda
	// makes the code directory.
	cmd.Dir = filepath.Dir(bootstrap)
	out := log.prefixed(cfg.Name)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so it can be signalled as a whole, and killed
	// with us should we die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A bootstrap that outlives the emulator may hold its output pipe open;
	// do not let that hang Wait.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		if ext != nil {
			_ = ext.Close()
		}
		return nil, fmt.Errorf("starting %s: %w", cfg.RIE, err)
	}
	in := &instance{
		cmd:       cmd,
		url:       "http://" + invokeAddr + invokePath,
		done:      make(chan struct{}),
		extension: ext,
	}
	go func() {
		_ = cmd.Wait()
		close(in.done)
	}()
	if err := in.waitListening(ctx, invokeAddr); err != nil {
		in.stop()
		return nil, err
	}
	// The port answered; make sure it is our emulator that answers.
	if ours, err := listensOn(cmd.Process.Pid, ports[0]); err != nil || !ours {
		in.stop()
		return nil, fmt.Errorf("another program took %s before the emulator could (%v)", invokeAddr, err)
	}
	return in, nil
}

// waitListening polls until addr accepts connections, the process exits, or
// ctx or readyTimeout ends.
func (in *instance) waitListening(ctx context.Context, addr string) error {
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-in.done:
			return fmt.Errorf("emulator exited before listening on %s", addr)
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("emulator not listening on %s after %s", addr, readyTimeout)
		case <-tick.C:
		}
	}
}

// alive reports whether the emulator process is still running.
func (in *instance) alive() bool {
	select {
	case <-in.done:
		return false
	default:
		return true
	}
}

// stop ends the emulator and its runtime and waits for the emulator to exit.
// The emulator puts the bootstrap in a process group of its own, so its
// descendants are looked up first and killed last, after a graceful SIGTERM
// (on which the emulator kills its runtime itself) had its chance.
func (in *instance) stop() {
	in.stopOnce.Do(func() {
		pid := in.cmd.Process.Pid
		kids := descendants(pid)
		_ = in.cmd.Process.Signal(syscall.SIGTERM)
		grace := time.NewTimer(stopGrace)
		defer grace.Stop()
		select {
		case <-in.done:
		case <-grace.C:
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-in.done
		}
		for _, k := range kids {
			// Each handle is bound to its process (pidfd), so a reused PID
			// is never hit; most of them have exited by now.
			_ = k.Kill()
			_ = k.Release()
		}
		if in.extension != nil {
			_ = in.extension.Close()
		}
	})
	<-in.done
}

// startExtension serves ext for one environment on a free loopback port
// with a session token of its own, and returns env with the port and the
// token added (last, so that they win over the configured ones, as
// Lambda's own variables do).
func startExtension(ext *Extension, env []string) (*http.Server, []string, error) {
	if ext == nil {
		return nil, env, nil
	}
	token := rand.Text()
	h, err := ext.Handler(token)
	if err != nil {
		return nil, nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	return srv, append(slices.Clip(env), ext.PortVariable+"="+port, "AWS_SESSION_TOKEN="+token), nil
}

// freePorts asks the kernel for n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// descendants returns handles on every process below pid, found by walking
// the parent links in /proc.
func descendants(pid int) []*os.Process {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentOf(child); ok {
			children[ppid] = append(children[ppid], child)
		}
	}
	var out []*os.Process
	queue := []int{pid}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		for _, c := range children[next] {
			if p, err := os.FindProcess(c); err == nil {
				out = append(out, p)
			}
			queue = append(queue, c)
		}
	}
	return out
}

// parentOf reads the parent PID from /proc/<pid>/stat. The command name in
// parentheses may hold spaces, so the fields are counted after its last ")".
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(fields[1])
	return ppid, err == nil
}

// lineWriter serialises whole lines from many processes onto one writer.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// prefixed returns a writer that prefixes each complete line with name.
func (lw *lineWriter) prefixed(name string) io.Writer {
	return &prefixWriter{out: lw, prefix: "[" + name + "] "}
}

func (lw *lineWriter) writeLine(prefix string, line []byte) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	_, _ = io.WriteString(lw.w, prefix)
	_, _ = lw.w.Write(line)
}

// prefixWriter buffers a partial line until its newline arrives. exec.Cmd
// copies stdout and stderr from separate goroutines, hence the mutex.
type prefixWriter struct {
	mu     sync.Mutex
	out    *lineWriter
	prefix string
	buf    []byte
}

func (pw *prefixWriter) Write(b []byte) (int, error) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.buf = append(pw.buf, b...)
	for {
		i := bytes.IndexByte(pw.buf, '\n')
		if i < 0 {
			break
		}
		pw.out.writeLine(pw.prefix, pw.buf[:i+1])
		pw.buf = pw.buf[i+1:]
	}
	// A runaway line without newline is flushed rather than grown forever.
	if len(pw.buf) > 64<<10 {
		pw.out.writeLine(pw.prefix, append(pw.buf, '\n'))
		pw.buf = nil
	}
	return len(b), nil
}
