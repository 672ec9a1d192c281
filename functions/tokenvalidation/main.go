// Command tokenvalidation is TokenValidationFunction: "Validate
// Authentication" and the M365 Settings page (guide steps 27-29), the
// automatic validation on Authentication Completed, and the scheduled
// keep-alive of kept credentials. It only wires: configuration from the
// environment, AWS clients built once, then lambda.Start. Init does no
// network I/O; the Entra credential is read on first need.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ocpro/upgrade/internal/api"
	"github.com/ocpro/upgrade/internal/awsconf"
	"github.com/ocpro/upgrade/internal/config"
	"github.com/ocpro/upgrade/internal/idempotency"
	"github.com/ocpro/upgrade/internal/secret"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/trigger"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/validate"
)

func main() {
	log := lambdacontext.NewLogger()
	slog.SetDefault(log)
	r, err := wire(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(r.Handle)
}

func wire(ctx context.Context, getenv func(string) string, log *slog.Logger) (*trigger.Router, error) {
	r := config.NewReader(getenv)
	table, operatorClaim := config.Table.Read(r), config.OperatorClaim.Read(r)
	entra, graphBaseURL := config.ReadEntra(r), config.GraphBaseURL.Read(r)
	if err := r.Err(); err != nil {
		return nil, err
	}
	// Lambda's environment, not LoadDefaultConfig: see internal/awsconf.
	cfg, err := awsconf.FromEnv(getenv)
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(cfg)
	st, err := store.New(db, table)
	if err != nil {
		return nil, err
	}
	// One idempotency record per event id in the same table.
	guard, err := idempotency.NewOnTable(db, table, idempotency.Config{Log: log})
	if err != nil {
		return nil, err
	}
	// The Entra credential through the Lambda extension: no Secrets
	// Manager client here.
	secrets, err := secret.NewExtension(getenv, nil)
	if err != nil {
		return nil, err
	}
	checker, cred, err := validate.NewFromConfig(entra, graphBaseURL, secrets, kms.NewFromConfig(cfg), st, log)
	if err != nil {
		return nil, err
	}
	m, err := upgrade.NewM365(upgrade.M365Deps{Store: st, Validator: checker, Clock: upgrade.SystemClock{},
		ApplicationID: entra.ClientID, CredentialExpiry: cred.ExpiresAt, Logger: log})
	if err != nil {
		return nil, err
	}
	h, err := api.NewM365Handler(m, operatorClaim, log)
	if err != nil {
		return nil, err
	}
	return trigger.New(h, m, trigger.WithOnce(guard), trigger.WithLogger(log))
}
