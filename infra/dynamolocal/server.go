// Package dynamolocal runs AWS's DynamoDB Local as a child process and
// prepares it for the local stack and the tests: a client for it and the
// tables of template.yaml.
//
// DynamoDB Local 1.25.1 has no flag for the listen address: its Jetty server
// listens on every interface of the port it is given. The port is picked on
// 127.0.0.1 and every client here talks to 127.0.0.1, but other hosts could
// reach the port while it runs; the emulator holds only local test data.
package dynamolocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ocpro/upgrade/infra/child"
)

// DefaultStartTimeout is how long Start waits for DynamoDB Local to answer
// when Options.StartTimeout is zero. It starts in about 1.2 s on an idle
// machine; the margin is for a busy one running several test binaries,
// where a JVM start was measured at over 20 s (load average above 20 on 2
// cores). Waiting longer costs nothing when it starts at once.
const DefaultStartTimeout = 90 * time.Second

// Options say where DynamoDB Local is installed and how to run it.
type Options struct {
	// Dir holds DynamoDBLocal.jar and DynamoDBLocal_lib, as make deps
	// installs them into .cache/dynamodb.
	Dir string
	// Port to listen on; 0 picks a free one.
	Port int
	// Log receives the process's output; nil discards it. The last lines
	// are kept either way for the error when the process fails to start.
	Log io.Writer
	// DBPath, when set, keeps the data in that folder (-dbPath) instead of
	// in memory, so that it survives a restart.
	DBPath string
	// StartTimeout bounds the wait for the first answer; 0 means
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// Java is the java executable; empty means "java" on PATH.
	Java string
}

// Server is a running DynamoDB Local.
type Server struct {
	endpoint string
	proc     *child.Process
}

// Start runs DynamoDB Local and returns once it answers ListTables. The
// context bounds only the start: the process runs until Close, or until the
// process that started it dies.
func Start(ctx context.Context, opts Options) (*Server, error) {
	jar := filepath.Join(opts.Dir, "DynamoDBLocal.jar")
	if _, err := os.Stat(jar); err != nil {
		return nil, fmt.Errorf("dynamolocal: DynamoDB Local is not installed in %s (run `make deps`): %w", opts.Dir, err)
	}
	java := opts.Java
	if java == "" {
		java = "java"
	}
	javaPath, err := exec.LookPath(java)
	if err != nil {
		return nil, fmt.Errorf("dynamolocal: DynamoDB Local needs Java 17 or later (Debian: apt-get install -y openjdk-17-jre-headless): %w", err)
	}
	if opts.DBPath != "" {
		if err := os.MkdirAll(opts.DBPath, 0o755); err != nil {
			return nil, fmt.Errorf("dynamolocal: data folder: %w", err)
		}
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}

	// A picked port can be taken by someone else between our probe and the
	// JVM's bind; trying another one is cheap. A port the caller chose is
	// tried once.
	attempts := 1
	if opts.Port == 0 {
		attempts = 3
	}
	var lastErr error
	for range attempts {
		port, err := child.ChoosePort(opts.Port)
		if err != nil {
			return nil, fmt.Errorf("dynamolocal: %w", err)
		}
		s, err := start(ctx, javaPath, port, timeout, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if ctx.Err() != nil || !errors.Is(err, child.ErrExited) {
			break
		}
	}
	return nil, lastErr
}

func start(ctx context.Context, javaPath string, port int, timeout time.Duration, opts Options) (*Server, error) {
	args := []string{
		// The emulator is short-lived and small: the quick JIT tier and the
		// serial collector halve its start on a busy two-core machine, which
		// matters more here than peak throughput.
		"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
		"-Djava.library.path=" + filepath.Join(opts.Dir, "DynamoDBLocal_lib"),
		"-jar", filepath.Join(opts.Dir, "DynamoDBLocal.jar"),
		"-port", strconv.Itoa(port),
		// Telemetry would try to reach AWS on every start.
		"-disableTelemetry",
	}
	if opts.DBPath != "" {
		args = append(args, "-dbPath", opts.DBPath)
	} else {
		args = append(args, "-inMemory")
	}
	cmd := exec.Command(javaPath, args...)
	// The working directory matters only for files DynamoDB Local writes
	// without -dbPath; keep them out of the caller's folder.
	cmd.Dir = opts.Dir
	p, err := child.Start(cmd, opts.Log)
	if err != nil {
		return nil, fmt.Errorf("dynamolocal: %w", err)
	}
	s := &Server{endpoint: "http://127.0.0.1:" + strconv.Itoa(port), proc: p}

	client, err := NewClient(ctx, s.endpoint)
	if err != nil {
		_ = p.Stop()
		return nil, err
	}
	ready := func(ctx context.Context) error {
		_, err := client.ListTables(ctx, &dynamodb.ListTablesInput{Limit: ptr(int32(1))},
			func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
		return err
	}
	began := time.Now()
	if err := p.WaitReady(ctx, timeout, ready); err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("dynamolocal: port %d: %w", port, err)
	}
	slog.DebugContext(ctx, "DynamoDB Local is up", "endpoint", s.endpoint, "took", time.Since(began))
	return s, nil
}

// Endpoint is the base URL of the running server, for example
// http://127.0.0.1:41234.
func (s *Server) Endpoint() string { return s.endpoint }

// Close stops DynamoDB Local and everything it started, and waits for it to
// exit. It is safe to call more than once.
func (s *Server) Close() error {
	if err := s.proc.Stop(); err != nil {
		return fmt.Errorf("dynamolocal: %w", err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
