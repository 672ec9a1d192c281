package store

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ocpro/upgrade/internal/fault"
)

// busyDetail is what a caller is told when DynamoDB asked us to slow down.
const busyDetail = "The database is busy; try again shortly."

// busyAware passes every call to the client and turns DynamoDB's "slow
// down" answers, which the SDK has already retried with backoff, into
// fault.Unavailable: the portal then answers 503 instead of 500, and an
// event handler fails so that EventBridge retries later. The cause stays
// wrapped, so errors.As still finds the SDK's error.
type busyAware struct{ API }

func (b busyAware) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := b.API.GetItem(ctx, in, opts...)
	return out, busy(err)
}

func (b busyAware) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	out, err := b.API.PutItem(ctx, in, opts...)
	return out, busy(err)
}

func (b busyAware) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := b.API.Query(ctx, in, opts...)
	return out, busy(err)
}

func (b busyAware) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	out, err := b.API.TransactWriteItems(ctx, in, opts...)
	return out, busy(err)
}

func (b busyAware) TransactGetItems(ctx context.Context, in *dynamodb.TransactGetItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error) {
	out, err := b.API.TransactGetItems(ctx, in, opts...)
	return out, busy(err)
}

func (b busyAware) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := b.API.UpdateItem(ctx, in, opts...)
	return out, busy(err)
}

// busy classifies err. A cancelled transaction is busy only when a reason
// says so: a failed condition is an answer, not a hiccup, and the callers
// map those reasons themselves.
func busy(err error) error {
	if err == nil {
		return nil
	}
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		for _, r := range tc.CancellationReasons {
			if r.Code != nil && busyCodes[*r.Code] {
				return fault.Transient(err, busyDetail)
			}
		}
		return err
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && busyCodes[ae.ErrorCode()] {
		return fault.Transient(err, busyDetail)
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= http.StatusInternalServerError {
		return fault.Transient(err, busyDetail)
	}
	return err
}

// busyCodes are DynamoDB's error and cancellation reason codes for load it
// cannot take now.
var busyCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ProvisionedThroughputExceeded":          true,
	"RequestLimitExceeded":                   true,
	"ThrottlingException":                    true,
	"ThrottlingError":                        true,
	"InternalServerError":                    true,
	"ServiceUnavailable":                     true,
}

// busyWizard is busyAware for the wizard's client, which also deletes.
type busyWizard struct {
	busyAware
	raw WizardAPI
}

func (b busyWizard) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	out, err := b.raw.DeleteItem(ctx, in, opts...)
	return out, busy(err)
}
