// Package seslocal runs aws-ses-v2-local, a stand-in for the SES v2 API that
// keeps every mail it is sent, and reads those mails back for tests and the
// demo.
//
// Tests that share one server should each send to recipient addresses of
// their own and pick their mails with Mail.SentTo, rather than clearing the
// store, which would remove the mails of tests running beside them.
package seslocal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ocpro/upgrade/infra/child"
)

// DefaultStartTimeout is how long Start waits for the server to answer when
// Options.StartTimeout is zero. It is ready in about 0.3 s on an idle
// machine; the margin is for a busy one (see dynamolocal's).
const DefaultStartTimeout = 60 * time.Second

// Options say where aws-ses-v2-local is installed and how to run it.
type Options struct {
	// NodeModules is the node_modules folder that holds aws-ses-v2-local,
	// infra/node_modules after make deps.
	NodeModules string
	// Port to listen on, on 127.0.0.1; 0 picks a free one.
	Port int
	// Log receives the process's output; nil discards it. The last lines
	// are kept either way for the error when the process fails to start.
	Log io.Writer
	// StartTimeout bounds the wait for the first answer; 0 means
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// Node is the node executable; empty means "node" on PATH.
	Node string
}

// Server is a running aws-ses-v2-local.
type Server struct {
	endpoint string
	proc     *child.Process
}

// localAccount is what the server answers to GetAccount, passed to it in
// AWS_SES_ACCOUNT: a production account out of the sandbox, sending 14 mails
// a second, as a newly approved SES account in eu-west-1 gets.
var localAccount = account{
	DedicatedIPAutoWarmupEnabled: false,
	Details: accountDetails{
		AdditionalContactEmailAddresses: []string{},
		ContactLanguage:                 "EN",
		MailType:                        "TRANSACTIONAL",
		ReviewDetails:                   reviewDetails{CaseID: "local-0000000001", Status: "GRANTED"},
		UseCaseDescription:              "Invitations and reminders to IT admins of Microsoft Teams calling customers.",
		WebsiteURL:                      "https://ocpro.example",
	},
	EnforcementStatus:       "HEALTHY",
	ProductionAccessEnabled: true,
	SendingEnabled:          true,
	SendQuota:               sendQuota{Max24HourSend: 50000, MaxSendRate: 14, SentLast24Hours: 0},
	SuppressionAttributes:   suppressionAttributes{SuppressedReasons: []string{"BOUNCE", "COMPLAINT"}},
}

// account mirrors the SES v2 GetAccount response, in the shape that
// aws-ses-v2-local validates.
type account struct {
	DedicatedIPAutoWarmupEnabled bool                  `json:"DedicatedIpAutoWarmupEnabled"`
	Details                      accountDetails        `json:"Details"`
	EnforcementStatus            string                `json:"EnforcementStatus"`
	ProductionAccessEnabled      bool                  `json:"ProductionAccessEnabled"`
	SendingEnabled               bool                  `json:"SendingEnabled"`
	SendQuota                    sendQuota             `json:"SendQuota"`
	SuppressionAttributes        suppressionAttributes `json:"SuppressionAttributes"`
}

type accountDetails struct {
	AdditionalContactEmailAddresses []string      `json:"AdditionalContactEmailAddresses"`
	ContactLanguage                 string        `json:"ContactLanguage"`
	MailType                        string        `json:"MailType"`
	ReviewDetails                   reviewDetails `json:"ReviewDetails"`
	UseCaseDescription              string        `json:"UseCaseDescription"`
	WebsiteURL                      string        `json:"WebsiteURL"`
}

type reviewDetails struct {
	CaseID string `json:"CaseId"`
	Status string `json:"Status"`
}

type sendQuota struct {
	Max24HourSend   float64 `json:"Max24HourSend"`
	MaxSendRate     float64 `json:"MaxSendRate"`
	SentLast24Hours float64 `json:"SentLast24Hours"`
}

type suppressionAttributes struct {
	SuppressedReasons []string `json:"SuppressedReasons"`
}

// Start runs aws-ses-v2-local on 127.0.0.1 and returns once GET /store
// answers. The context bounds only the start: the process runs until Close,
// or until the process that started it dies.
func Start(ctx context.Context, opts Options) (*Server, error) {
	cli := filepath.Join(opts.NodeModules, "aws-ses-v2-local", "dist", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		return nil, fmt.Errorf("seslocal: aws-ses-v2-local is not installed in %s (run `make deps`): %w", opts.NodeModules, err)
	}
	node := opts.Node
	if node == "" {
		node = "node"
	}
	nodePath, err := exec.LookPath(node)
	if err != nil {
		return nil, fmt.Errorf("seslocal: aws-ses-v2-local needs Node.js (Debian: apt-get install -y nodejs): %w", err)
	}
	accountJSON, err := json.Marshal(localAccount)
	if err != nil {
		return nil, fmt.Errorf("seslocal: account: %w", err)
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	port, err := child.ChoosePort(opts.Port)
	if err != nil {
		return nil, fmt.Errorf("seslocal: %w", err)
	}

	cmd := exec.Command(nodePath, cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	cmd.Env = childEnv(os.Environ(), "AWS_SES_ACCOUNT="+string(accountJSON))
	p, err := child.Start(cmd, opts.Log)
	if err != nil {
		return nil, fmt.Errorf("seslocal: %w", err)
	}
	s := &Server{endpoint: "http://127.0.0.1:" + strconv.Itoa(port), proc: p}
	began := time.Now()
	ready := func(ctx context.Context) error {
		_, err := Mails(ctx, s.endpoint, time.Time{})
		return err
	}
	if err := p.WaitReady(ctx, timeout, ready); err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("seslocal: port %d: %w", port, err)
	}
	slog.DebugContext(ctx, "aws-ses-v2-local is up", "endpoint", s.endpoint, "took", time.Since(began))
	return s, nil
}

// childEnv is env without SMTP_TRANSPORT, which would make aws-ses-v2-local
// relay every mail to a real SMTP server, plus extra.
func childEnv(env []string, extra ...string) []string {
	out := make([]string, 0, len(env)+len(extra))
	for _, kv := range env {
		if strings.HasPrefix(kv, "SMTP_TRANSPORT=") || strings.HasPrefix(kv, "AWS_SES_ACCOUNT=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

// Endpoint is the base URL of the running server, for the sesv2 client's
// BaseEndpoint and for Mails, for example http://127.0.0.1:41234.
func (s *Server) Endpoint() string { return s.endpoint }

// Close stops the server and waits for it to exit. The mails it kept are
// gone. It is safe to call more than once.
func (s *Server) Close() error {
	if err := s.proc.Stop(); err != nil {
		return fmt.Errorf("seslocal: %w", err)
	}
	return nil
}

// httpClient bounds each call to the store; callers' contexts bound the rest.
var httpClient = &http.Client{Timeout: 10 * time.Second}
