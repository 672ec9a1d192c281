// Command invitationemail is InvitationEmailFunction: it sends the
// invitation mails and the operators' test mails requested on the bus and
// records the SES delivery events. It only wires the glue (internal/courier)
// to the use case (internal/notify) and its adapters: configuration from the
// environment, AWS clients built once, then lambda.Start. Init does no
// network I/O.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/ocpro/upgrade/internal/awsconf"
	"github.com/ocpro/upgrade/internal/config"
	"github.com/ocpro/upgrade/internal/courier"
	"github.com/ocpro/upgrade/internal/idempotency"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/mail"
	"github.com/ocpro/upgrade/internal/mail/layout"
	"github.com/ocpro/upgrade/internal/mail/ses"
	"github.com/ocpro/upgrade/internal/notify"
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

func wire(ctx context.Context, getenv func(string) string, log *slog.Logger) (*courier.Handler, error) {
	r := config.NewReader(getenv)
	table, publicBaseURL, operatorName := config.Table.Read(r), config.PublicBaseURL.Read(r), config.OperatorName.Read(r)
	from, configurationSet := config.SenderAddress.Read(r), config.SESConfigurationSet.Read(r)
	linkKeyARN, support := config.LinkKeySecretARN.Read(r), config.SupportAddress.Read(r)
	reminders := config.Reminders.Read(r)
	// The test mail shows the expiry a customer's link would get.
	ttl := config.InvitationTTL.Read(r)
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
	// The link key through the Lambda extension: no Secrets Manager client here.
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
	renderer := layout.NewRenderer()
	sender, err := ses.NewSender(sesv2.NewFromConfig(cfg), ses.SenderConfig{
		From: from, SenderName: operatorName, ConfigurationSet: configurationSet, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	brand := mail.Branding{OperatorName: operatorName, SupportAddress: support}
	m, err := notify.NewMailer(notify.Deps{
		Store: st, Renderer: renderer, Sender: sender, Links: links, Clock: upgrade.SystemClock{}, Logger: log,
		Branding: brand, Reminders: reminders,
	})
	if err != nil {
		return nil, err
	}
	// The operators' test mails are sent here, not by the portal API, so
	// that only this binary links templates and SES.
	tests, err := notify.NewTestMailer(notify.TestMailerDeps{
		Settings: st, Renderer: renderer, Sender: sender, Clock: upgrade.SystemClock{}, Logger: log,
		Branding: brand, PublicBaseURL: publicBaseURL, InvitationTTL: ttl,
	})
	if err != nil {
		return nil, err
	}
	return courier.New(m, courier.WithOnce(guard), courier.WithTestMailer(tests), courier.WithLogger(log))
}
