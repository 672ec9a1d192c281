package stack

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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

// takePorts holds the API port and checks that the mailbox port is free
// (or picks one): the API listener is kept for the gateway.
func (s *Stack) takePorts(opts Options) (api net.Listener, mailPort int, err error) {
	api, err = listen(opts.APIPort, "API")
	if err != nil {
		return nil, 0, err
	}
	s.closers = append(s.closers, func() error { api.Close(); return nil })
	s.APIURL = "http://" + api.Addr().String()
	mailPort = opts.MailPort
	if mailPort == 0 {
		mailPort, err = freePort()
	} else {
		err = portFree(mailPort, "mailbox")
	}
	return api, mailPort, err
}

// stateDir returns the folder for the emulator's CA and keys and the env
// file: opts.StateDir, or a temporary one removed on Close.
func (s *Stack) stateDir(opts Options) (string, error) {
	dir := opts.StateDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "ocpro-stack-"); err != nil {
			return "", err
		}
		s.closers = append(s.closers, func() error { return os.RemoveAll(dir) })
	}
	return dir, os.MkdirAll(dir, 0o700)
}

// startEntra starts the Entra emulator (https with its own CA) with the
// operator's application registered; it stops with ctx. The application's
// registration asks for ServiceAppPermissions, on its own as in Entra.
func (s *Stack) startEntra(ctx context.Context, stateDir, secret string, log *slog.Logger) error {
	s.ConsoleURL = s.APIURL + gateway.ConsolePrefix
	s.StaffUser = entra.DefaultStaffUser("")
	em, err := entra.New(entra.Config{
		Dir:    filepath.Join(stateDir, "entra"),
		Logger: log.With("part", "entra"),
		// The console is a single-page app; this is its exact redirect URI.
		PortalRedirectURIs: []string{s.ConsoleURL},
		Apps: []entra.App{{
			ClientID:     ServiceClientID,
			DisplayName:  "Live Platform Operator Connect",
			HomeTenantID: entra.DefaultOperatorTenantID,
			Secrets:      []string{secret},
			MultiTenant:  true,
			// The wizard's sign-in and admin consent both return here; the
			// emulator, like Entra, refuses any other redirect URI.
			RedirectURIs: []string{s.APIURL + "/consent/callback"},
			// The application permissions admin consent grants; the consent
			// callback and the validation require EntraRequiredRoles of them.
			RequiredRoles: ServiceAppPermissions,
			// Device code sign-in (seed steps 10-16) is a public client flow.
			AllowPublicClientFlows: true,
			// The wizard reads the administrator's directory roles (wids).
			GroupMembershipClaims: "DirectoryRole",
		}},
	})
	if err != nil {
		return fmt.Errorf("entra emulator: %w", err)
	}
	s.Entra = em
	if s.EntraURL, err = em.Serve(ctx, "127.0.0.1:0"); err != nil {
		return err
	}
	s.CAFile = filepath.Join(stateDir, "ca-bundle.pem")
	return em.WriteCABundle(s.CAFile)
}

// startStores starts DynamoDB Local and aws-ses-v2-local.
func (s *Stack) startStores(ctx context.Context, opts Options, mailPort int) error {
	ddb, err := dynamolocal.Start(ctx, dynamolocal.Options{Dir: filepath.Join(opts.Cache, "dynamodb"), Log: prefixed(opts.Output, "dynamodb")})
	if err != nil {
		return fmt.Errorf("DynamoDB Local: %w", err)
	}
	s.closers = append(s.closers, ddb.Close)
	s.DynamoURL = ddb.Endpoint()

	ses, err := seslocal.Start(ctx, seslocal.Options{
		NodeModules: filepath.Join(opts.Root, "infra", "node_modules"),
		Port:        mailPort,
		Log:         prefixed(opts.Output, "ses"),
	})
	if err != nil {
		return fmt.Errorf("aws-ses-v2-local: %w", err)
	}
	s.closers = append(s.closers, ses.Close)
	s.MailURL = ses.Endpoint()
	return nil
}

// localValues resolves the template as the local stack deploys it: local
// names for the resources, and the local parts for the parameters that
// have no default or point at Microsoft.
func (s *Stack) localValues() template.Options {
	return template.Options{
		Region: Region, AccountID: AccountID, StackName: StackName,
		Names: map[string]string{"Table": s.TableName, "EventBus": StackName + "-bus", "MailConfigurationSet": StackName + "-mail"},
		Parameters: map[string]string{
			"JwtIssuer":                s.Entra.Issuer(),
			"JwtAudience":              PortalAudience,
			"PublicBaseUrl":            s.APIURL,
			"SenderAddress":            SenderAddress,
			"MailDomain":               mailDomain,
			"EntraAuthorityHost":       s.EntraURL,
			"GraphBaseUrl":             s.EntraURL,
			"EntraClientId":            ServiceClientID,
			"EntraCredentialSecretArn": entraSecretARN,
			"LinkKeySecretArn":         linkKeySecretARN,
		},
	}
}

// createTables creates the template's tables in DynamoDB Local.
func (s *Stack) createTables(ctx context.Context) error {
	client, err := dynamolocal.NewClient(ctx, s.DynamoURL)
	if err != nil {
		return err
	}
	tables := s.Template.Tables
	if err := dynamolocal.CreateTables(ctx, client, tables, func(id string) string {
		for _, t := range tables {
			if t.LogicalID == id {
				return t.Name
			}
		}
		return id
	}); err != nil {
		return fmt.Errorf("creating tables: %w", err)
	}
	return nil
}

// startAWS serves the EventBridge, Secrets Manager and KMS stand-ins behind
// one endpoint. The bus takes its rules and schedules from the template and
// invokes the functions through invoker.
func (s *Stack) startAWS(invoker *lazyInvoker, entraSecret string, log *slog.Logger) error {
	tmpl := s.Template
	bus, err := eventbus.New(eventbus.Config{
		Rules: tmpl.Rules, Schedules: tmpl.Schedules, Invoker: invoker,
		Buses:  append([]string{"default"}, tmpl.Buses...),
		Region: Region, AccountID: AccountID, Log: log.With("part", "eventbridge"),
	})
	if err != nil {
		return err
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
		return err
	}
	awsMux := awsRouter(bus, secrets.New(map[string]string{
		linkKeySecretARN: base64.StdEncoding.EncodeToString(randomBytes(32)),
		entraSecretARN:   entraSecret,
	}), kmsHandler)
	awsURL, stopAWS, err := serve(awsMux)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, stopAWS)
	s.AWSURL = awsURL
	return nil
}

// startFunctions adds to pools a pool of aws-lambda-rie instances for every
// function of the template, with its environment from the template and
// what Lambda would add: region, credentials, the local endpoints and the
// log settings.
func (s *Stack) startFunctions(opts Options, pools lambdapool.Pools) error {
	lambdaEnv := map[string]string{
		"AWS_REGION":                   Region,
		"AWS_DEFAULT_REGION":           Region,
		"AWS_ACCESS_KEY_ID":            "local",
		"AWS_SECRET_ACCESS_KEY":        "local",
		"AWS_SESSION_TOKEN":            "local",
		"AWS_EC2_METADATA_DISABLED":    "true",
		"AWS_ENDPOINT_URL_DYNAMODB":    s.DynamoURL,
		"AWS_ENDPOINT_URL_SESV2":       s.MailURL,
		"AWS_ENDPOINT_URL_EVENTBRIDGE": s.AWSURL,
		"AWS_ENDPOINT_URL_KMS":         s.AWSURL,
		// DynamoDB Local's responses fail the SDK's checksum validation.
		"AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
		"SSL_CERT_FILE":                    s.CAFile,
	}
	rie := filepath.Join(opts.Cache, "bin", "aws-lambda-rie")
	for id, fn := range s.Template.Functions {
		env := maps.Clone(lambdaEnv)
		maps.Copy(env, fn.Environment)
		// What Lambda sets from the function's LoggingConfig, which
		// lambdacontext.NewLogger reads.
		if fn.LogFormat != "" {
			env["AWS_LAMBDA_LOG_FORMAT"] = strings.ToUpper(fn.LogFormat)
		}
		if fn.LogLevel != "" {
			env["AWS_LAMBDA_LOG_LEVEL"] = strings.ToUpper(fn.LogLevel)
		}
		ext, err := s.secretsExtension(fn)
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		p, err := lambdapool.New(lambdapool.Config{
			Name:         id,
			Bootstrap:    filepath.Join(opts.Bootstraps, id, "bootstrap"),
			RIE:          rie,
			Env:          env,
			Timeout:      time.Duration(fn.Timeout) * time.Second,
			MemoryMB:     fn.MemorySize,
			MaxInstances: opts.MaxInstances,
			Log:          functionOutput(opts.Output, id, opts.Verbose),
			Extension:    ext,
		})
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		pools[id] = p
	}
	return nil
}

// secretsExtension is the local AWS Parameters and Secrets Lambda
// Extension for a function whose template gives it the layer: one per
// environment, with the cache settings of the function's environment, in
// front of the Secrets Manager stand-in. A function without the layer
// gets none, as in Lambda.
func (s *Stack) secretsExtension(fn *template.Function) (*lambdapool.Extension, error) {
	if !fn.HasSecretsExtension() {
		return nil, nil
	}
	cfg, err := secrets.ExtensionConfigFromEnv(fn.Environment)
	if err != nil {
		return nil, err
	}
	cfg.Upstream = s.AWSURL
	return &lambdapool.Extension{PortVariable: secrets.ExtensionPortVariable, Handler: func(token string) (http.Handler, error) {
		c := cfg
		c.Token = token
		return secrets.NewExtension(c)
	}}, nil
}

// runSchedules runs the template's schedules on the bus until ctx is done.
func (s *Stack) runSchedules(ctx context.Context, log *slog.Logger) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.Bus.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("schedules stopped", "err", err)
		}
	}()
}

// startGateway serves the template's routes and JWT authorizer on the API
// port taken first, and the operator console's built files from consoleDir
// under its prefix (none when consoleDir is empty).
func (s *Stack) startGateway(api net.Listener, invoker *lazyInvoker, consoleDir string, log *slog.Logger) error {
	gw, err := gateway.New(gateway.Config{
		Routes: s.Template.Routes, Authorizer: s.Template.Authorizer, Invoker: invoker,
		HTTPClient: s.Entra.Client(),
		Region:     Region, AccountID: AccountID, APIID: "local", Stage: "$default",
		Log: log.With("part", "gateway"), MaxBodyBytes: 10 << 20,
		Throttle: s.Template.ThrottleFor,
	})
	if err != nil {
		return err
	}
	var h http.Handler = gw
	if consoleDir != "" {
		h = gateway.WithConsole(gw, gateway.Console{Dir: consoleDir, Authority: s.EntraURL, Settings: map[string]string{
			"clientId":  entra.DefaultPortalClientID,
			"authority": s.EntraURL + "/" + s.Entra.OperatorTenantID(),
			"scope":     PortalAudience + "/" + entra.DefaultPortalScope,
		}})
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(api); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("gateway stopped", "err", err)
		}
	}()
	s.closers = append(s.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	})
	return nil
}
