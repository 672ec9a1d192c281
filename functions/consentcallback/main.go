// Command consentcallback is ConsentCallbackFunction: the public Token
// Invitation wizard, Microsoft's return to /consent/callback and the Tenant
// Activation page. It only wires: configuration from the environment, AWS
// and HTTP clients built once, then lambda.Start. Init does no network I/O;
// keys, the client secret and Microsoft's discovery are fetched on first
// need.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ocpro/upgrade/internal/awsconf"
	"github.com/ocpro/upgrade/internal/bus"
	"github.com/ocpro/upgrade/internal/config"
	"github.com/ocpro/upgrade/internal/identity"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/page"
	"github.com/ocpro/upgrade/internal/seal"
	"github.com/ocpro/upgrade/internal/secret"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

// settings is the function's configuration, from template.yaml.
type settings struct {
	table, bus, publicBaseURL, operatorName, linkKeyARN string
	authorityHost, clientID, credentialARN, tokenKeyID  string
	requiredRoles                                       []string
}

func readSettings(getenv func(string) string) (settings, error) {
	v, err := config.Require(getenv, "TABLE_NAME", "EVENT_BUS_NAME", "PUBLIC_BASE_URL", "OPERATOR_NAME", "LINK_KEY_SECRET_ARN",
		"ENTRA_AUTHORITY_HOST", "ENTRA_CLIENT_ID", "ENTRA_CREDENTIAL_SECRET_ARN", "TOKEN_KMS_KEY_ID")
	if err != nil {
		return settings{}, err
	}
	s := settings{
		table: v["TABLE_NAME"], bus: v["EVENT_BUS_NAME"], publicBaseURL: strings.TrimRight(v["PUBLIC_BASE_URL"], "/"),
		operatorName: v["OPERATOR_NAME"], linkKeyARN: v["LINK_KEY_SECRET_ARN"],
		authorityHost: v["ENTRA_AUTHORITY_HOST"], clientID: v["ENTRA_CLIENT_ID"],
		credentialARN: v["ENTRA_CREDENTIAL_SECRET_ARN"], tokenKeyID: v["TOKEN_KMS_KEY_ID"],
	}
	for _, r := range strings.Split(getenv("ENTRA_REQUIRED_ROLES"), ",") {
		if r = strings.TrimSpace(r); r != "" {
			s.requiredRoles = append(s.requiredRoles, r)
		}
	}
	if len(s.requiredRoles) == 0 {
		return settings{}, fmt.Errorf("ENTRA_REQUIRED_ROLES is not set")
	}
	return s, nil
}

func main() {
	log := lambdacontext.NewLogger()
	slog.SetDefault(log)
	h, err := wire(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

func wire(ctx context.Context, getenv func(string) string, log *slog.Logger) (*page.Handler, error) {
	s, err := readSettings(getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := awsconf.FromEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("AWS config: %w", err)
	}
	st, err := store.NewWizard(dynamodb.NewFromConfig(cfg), s.table)
	if err != nil {
		return nil, err
	}
	pub, err := bus.NewConsentPublisher(eventbridge.NewFromConfig(cfg), s.bus)
	if err != nil {
		return nil, err
	}
	sm := secretsmanager.NewFromConfig(cfg)
	key, err := secret.NewKey(sm, s.linkKeyARN, link.MinKeySize)
	if err != nil {
		return nil, err
	}
	links, err := link.NewSigner(key, s.publicBaseURL)
	if err != nil {
		return nil, err
	}
	sealer, err := seal.New(kms.NewFromConfig(cfg), s.tokenKeyID)
	if err != nil {
		return nil, err
	}
	clientSecret, err := secret.NewCredential(sm, s.credentialARN)
	if err != nil {
		return nil, err
	}
	// One HTTP client for Microsoft, with a timeout well inside the
	// function's; SSL_CERT_FILE makes the local stack's emulator trusted.
	httpClient := &http.Client{Timeout: 8 * time.Second}
	id, err := identity.New(identity.Config{AuthorityHost: s.authorityHost, ClientID: s.clientID, Secret: clientSecret,
		RedirectURI: s.publicBaseURL + "/consent/callback", HTTPClient: httpClient})
	if err != nil {
		return nil, err
	}
	w, err := wizard.New(wizard.Config{Store: st, Identity: id, Sealer: sealer, Publisher: pub, Links: links,
		FormKeys: key, Clock: upgrade.SystemClock{}, Logger: log, RequiredRoles: s.requiredRoles})
	if err != nil {
		return nil, err
	}
	return page.NewHandler(page.Config{Wizard: w, PublicBaseURL: s.publicBaseURL, AuthorityHost: s.authorityHost,
		OperatorName: s.operatorName, Logger: log})
}
