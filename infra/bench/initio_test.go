package bench

import (
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/template"
)

// initDoesNoNetworkIO starts a function's real bootstrap against a
// stand-in Lambda runtime API, with every AWS endpoint and every URL and
// host of its configuration pointing at a listener that counts
// connections. When the runtime asks for its first event, init is over:
// by then nothing may have connected. SDK clients, the MSAL client and the
// configuration are built at init; secrets, Microsoft's discovery and every
// call wait for the first event that needs them.
func initDoesNoNetworkIO(t *testing.T, tmpl *template.Template, f Target, bin string) {
	// Anything that dials the endpoints is counted, TLS or not.
	outside, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer outside.Close()
	var dialled atomic.Int32
	go func() {
		for {
			c, err := outside.Accept()
			if err != nil {
				return
			}
			dialled.Add(1)
			c.Close()
		}
	}()

	// The runtime API holds the first request for an event, which
	// marks the end of init, until the test hands it one.
	initDone := make(chan struct{}, 1)
	events := make(chan []byte, 1)
	answered := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	api := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/runtime/invocation/next") {
			// The function's response or error.
			w.WriteHeader(http.StatusAccepted)
			select {
			case answered <- struct{}{}:
			default:
			}
			return
		}
		select {
		case initDone <- struct{}{}:
		default:
		}
		select {
		case event := <-events:
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", "init-io")
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:000000000000:function:bench")
			w.Write(event)
		case <-release:
		case <-r.Context().Done():
		}
	})}
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go api.Serve(apiLn)
	defer api.Close()

	env := ProbeEnv(tmpl.Functions[f.Name])
	for k, v := range env {
		env[k] = strings.ReplaceAll(v, strings.TrimPrefix(unreachable, "http://"), outside.Addr().String())
	}
	env["AWS_LAMBDA_RUNTIME_API"] = apiLn.Addr().String()
	cmd := exec.Command(bin)
	cmd.Env = processEnv(env)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	waited := make(chan struct{})
	go func() { exited <- cmd.Wait(); close(waited) }()
	defer func() {
		_ = cmd.Process.Kill()
		<-waited // Not exited: a select below may have taken its value.
	}()

	select {
	case <-initDone:
	case err := <-exited:
		t.Fatalf("the bootstrap exited during init (%v):\n%s", err, out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("init did not finish:\n%s", out.String())
	}
	if n := dialled.Load(); n != 0 {
		t.Errorf("init made %d connections to the configured endpoints:\n%s", n, out.String())
	}

	// The control: the scheduled event needs the table, and its
	// call must arrive at the counting listener. Otherwise the
	// check above could pass because the configuration went
	// somewhere else.
	probe, err := ProbeFor(tmpl, f.Name, "")
	if err != nil || probe.Description != scheduleProbe().Description {
		return
	}
	events <- probe.Event
	select {
	case <-answered:
	case err := <-exited:
		t.Fatalf("the bootstrap exited on its first event (%v):\n%s", err, out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("no answer to the scheduled event:\n%s", out.String())
	}
	if n := dialled.Load(); n == 0 {
		t.Errorf("the scheduled event reached no configured endpoint: the check of init proves nothing\n%s", out.String())
	} else {
		t.Logf("control: the scheduled event made %d connection(s) to the counting listener", n)
	}
}
