// Command invitationreminders is InvitationRemindersFunction: the scheduled
// reminder and expiry sweep. It only wires the glue (internal/schedule) to
// the use case (internal/sweep) and its adapters: configuration from the
// environment, AWS clients built once, then lambda.Start. Init does no
// network I/O. The SES send rate comes from the deployment
// (SES_MAX_SEND_RATE), so this function links no SES client.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ocpro/upgrade/internal/awsconf"
	"github.com/ocpro/upgrade/internal/config"
	"github.com/ocpro/upgrade/internal/idempotency"
	"github.com/ocpro/upgrade/internal/schedule"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/sweep"
	"github.com/ocpro/upgrade/internal/upgrade"
)

func main() {
	log := lambdacontext.NewLogger()
	slog.SetDefault(log)
	s, err := wire(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(s.Handle)
}

func wire(ctx context.Context, getenv func(string) string, log *slog.Logger) (*schedule.Handler, error) {
	r := config.NewReader(getenv)
	table, reminders := config.Table.Read(r), config.Reminders.Read(r)
	sendRate := config.SESMaxSendRate.Read(r)
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
	// One idempotency record per schedule event id in the same table.
	guard, err := idempotency.NewOnTable(db, table, idempotency.Config{Log: log})
	if err != nil {
		return nil, err
	}
	pace, err := sweep.NewSendRatePacer(sendRate)
	if err != nil {
		return nil, err
	}
	s, err := sweep.New(st, pace, upgrade.SystemClock{}, log, sweep.Config{Reminders: reminders})
	if err != nil {
		return nil, err
	}
	return schedule.New(s, schedule.WithOnce(guard), schedule.WithLogger(log))
}
