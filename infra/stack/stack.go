// Package stack starts the whole service locally: DynamoDB Local,
// aws-ses-v2-local, the Entra emulator, small stand-ins for EventBridge,
// Secrets Manager and KMS, every function's real bootstrap under
// aws-lambda-rie, and a local API Gateway in front of them.
//
// All wiring comes from template.yaml through infra/template: routes, the JWT
// authorizer, rules, schedules, tables and each function's environment. The
// stack only adds what AWS would add (credentials, region, endpoints) and the
// local values of the template's parameters.
package stack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocpro/upgrade/infra/dynamolocal"
	"github.com/ocpro/upgrade/infra/entra"
	"github.com/ocpro/upgrade/infra/eventbus"
	"github.com/ocpro/upgrade/infra/gateway"
	"github.com/ocpro/upgrade/infra/kms"
	"github.com/ocpro/upgrade/infra/lambdapool"
	"github.com/ocpro/upgrade/infra/secrets"
	"github.com/ocpro/upgrade/infra/seslocal"
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

	linkKeySecretARN  = "arn:aws:secretsmanager:" + Region + ":" + AccountID + ":secret:ocpro/link-key"
	entraSecretARN    = "arn:aws:secretsmanager:" + Region + ":" + AccountID + ":secret:ocpro/entra-credential"
	tokenKeyID        = "arn:aws:kms:" + Region + ":" + AccountID + ":key/local-token-key"
	senderIdentityARN = "arn:aws:ses:" + Region + ":" + AccountID + ":identity/ocpro.example"
)

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

	closers []func() error
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Start brings the whole stack up and returns when every part answers.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	if opts.Output == nil {
		opts.Output = io.Discard
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(opts.Output, nil))
	}
	if opts.MaxInstances == 0 {
		opts.MaxInstances = 4
	}
	s := &Stack{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	// Refuse taken ports before starting anything, so that a second make run
	// stops at once and leaves the first alone.
	apiLn, err := listen(opts.APIPort, "API")
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() error { apiLn.Close(); return nil })
	mailPort := opts.MailPort
	if mailPort == 0 {
		if mailPort, err = freePort(); err != nil {
			return nil, err
		}
	} else if err := portFree(mailPort, "mailbox"); err != nil {
		return nil, err
	}

	stateDir := opts.StateDir
	if stateDir == "" {
		if stateDir, err = os.MkdirTemp("", "ocpro-stack-"); err != nil {
			return nil, err
		}
		s.closers = append(s.closers, func() error { return os.RemoveAll(stateDir) })
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, err
	}

	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel

	apiURL := "http://" + apiLn.Addr().String()
	s.APIURL = apiURL

	// The permissions the operator's app asks tenants to consent to are a
	// template parameter; the emulator's registration takes its value.
	params, err := template.Load(filepath.Join(opts.Root, "template.yaml"), template.Options{})
	if err != nil {
		return nil, err
	}
	requiredRoles := strings.Split(params.Parameters["EntraRequiredRoles"].Value, ",")

	// Entra emulator (https with its own CA); it stops with runCtx.
	// Entra emulator (https with its own CA).
	entraSecret := randomSecret()
	s.ConsoleURL = apiURL + gateway.ConsolePrefix
	s.StaffUser = entra.DefaultStaffUser("")
	em, err := entra.New(entra.Config{
		Dir:    filepath.Join(stateDir, "entra"),
		Logger: opts.Logger.With("part", "entra"),
		// The console is a single-page app; this is its exact redirect URI.
		PortalRedirectURIs: []string{s.ConsoleURL},
		Apps: []entra.App{{
			ClientID:     ServiceClientID,
			DisplayName:  "Live Platform Operator Connect",
			HomeTenantID: entra.DefaultOperatorTenantID,
			Secrets:      []string{entraSecret},
			MultiTenant:  true,
			// The wizard's sign-in and admin consent both return here; the
			// emulator, like Entra, refuses any other redirect URI.
			RedirectURIs: []string{apiURL + "/consent/callback"},
			// The application permissions admin consent grants, which the
			// consent callback and the validation then require in tokens.
			RequiredRoles: requiredRoles,
			// Device code sign-in (seed steps 10-16) is a public client flow.
			AllowPublicClientFlows: true,
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("entra emulator: %w", err)
	}
	s.Entra = em
	entraURL, err := em.Serve(runCtx, "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.EntraURL = entraURL
	s.CAFile = filepath.Join(stateDir, "ca-bundle.pem")
	if err := em.WriteCABundle(s.CAFile); err != nil {
		return nil, err
	}

	// DynamoDB Local and SES local.
	ddb, err := dynamolocal.Start(ctx, dynamolocal.Options{Dir: filepath.Join(opts.Cache, "dynamodb"), Log: prefixed(opts.Output, "dynamodb")})
	if err != nil {
		return nil, fmt.Errorf("DynamoDB Local: %w", err)
	}
	s.closers = append(s.closers, ddb.Close)
	s.DynamoURL = ddb.Endpoint()

	ses, err := seslocal.Start(ctx, seslocal.Options{
		NodeModules: filepath.Join(opts.Root, "infra", "node_modules"),
		Port:        mailPort,
		Log:         prefixed(opts.Output, "ses"),
	})
	if err != nil {
		return nil, fmt.Errorf("aws-ses-v2-local: %w", err)
	}
	s.closers = append(s.closers, ses.Close)
	s.MailURL = ses.Endpoint()

	// The template, resolved with local parameter values.
	s.TableName = StackName + "-table"
	tmpl, err := template.Load(filepath.Join(opts.Root, "template.yaml"), template.Options{
		Region: Region, AccountID: AccountID, StackName: StackName,
		Names: map[string]string{"Table": s.TableName, "EventBus": StackName + "-bus", "MailConfigurationSet": StackName + "-mail"},
		Parameters: map[string]string{
			"JwtIssuer":                em.Issuer(),
			"JwtAudience":              PortalAudience,
			"PublicBaseUrl":            apiURL,
			"SenderAddress":            SenderAddress,
			"SenderIdentityArn":        senderIdentityARN,
			"EntraAuthorityHost":       entraURL,
			"GraphBaseUrl":             entraURL,
			"EntraClientId":            ServiceClientID,
			"EntraCredentialSecretArn": entraSecretARN,
			"LinkKeySecretArn":         linkKeySecretARN,
		},
	})
	if err != nil {
		return nil, err
	}
	s.Template = tmpl

	client, err := dynamolocal.NewClient(ctx, ddb.Endpoint())
	if err != nil {
		return nil, err
	}
	if err := dynamolocal.CreateTables(ctx, client, tmpl.Tables, func(id string) string {
		for _, t := range tmpl.Tables {
			if t.LogicalID == id {
				return t.Name
			}
		}
		return id
	}); err != nil {
		return nil, fmt.Errorf("creating tables: %w", err)
	}

	// The functions, under aws-lambda-rie.
	pools := lambdapool.Pools{}
	s.closers = append(s.closers, func() error {
		var errs []error
		for _, p := range pools {
			errs = append(errs, p.Close())
		}
		return errors.Join(errs...)
	})
	invoker := &lazyInvoker{}

	// EventBridge, Secrets Manager and KMS stand-ins behind one endpoint.
	bus, err := eventbus.New(eventbus.Config{
		Rules: tmpl.Rules, Schedules: tmpl.Schedules, Invoker: invoker,
		Buses:  append([]string{"default"}, tmpl.Buses...),
		Region: Region, AccountID: AccountID, Log: opts.Logger.With("part", "eventbridge"),
	})
	if err != nil {
		return nil, err
	}
	s.Bus = bus
	s.closers = append(s.closers, bus.Close)
	// The KMS stand-in serves the key the template gives the consent
	// function (TOKEN_KMS_KEY_ID: !GetAtt TokenKey.Arn).
	keyID := tokenKeyID
	if fn, ok := tmpl.Functions["ConsentCallbackFunction"]; ok && fn.Environment["TOKEN_KMS_KEY_ID"] != "" {
		keyID = fn.Environment["TOKEN_KMS_KEY_ID"]
	}
	kmsHandler, err := kms.New(keyID, randomBytes(32))
	if err != nil {
		return nil, err
	}
	awsMux := awsRouter(bus, secrets.New(map[string]string{
		linkKeySecretARN: base64.StdEncoding.EncodeToString(randomBytes(32)),
		entraSecretARN:   entraSecret,
	}), kmsHandler)
	awsURL, stopAWS, err := serve(awsMux)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, stopAWS)
	s.AWSURL = awsURL

	env := map[string]string{
		"AWS_REGION":                       Region,
		"AWS_DEFAULT_REGION":               Region,
		"AWS_ACCESS_KEY_ID":                "local",
		"AWS_SECRET_ACCESS_KEY":            "local",
		"AWS_EC2_METADATA_DISABLED":        "true",
		"AWS_ENDPOINT_URL_DYNAMODB":        s.DynamoURL,
		"AWS_ENDPOINT_URL_SESV2":           s.MailURL,
		"AWS_ENDPOINT_URL_EVENTBRIDGE":     awsURL,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": awsURL,
		"AWS_ENDPOINT_URL_KMS":             awsURL,
		// DynamoDB Local's responses fail the SDK's checksum validation.
		"AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
		"SSL_CERT_FILE":                    s.CAFile,
		"TOKEN_KMS_KEY_ID":                 tokenKeyID,
	}
	rie := filepath.Join(opts.Cache, "bin", "aws-lambda-rie")
	for id, fn := range tmpl.Functions {
		fenv := map[string]string{}
		for k, v := range env {
			fenv[k] = v
		}
		for k, v := range fn.Environment {
			fenv[k] = v
		}
		// What Lambda sets from the function's LoggingConfig, which
		// lambdacontext.NewLogger reads.
		if fn.LogFormat != "" {
			fenv["AWS_LAMBDA_LOG_FORMAT"] = strings.ToUpper(fn.LogFormat)
		}
		if fn.LogLevel != "" {
			fenv["AWS_LAMBDA_LOG_LEVEL"] = strings.ToUpper(fn.LogLevel)
		}
		p, err := lambdapool.New(lambdapool.Config{
			Name:         id,
			Bootstrap:    filepath.Join(opts.Bootstraps, id, "bootstrap"),
			RIE:          rie,
			Env:          fenv,
			Timeout:      time.Duration(fn.Timeout) * time.Second,
			MemoryMB:     fn.MemorySize,
			MaxInstances: opts.MaxInstances,
			Log:          functionOutput(opts.Output, id, opts.Verbose),
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		pools[id] = p
	}
	invoker.set(pools)

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := bus.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			opts.Logger.Error("schedules stopped", "err", err)
		}
	}()

	// The local API Gateway, on the port taken first.
	gw, err := gateway.New(gateway.Config{
		Routes: tmpl.Routes, Authorizer: tmpl.Authorizer, Invoker: invoker,
		HTTPClient: em.Client(),
		Region:     Region, AccountID: AccountID, APIID: "local", Stage: "$default",
		Log: opts.Logger.With("part", "gateway"), MaxBodyBytes: 10 << 20,
		Throttle: tmpl.ThrottleFor,
	})
	if err != nil {
		return nil, err
	}
	if opts.ConsoleDir != "" {
		gw = gateway.WithConsole(gw, gateway.Console{Dir: opts.ConsoleDir, Authority: entraURL, Settings: map[string]string{
			"clientId":  entra.DefaultPortalClientID,
			"authority": entraURL + "/" + em.OperatorTenantID(),
			"scope":     PortalAudience + "/" + entra.DefaultPortalScope,
		}})
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			opts.Logger.Error("gateway stopped", "err", err)
		}
	}()
	s.closers = append(s.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	})

	if err := s.writeEnv(filepath.Join(stateDir, "env")); err != nil {
		return nil, err
	}
	return s, nil
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

// awsRouter sends AWS JSON 1.1 calls to the stand-in whose target prefix they
// carry, and the event bus's control surface under /_local/.
func awsRouter(bus, sm, kmsH http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_local/") {
			bus.ServeHTTP(w, r)
			return
		}
		target := r.Header.Get("X-Amz-Target")
		switch {
		case strings.HasPrefix(target, "AWSEvents."):
			bus.ServeHTTP(w, r)
		case strings.HasPrefix(target, "secretsmanager."):
			sm.ServeHTTP(w, r)
		case strings.HasPrefix(target, "TrentService."):
			kmsH.ServeHTTP(w, r)
		default:
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"UnknownOperationException","message":"no local stand-in for %q"}`, target)
		}
	})
}

// lazyInvoker lets the bus and the gateway be built before the pools exist.
type lazyInvoker struct {
	mu    sync.RWMutex
	pools lambdapool.Pools
}

func (l *lazyInvoker) set(p lambdapool.Pools) {
	l.mu.Lock()
	l.pools = p
	l.mu.Unlock()
}

func (l *lazyInvoker) Invoke(ctx context.Context, function string, event []byte) ([]byte, error) {
	l.mu.RLock()
	p := l.pools
	l.mu.RUnlock()
	if p == nil {
		return nil, errors.New("functions are not started yet")
	}
	return p.Invoke(ctx, function, event)
}

func listen(port int, what string) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return nil, fmt.Errorf("the %s port 127.0.0.1:%d is taken (is another make run up? set API_PORT or MAIL_PORT to use other ports): %w", what, port, err)
	}
	return ln, nil
}

func portFree(port int, what string) error {
	ln, err := listen(port, what)
	if err != nil {
		return err
	}
	return ln.Close()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func serve(h http.Handler) (url string, stop func() error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	}, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return b
}

func randomSecret() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(30))
}
