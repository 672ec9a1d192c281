package ses_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/mail/ses"
)

// TestMaxSendRateFromLocalSES reads the send quota through the real sesv2
// client from aws-ses-v2-local, which answers the account of a production
// SES account sending 14 mails a second.
func TestMaxSendRateFromLocalSES(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	client := sesv2.New(sesv2.Options{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(testenv.SES(t)),
	})
	a, err := ses.NewAccount(client)
	if err != nil {
		t.Fatal(err)
	}
	rate, err := a.MaxSendRate(t.Context())
	if err != nil || rate != 14 {
		t.Errorf("MaxSendRate() = %v, %v; want 14", rate, err)
	}
}

// accountAPI answers GetAccount with out or err.
type accountAPI struct {
	out *sesv2.GetAccountOutput
	err error
}

func (a accountAPI) GetAccount(context.Context, *sesv2.GetAccountInput, ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error) {
	return a.out, a.err
}

// TestMaxSendRateFailures: an account SES cannot describe is an error, for
// the sweep to fall back to its configured rate.
func TestMaxSendRateFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		api  accountAPI
	}{
		{"call failed", accountAPI{err: errors.New("AccessDeniedException")}},
		{"no send quota", accountAPI{out: &sesv2.GetAccountOutput{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := ses.NewAccount(tt.api)
			if err != nil {
				t.Fatal(err)
			}
			if rate, err := a.MaxSendRate(t.Context()); err == nil {
				t.Errorf("MaxSendRate() = %v, want an error", rate)
			}
		})
	}
	a, err := ses.NewAccount(accountAPI{out: &sesv2.GetAccountOutput{SendQuota: &types.SendQuota{MaxSendRate: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if rate, err := a.MaxSendRate(t.Context()); err != nil || rate != 2 {
		t.Errorf("MaxSendRate() = %v, %v; want 2", rate, err)
	}
	if _, err := ses.NewAccount(nil); err == nil {
		t.Error("NewAccount(nil) succeeded")
	}
}
