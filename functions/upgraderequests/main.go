// Command upgraderequests is UpgradeRequestsFunction: the portal API for customers,
// upgrades and invitations. It only wires: configuration from the
// environment, AWS clients built once, then lambda.Start. Init does no
// network I/O; the link key is fetched from Secrets Manager on first need.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ocpro/upgrade/internal/api"
	"github.com/ocpro/upgrade/internal/awsconf"
	"github.com/ocpro/upgrade/internal/bus"
	"github.com/ocpro/upgrade/internal/config"
	"github.com/ocpro/upgrade/internal/idempotency"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/notify"
	"github.com/ocpro/upgrade/internal/secret"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// settings is the function's configuration, from template.yaml.
type settings struct {
	table, bus, publicBaseURL, operatorClaim, linkKeyARN string
	invitationTTL                                        time.Duration
}

func readSettings(getenv func(string) string) (settings, error) {
	v, err := config.Require(getenv, "TABLE_NAME", "EVENT_BUS_NAME", "PUBLIC_BASE_URL", "LINK_KEY_SECRET_ARN")
	if err != nil {
		return settings{}, err
	}
	s := settings{
		table: v["TABLE_NAME"], bus: v["EVENT_BUS_NAME"], publicBaseURL: v["PUBLIC_BASE_URL"],
		operatorClaim: getenv("OPERATOR_CLAIM"), linkKeyARN: v["LINK_KEY_SECRET_ARN"],
	}
	ttl, err := upgrade.ParseInvitationTTL(getenv("INVITATION_TTL_HOURS"))
	if err != nil {
		return settings{}, fmt.Errorf("INVITATION_TTL_HOURS: %w", err)
	}
	s.invitationTTL = ttl
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

func wire(ctx context.Context, getenv func(string) string, log *slog.Logger) (*api.Handler, error) {
	s, err := readSettings(getenv)
	if err != nil {
		return nil, err
	}
	// Lambda's environment, not LoadDefaultConfig: see internal/awsconf.
	cfg, err := awsconf.FromEnv(getenv)
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(cfg)
	st, err := store.New(db, s.table)
	if err != nil {
		return nil, err
	}
	// One idempotency record per operator and Idempotency-Key in the same table.
	guard, err := idempotency.NewOnTable(db, s.table, idempotency.Config{Log: log})
	if err != nil {
		return nil, err
	}
	pub, err := bus.NewPublisher(eventbridge.NewFromConfig(cfg), s.bus)
	if err != nil {
		return nil, err
	}
	key, err := secret.NewKey(secretsmanager.NewFromConfig(cfg), s.linkKeyARN, link.MinKeySize)
	if err != nil {
		return nil, err
	}
	links, err := link.NewSigner(key, s.publicBaseURL)
	if err != nil {
		return nil, err
	}
	portal, err := upgrade.NewPortal(upgrade.Deps{
		Store: st, Publisher: pub, Links: links, Clock: upgrade.SystemClock{}, IDs: upgrade.RandomIDs{},
		Logger: log, InvitationTTL: s.invitationTTL,
	})
	if err != nil {
		return nil, err
	}
	opts, err := mailParts(getenv, st, pub, links, s, log)
	if err != nil {
		return nil, err
	}
	resume, err := resumeParts(cfg, getenv, st, pub, log)
	if err != nil {
		return nil, err
	}
	return api.NewHandler(portal, s.operatorClaim, log, append(opts, resume, api.WithIdempotency(guard))...)
}

// mailParts wires the Customer Invitations actions and the email settings.
// The test mail is only published here: InvitationEmailFunction renders and
// sends it, so this binary links neither templates nor SES.
func mailParts(getenv func(string) string, st *store.Store, pub *bus.Publisher, links *link.Signer, s settings, log *slog.Logger) ([]api.Option, error) {
	operator := getenv("OPERATOR_NAME")
	if operator == "" {
		return nil, fmt.Errorf("OPERATOR_NAME is not set")
	}
	offsets, err := upgrade.ParseReminderOffsets(getenv("REMINDER_OFFSETS_HOURS"))
	if err != nil {
		return nil, fmt.Errorf("REMINDER_OFFSETS_HOURS: %w", err)
	}
	actions, err := upgrade.NewActions(upgrade.ActionDeps{Store: st, Requests: pub, Links: links, Clock: upgrade.SystemClock{},
		Logger: log, InvitationTTL: s.invitationTTL, Reminders: upgrade.ReminderPolicy{Offsets: offsets}})
	if err != nil {
		return nil, err
	}
	set, err := notify.NewSettings(notify.SettingsDeps{Store: st, Requests: pub, Clock: upgrade.SystemClock{},
		Logger: log, OperatorName: operator})
	if err != nil {
		return nil, err
	}
	return []api.Option{api.WithInvitationActions(actions), api.WithEmailSettings(set)}, nil
}
