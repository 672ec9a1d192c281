// Command upgraderequests is UpgradeRequestsFunction: the portal API for customers,
// upgrades and invitations. It only wires: configuration from the
// environment, AWS clients built once, then lambda.Start. Init does no
// network I/O; the link key is fetched from Secrets Manager, through the
// Parameters and Secrets Lambda Extension, on first need.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ocpro/upgrade/internal/api"
	"github.com/ocpro/upgrade/internal/awsconf"
	"github.com/ocpro/upgrade/internal/config"
	"github.com/ocpro/upgrade/internal/idempotency"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/notify"
	"github.com/ocpro/upgrade/internal/quota"
	"github.com/ocpro/upgrade/internal/secret"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/upgrade"
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

func wire(ctx context.Context, getenv func(string) string, log *slog.Logger) (*api.Handler, error) {
	r := config.NewReader(getenv)
	table, publicBaseURL := config.Table.Read(r), config.PublicBaseURL.Read(r)
	operatorClaim, operatorName, linkKeyARN := config.OperatorClaim.Read(r), config.OperatorName.Read(r), config.LinkKeySecretARN.Read(r)
	ttl, reminders := config.InvitationTTL.Read(r), config.Reminders.Read(r)
	// Resume validates the tenant in-process (finish.go).
	entra, graphBaseURL, sipDomain := config.ReadEntra(r), config.GraphBaseURL.Read(r), config.SIPDomain.Read(r)
	perOperator, testMails := config.OperatorRequests.Read(r), config.TestMails.Read(r)
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
	// One idempotency record per operator and Idempotency-Key in the same table.
	guard, err := idempotency.NewOnTable(db, table, idempotency.Config{Log: log})
	if err != nil {
		return nil, err
	}
	// Secrets through the Lambda extension: no Secrets Manager client here.
	secrets, err := secret.NewExtension(getenv, nil)
	if err != nil {
		return nil, err
	}
	key, err := secret.NewKey(secrets, linkKeyARN, link.MinKeySize)
	if err != nil {
		return nil, err
	}
	links, err := link.NewSigner(key, publicBaseURL)
	if err != nil {
		return nil, err
	}
	portal, err := upgrade.NewPortal(upgrade.Deps{
		Store: st, Links: links, Clock: upgrade.SystemClock{}, IDs: upgrade.RandomIDs{},
		Logger: log, InvitationTTL: ttl,
	})
	if err != nil {
		return nil, err
	}
	counter, err := quota.NewDynamo(db, table)
	if err != nil {
		return nil, err
	}
	limit, err := quota.New(counter, upgrade.SystemClock{}, "portal", perOperator,
		"This operator has sent too many requests; try again after the time in Retry-After.")
	if err != nil {
		return nil, err
	}
	mailLimit, err := quota.New(counter, upgrade.SystemClock{}, "testmail", testMails,
		"This operator has asked for too many test mails; try again after the time in Retry-After.")
	if err != nil {
		return nil, err
	}
	opts, err := mailParts(st, links, ttl, reminders, operatorName, mailLimit, log)
	if err != nil {
		return nil, err
	}
	resume, err := resumeParts(cfg, secrets, entra, graphBaseURL, sipDomain, st, log)
	if err != nil {
		return nil, err
	}
	review, err := upgrade.NewReview(st, upgrade.SystemClock{}, log)
	if err != nil {
		return nil, err
	}
	opts = append(opts, api.WithTenantReview(review), api.WithCustomerUpdates(portal))
	return api.NewHandler(portal, operatorClaim, log, append(opts, resume, api.WithIdempotency(guard), api.WithOperatorLimit(limit))...)
}

// mailParts wires the Customer Invitations actions and the email settings.
// The test mail is only requested here (an event in the table's outbox):
// InvitationEmailFunction renders and sends it, so this binary links
// neither templates nor SES.
func mailParts(st *store.Store, links *link.Signer, ttl time.Duration, reminders upgrade.ReminderPolicy,
	operator string, testMails *quota.Limiter, log *slog.Logger) ([]api.Option, error) {
	actions, err := upgrade.NewActions(upgrade.ActionDeps{Store: st, Links: links, Clock: upgrade.SystemClock{},
		Logger: log, InvitationTTL: ttl, Reminders: reminders})
	if err != nil {
		return nil, err
	}
	set, err := notify.NewSettings(notify.SettingsDeps{Store: st, Outbox: st, TestMails: testMails, Clock: upgrade.SystemClock{},
		Logger: log, OperatorName: operator})
	if err != nil {
		return nil, err
	}
	return []api.Option{api.WithInvitationActions(actions), api.WithEmailSettings(set)}, nil
}
