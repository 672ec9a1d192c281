package ses

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// AccountAPI is the SES v2 call that tells the account's sending quota.
type AccountAPI interface {
	GetAccount(ctx context.Context, in *sesv2.GetAccountInput, opts ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
}

var _ AccountAPI = (*sesv2.Client)(nil)

// Account reads the SES account's sending quota, so that the sweep paces
// its mail requests below it (sweep.SendQuota).
type Account struct {
	client AccountAPI
}

// NewAccount returns an Account read through client.
func NewAccount(client AccountAPI) (*Account, error) {
	if client == nil {
		return nil, errors.New("ses: NewAccount: nil SES client")
	}
	return &Account{client: client}, nil
}

// MaxSendRate returns the most mails per second SES accepts from the
// account.
func (a *Account) MaxSendRate(ctx context.Context) (float64, error) {
	out, err := a.client.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return 0, fmt.Errorf("ses: GetAccount: %w", err)
	}
	if out.SendQuota == nil {
		return 0, errors.New("ses: GetAccount answered no send quota")
	}
	return out.SendQuota.MaxSendRate, nil
}
