package main

import (
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ocpro/upgrade/internal/api"
	"github.com/ocpro/upgrade/internal/bus"
	"github.com/ocpro/upgrade/internal/seal"
	"github.com/ocpro/upgrade/internal/secret"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/validate"
)

// finishParts wires resume, cancel and the service routes (issue 5).
// Resume validates the tenant in-process with the validation library, so
// this function holds the Entra credential and the token key too.
func finishParts(cfg aws.Config, getenv func(string) string, st *store.Store, pub *bus.Publisher, log *slog.Logger) (api.Option, error) {
	env, err := validate.ReadEnv(getenv)
	if err != nil {
		return nil, err
	}
	sipDomain := getenv("SIP_DOMAIN")
	if sipDomain == "" {
		return nil, fmt.Errorf("SIP_DOMAIN is not set")
	}
	cred, err := secret.NewCredential(secretsmanager.NewFromConfig(cfg), env.CredentialSecretARN)
	if err != nil {
		return nil, err
	}
	sealer, err := seal.New(kms.NewFromConfig(cfg), env.TokenKeyID)
	if err != nil {
		return nil, err
	}
	checker, err := validate.New(validate.Config{AuthorityHost: env.AuthorityHost, ClientID: env.ClientID, Secret: cred,
		GraphBaseURL: env.GraphBaseURL, RequiredRoles: env.RequiredRoles, Credentials: st, Sealer: sealer, Logger: log})
	if err != nil {
		return nil, err
	}
	f, err := upgrade.NewFinisher(upgrade.FinishDeps{Store: st, Validator: checker, Publisher: pub, Clock: upgrade.SystemClock{},
		IDs: upgrade.RandomIDs{}, SIPDomain: sipDomain, ApplicationID: env.ClientID, Logger: log})
	if err != nil {
		return nil, err
	}
	return api.WithFinisher(f), nil
}
