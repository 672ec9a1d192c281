// Command invitationreminders is InvitationRemindersFunction. Until the mail
// issue lands it refuses the schedule's events.
package main

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, e events.CloudWatchEvent) error {
		return errors.New("the reminder sweep is not available yet")
	})
}
