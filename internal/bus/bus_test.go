package bus_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/ocpro/upgrade/internal/bus"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// fakeEB is EventBridge's PutEvents answering out or err, and keeping what
// it was given.
type fakeEB struct {
	got *eventbridge.PutEventsInput
	out *eventbridge.PutEventsOutput
	err error
}

func (f *fakeEB) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.got = in
	return f.out, f.err
}

func accepted() *eventbridge.PutEventsOutput {
	return &eventbridge.PutEventsOutput{Entries: []types.PutEventsResultEntry{{EventId: aws.String("e1")}}}
}

// TestPutReportsRejections: PutEvents answers 200 even when it rejected the
// entry, so the publisher must read the failed count; a failed call is an
// error too. Either way the caller learns the event is not on the bus.
func TestPutReportsRejections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		out     *eventbridge.PutEventsOutput
		err     error
		wantErr bool
	}{
		{"accepted", accepted(), nil, false},
		{"entry failed", &eventbridge.PutEventsOutput{FailedEntryCount: 1, Entries: []types.PutEventsResultEntry{{ErrorCode: aws.String("InternalFailure")}}}, nil, true},
		{"entry failed without a reason", &eventbridge.PutEventsOutput{FailedEntryCount: 1}, nil, true},
		{"call failed", nil, errors.New("throttled"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eb := &fakeEB{out: tt.out, err: tt.err}
			p, err := bus.NewPublisher(eb, "ocpro-bus")
			if err != nil {
				t.Fatal(err)
			}
			err = p.InvitationCreated(context.Background(), upgrade.InvitationCreated{InvitationID: "i1", OperatorID: "op"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("InvitationCreated() error = %v, wantErr %v", err, tt.wantErr)
			}
			if entry := eb.got.Entries[0]; aws.ToString(entry.EventBusName) != "ocpro-bus" {
				t.Errorf("put on bus %q, want ocpro-bus", aws.ToString(entry.EventBusName))
			}
		})
	}
}

func TestNewPublishersCheckArguments(t *testing.T) {
	t.Parallel()
	if _, err := bus.NewPublisher(nil, "b"); err == nil {
		t.Error("NewPublisher(nil client) succeeded")
	}
	if _, err := bus.NewPublisher(&fakeEB{}, ""); err == nil {
		t.Error("NewPublisher(empty bus) succeeded")
	}
	if _, err := bus.NewConsentPublisher(nil, "b"); err == nil {
		t.Error("NewConsentPublisher(nil client) succeeded")
	}
	if _, err := bus.NewConsentPublisher(&fakeEB{}, ""); err == nil {
		t.Error("NewConsentPublisher(empty bus) succeeded")
	}
}
