package bus_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/ocpro/upgrade/internal/bus"
	"github.com/ocpro/upgrade/internal/notify"
	"github.com/ocpro/upgrade/internal/upgrade"
)

type fakeEB struct {
	got *eventbridge.PutEventsInput
	out *eventbridge.PutEventsOutput
	err error
}

func (f *fakeEB) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.got = in
	return f.out, f.err
}

func TestInvitationCreated(t *testing.T) {
	t.Parallel()
	e := upgrade.InvitationCreated{InvitationID: "i1", OperatorID: "op", CustomerID: "c1", UpgradeID: "u1", ServiceID: "s1"}
	tests := []struct {
		name    string
		out     *eventbridge.PutEventsOutput
		err     error
		wantErr bool
	}{
		{"accepted", &eventbridge.PutEventsOutput{Entries: []types.PutEventsResultEntry{{EventId: aws.String("e1")}}}, nil, false},
		{"entry failed", &eventbridge.PutEventsOutput{FailedEntryCount: 1, Entries: []types.PutEventsResultEntry{{ErrorCode: aws.String("InternalFailure")}}}, nil, true},
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
			err = p.InvitationCreated(context.Background(), e)
			if (err != nil) != tt.wantErr {
				t.Fatalf("InvitationCreated() error = %v, wantErr %v", err, tt.wantErr)
			}
			entry := eb.got.Entries[0]
			if aws.ToString(entry.Source) != bus.Source || aws.ToString(entry.DetailType) != "Invitation Created" || aws.ToString(entry.EventBusName) != "ocpro-bus" {
				t.Errorf("entry = %+v", entry)
			}
			var d map[string]string
			if err := json.Unmarshal([]byte(aws.ToString(entry.Detail)), &d); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"invitationId": "i1", "operatorId": "op", "customerId": "c1", "upgradeId": "u1", "serviceId": "s1"}
			if len(d) != len(want) {
				t.Errorf("detail = %v, want exactly %v", d, want)
			}
			for k, v := range want {
				if d[k] != v {
					t.Errorf("detail[%s] = %q, want %q", k, d[k], v)
				}
			}
		})
	}
}

// TestTestMailRequested checks the contract with the invitation email
// function: the detail type it routes on and the detail it decodes.
func TestTestMailRequested(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		out     *eventbridge.PutEventsOutput
		err     error
		wantErr bool
	}{
		{"accepted", &eventbridge.PutEventsOutput{Entries: []types.PutEventsResultEntry{{EventId: aws.String("e1")}}}, nil, false},
		{"entry failed", &eventbridge.PutEventsOutput{FailedEntryCount: 1, Entries: []types.PutEventsResultEntry{{ErrorCode: aws.String("InternalFailure")}}}, nil, true},
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
			err = p.TestMailRequested(context.Background(), notify.TestMail{OperatorID: "op", To: "me@operator.example", RequestID: "req-1"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("TestMailRequested() error = %v, wantErr %v", err, tt.wantErr)
			}
			entry := eb.got.Entries[0]
			if aws.ToString(entry.Source) != notify.SourceUpgrades || aws.ToString(entry.DetailType) != notify.DetailTypeTestMailRequested {
				t.Errorf("entry = %s / %s, want what the mail function routes on", aws.ToString(entry.Source), aws.ToString(entry.DetailType))
			}
			var d map[string]string
			if err := json.Unmarshal([]byte(aws.ToString(entry.Detail)), &d); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"operatorId": "op", "to": "me@operator.example", "requestId": "req-1"}
			if len(d) != len(want) {
				t.Errorf("detail = %v, want exactly %v", d, want)
			}
			for k, v := range want {
				if d[k] != v {
					t.Errorf("detail[%s] = %q, want %q", k, d[k], v)
				}
			}
		})
	}
}
