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
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ocpro/upgrade/internal/awsconf"
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
	r := config.NewReader(getenv)
	table, publicBaseURL := config.Table.Read(r), config.PublicBaseURL.Read(r)
	operatorName, linkKeyARN := config.OperatorName.Read(r), config.LinkKeySecretARN.Read(r)
	entra, graphBaseURL := config.ReadEntra(r), config.GraphBaseURL.Read(r)
	if err := r.Err(); err != nil {
		return nil, err
	}
	cfg, err := awsconf.FromEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("AWS config: %w", err)
	}
	st, err := store.NewWizard(dynamodb.NewFromConfig(cfg), table)
	if err != nil {
		return nil, err
	}
	// Secrets through the Lambda extension: no Secrets Manager client here.
	sm, err := secret.NewExtension(getenv, nil)
	if err != nil {
		return nil, err
	}
	key, err := secret.NewKey(sm, linkKeyARN, link.MinKeySize)
	if err != nil {
		return nil, err
	}
	links, err := link.NewSigner(key, publicBaseURL)
	if err != nil {
		return nil, err
	}
	sealer, err := seal.New(kms.NewFromConfig(cfg), entra.TokenKeyID)
	if err != nil {
		return nil, err
	}
	clientSecret, err := secret.NewCredential(sm, entra.CredentialSecretARN)
	if err != nil {
		return nil, err
	}
	// One HTTP client for Microsoft, with a timeout well inside the
	// function's; SSL_CERT_FILE makes the local stack's emulator trusted.
	httpClient := &http.Client{Timeout: 8 * time.Second}
	id, err := identity.New(identity.Config{AuthorityHost: entra.AuthorityHost, ClientID: entra.ClientID, Secret: clientSecret,
		RedirectURI: publicBaseURL + "/consent/callback", GraphBaseURL: graphBaseURL, HTTPClient: httpClient})
	if err != nil {
		return nil, err
	}
	w, err := wizard.New(wizard.Config{Store: st, Identity: id, Sealer: sealer, Links: links,
		FormKeys: key, Clock: upgrade.SystemClock{}, Logger: log, RequiredRoles: entra.RequiredRoles})
	if err != nil {
		return nil, err
	}
	return page.NewHandler(page.Config{Wizard: w, PublicBaseURL: publicBaseURL, AuthorityHost: entra.AuthorityHost,
		OperatorName: operatorName, Logger: log})
}
