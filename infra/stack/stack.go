// Package stack starts the whole service locally: DynamoDB Local,
// aws-ses-v2-local, the Entra emulator, small stand-ins for EventBridge,
// its pipes, Secrets Manager and KMS, every function's real bootstrap
// under aws-lambda-rie, and a local API Gateway in front of them.
//
// All wiring comes from template.yaml through infra/template: routes, the JWT
// authorizer, rules, schedules, tables, pipes and each function's
// environment. The
// stack only adds what AWS would add (credentials, region, endpoints) and the
// local values of the template's parameters.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/ocpro/upgrade/infra/entra"
	"github.com/ocpro/upgrade/infra/eventbus"
	"github.com/ocpro/upgrade/infra/lambdapool"
	"github.com/ocpro/upgrade/infra/template"
)

// Local values the stack gives the template's parameters and AWS.
const (
	Region    = "eu-west-1"
	AccountID = "000000000000"
	StackName = "ocpro-local"

	PortalAudience = entra.DefaultPortalAudience
	// ServiceClientID is the local registration of the operator's
	// multi-tenant Entra application.
	ServiceClientID = "5e2a7c1d-8b3f-4a6e-9d20-1c4b7f9e0a55"
	SenderAddress   = "no-reply@ocpro.example"

	linkKeySecretARN = "arn:aws:secretsmanager:" + Region + ":" + AccountID + ":secret:ocpro/link-key"
	entraSecretARN   = "arn:aws:secretsmanager:" + Region + ":" + AccountID + ":secret:ocpro/entra-credential"
	tokenKeyID       = "arn:aws:kms:" + Region + ":" + AccountID + ":key/local-token-key"
	mailDomain       = "ocpro.example"
)

// ServiceAppPermissions are the Microsoft Graph application permissions the
// local registration of the operator's application asks for, as its "API
// permissions" in Entra would: what admin consent grants and what
// "/.default" then carries. They are written here, not read from the
// template's EntraRequiredRoles, because in Entra the two are set apart
// (the registration in the portal, the parameter at deploy time): a drift
// between them must show up locally, not only against Microsoft.
var ServiceAppPermissions = []string{"Organization.Read.All", "User.Read.All", "Application.Read.All"}

// Options configure a stack. Zero ports pick free ones.
type Options struct {
	// Root is the repository root (template.yaml lives there).
	Root string
	// Cache holds the installed stand-ins (DynamoDB Local, node_modules, RIE).
	Cache string
	// Bootstraps is the folder with <LogicalId>/bootstrap for every function.
	Bootstraps string
	// StateDir keeps the emulator's CA and keys and the env file; a temporary
	// folder when empty.
	StateDir string
	APIPort  int
	MailPort int
	// MaxInstances bounds each function's pool of runtime instances.
	MaxInstances int
	// ConsoleDir holds the operator console's built files, served under
	// /console/ at the API's origin; empty serves no console.
	ConsoleDir string
	// Verbose keeps the runtime emulator's own informational lines in the
	// functions' output; without it only the functions' logs and the
	// emulator's warnings and errors remain.
	Verbose bool
	// Output receives the children's output (functions, DynamoDB Local, SES).
	Output io.Writer
	Logger *slog.Logger
}

// Stack is a running local stack.
type Stack struct {
	APIURL    string
	MailURL   string
	DynamoURL string
	EntraURL  string
	AWSURL    string
	CAFile    string
	TableName string
	Template  *template.Template
	Entra     *entra.Emulator
	Bus       *eventbus.Bus

	// ConsoleURL is the operator console, which is also the redirect URI
	// registered for it; StaffUser signs in to it with entra.DefaultPassword.
	ConsoleURL string
	StaffUser  string

	pipes   *pipes
	closers []func() error
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Start brings the whole stack up and returns when every part answers. It
// reads template.yaml once; every step takes its wiring from it.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	opts = opts.withDefaults()
	s := &Stack{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	src, err := template.Read(filepath.Join(opts.Root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	// Refuse taken ports before starting anything, so that a second make run
	// stops at once and leaves the first alone.
	apiLn, mailPort, err := s.takePorts(opts)
	if err != nil {
		return nil, err
	}
	stateDir, err := s.stateDir(opts)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel

	entraSecret := randomSecret()
	if err := s.startEntra(runCtx, stateDir, entraSecret, opts.Logger); err != nil {
		return nil, err
	}
	if err := s.startStores(ctx, opts, mailPort); err != nil {
		return nil, err
	}
	s.TableName = StackName + "-table"
	if s.Template, err = src.Resolve(s.localValues()); err != nil {
		return nil, err
	}
	if err := s.createTables(ctx); err != nil {
		return nil, err
	}
	// The functions need the stand-ins' endpoint and the bus invokes the
	// functions: the bus starts first and invokes through invoker, which
	// answers once the pools exist. The pools close after the bus.
	pools := lambdapool.Pools{}
	s.closers = append(s.closers, pools.Close)
	invoker := &lazyInvoker{}
	if err := s.startAWS(invoker, entraSecret, opts.Logger); err != nil {
		return nil, err
	}
	if err := s.startFunctions(opts, pools); err != nil {
		return nil, err
	}
	invoker.set(pools)
	if err := s.startPipes(ctx, stateDir, opts.Logger); err != nil {
		return nil, err
	}
	s.runSchedules(runCtx, opts.Logger)
	if err := s.startGateway(apiLn, invoker, opts.ConsoleDir, opts.Logger); err != nil {
		return nil, err
	}
	if err := s.writeEnv(filepath.Join(stateDir, "env")); err != nil {
		return nil, err
	}
	return s, nil
}

func (o Options) withDefaults() Options {
	if o.Output == nil {
		o.Output = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(o.Output, nil))
	}
	if o.MaxInstances == 0 {
		o.MaxInstances = 4
	}
	return o
}

// Close stops every part, newest first, and waits for them.
func (s *Stack) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	s.wg.Wait()
	return errors.Join(errs...)
}

// Env lists the stack's addresses as KEY=VALUE pairs, as written to the env
// file that make token and make demo read.
func (s *Stack) Env() map[string]string {
	return map[string]string{
		"API_URL":       s.APIURL,
		"CONSOLE_URL":   s.ConsoleURL,
		"STAFF_USER":    s.StaffUser,
		"MAIL_URL":      s.MailURL,
		"DYNAMODB_URL":  s.DynamoURL,
		"ENTRA_URL":     s.EntraURL,
		"ENTRA_CA_FILE": s.CAFile,
		"AWS_URL":       s.AWSURL,
		"TABLE_NAME":    s.TableName,
	}
}

func (s *Stack) writeEnv(path string) error {
	env := s.Env()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, env[k])
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
