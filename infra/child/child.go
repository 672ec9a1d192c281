// Package child runs the local stand-ins that are separate programs
// (DynamoDB Local, aws-ses-v2-local) as child processes that never outlive
// the process that started them.
package child

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// ErrExited marks a start that failed because the process exited before it
// answered, which is what a lost race for a port looks like.
var ErrExited = errors.New("process exited before it answered")

// stopGrace is how long a stopped process gets to exit after SIGTERM before
// it is killed.
const stopGrace = 5 * time.Second

// Process is a child process in a process group of its own.
type Process struct {
	cmd  *exec.Cmd
	out  *tail
	done chan struct{} // closed when the process has exited
	err  error         // the exit status; read after done is closed

	stopOnce sync.Once
	stopErr  error
}

// Start starts cmd in its own process group, so that Stop reaches any
// child it forks, and asks the kernel to kill it when its parent dies, so that
// a crashed or killed test binary leaves nothing running.
func Start(cmd *exec.Cmd, log io.Writer) (*Process, error) {
	if log == nil {
		log = io.Discard
	}
	p := &Process{cmd: cmd, out: &tail{max: 4 << 10}, done: make(chan struct{})}
	w := io.MultiWriter(log, p.out)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// WaitReady calls ready until it succeeds, the process exits, ctx ends or
// timeout passes, whichever comes first.
func (p *Process) WaitReady(ctx context.Context, timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, time.Second)
		last = ready(attempt)
		cancelAttempt()
		if last == nil {
			// An answer while our process is gone came from someone else.
			select {
			case <-p.done:
				return fmt.Errorf("%w (%v) and another server answers on its port; its last output:\n%s", ErrExited, p.err, p.out)
			default:
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w (%v); its last output:\n%s", ErrExited, p.err, p.out)
		case <-ctx.Done():
			return fmt.Errorf("not answering after %s (last error: %v); its last output:\n%s", timeout, last, p.out)
		case <-tick.C:
		}
	}
}

// Stop ends the process group, politely first, and waits for the process.
// An exit caused by the signal is the expected outcome, not an error.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() {
		pgid := -p.cmd.Process.Pid
		select {
		case <-p.done:
			return
		default:
		}
		if err := syscall.Kill(pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			p.stopErr = fmt.Errorf("stopping process group %d: %w", -pgid, err)
		}
		select {
		case <-p.done:
			return
		case <-time.After(stopGrace):
		}
		if err := syscall.Kill(pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			p.stopErr = fmt.Errorf("killing process group %d: %w", -pgid, err)
			return
		}
		<-p.done
	})
	return p.stopErr
}

// ChoosePort returns port if it is free on 127.0.0.1, or a free port when
// port is 0. Checking first turns a taken port into a clear error instead of
// a server that never answers, or one that answers for someone else.
func ChoosePort(port int) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(port)))
	if err != nil {
		return 0, fmt.Errorf("port %d on 127.0.0.1 is not free: %w", port, err)
	}
	free := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("probing port %d: %w", free, err)
	}
	return free, nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
