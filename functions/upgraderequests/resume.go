package main

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ocpro/upgrade/internal/api"
	"github.com/ocpro/upgrade/internal/config"
	"github.com/ocpro/upgrade/internal/secret"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/validate"
)

// resumeParts wires resume, cancel and the service routes.
// Resume validates the tenant in-process with the validation library, so
// this function holds the Entra credential and the token key too.
func resumeParts(cfg aws.Config, secrets *secret.Extension, entra config.Entra, graphBaseURL, sipDomain string, st *store.Store, log *slog.Logger) (api.Option, error) {
	checker, _, err := validate.NewFromConfig(entra, graphBaseURL, secrets, kms.NewFromConfig(cfg), st, log)
	if err != nil {
		return nil, err
	}
	f, err := upgrade.NewFinisher(upgrade.FinishDeps{Store: st, Validator: checker, Clock: upgrade.SystemClock{},
		IDs: upgrade.RandomIDs{}, SIPDomain: sipDomain, ApplicationID: entra.ClientID, Logger: log})
	if err != nil {
		return nil, err
	}
	return api.WithFinisher(f), nil
}
