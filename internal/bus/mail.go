package bus

import (
	"context"

	"github.com/ocpro/upgrade/internal/notify"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// Detail types of the invitation mails and the sweep.
const (
	// DetailTypeInvitationMailRequested asks the invitation email function
	// for one mail (resend, regenerate, reminder, or a lost Welcome mail).
	DetailTypeInvitationMailRequested = "Invitation Mail Requested"
	// DetailTypeInvitationExpired says the sweep expired a link.
	DetailTypeInvitationExpired = "Invitation Expired"
)

var _ upgrade.MailRequester = (*Publisher)(nil)

// MailRequestedDetail is the detail of Invitation Mail Requested: ids and
// the mail's identity, never the link or the address.
type MailRequestedDetail struct {
	InvitationID string `json:"invitationId"`
	OperatorID   string `json:"operatorId"`
	Generation   int    `json:"generation"`
	Mail         string `json:"mail"`
}

// InvitationMailRequested implements upgrade.MailRequester.
func (p *Publisher) InvitationMailRequested(ctx context.Context, r upgrade.MailRequest) error {
	return p.put(ctx, DetailTypeInvitationMailRequested, MailRequestedDetail{
		InvitationID: r.InvitationID, OperatorID: r.OperatorID, Generation: r.Generation, Mail: string(r.Mail),
	})
}

// InvitationExpiredDetail is the detail of Invitation Expired.
type InvitationExpiredDetail struct {
	InvitationID string `json:"invitationId"`
	OperatorID   string `json:"operatorId"`
	CustomerID   string `json:"customerId"`
	UpgradeID    string `json:"upgradeId"`
}

// InvitationExpired announces that an invitation's link expired.
func (p *Publisher) InvitationExpired(ctx context.Context, inv upgrade.Invitation) error {
	return p.put(ctx, DetailTypeInvitationExpired, InvitationExpiredDetail{
		InvitationID: inv.ID, OperatorID: inv.OperatorID, CustomerID: inv.CustomerID, UpgradeID: inv.UpgradeID,
	})
}

// DetailTypeTestMailRequested asks the invitation email function for an
// operator's test mail of its email settings.
const DetailTypeTestMailRequested = "Test Mail Requested"

var _ notify.TestMailRequester = (*Publisher)(nil)

// TestMailRequestedDetail is the detail of Test Mail Requested. It carries
// the recipient, unlike the invitation events: a test mail has no record
// to read the address from.
type TestMailRequestedDetail struct {
	OperatorID string `json:"operatorId"`
	To         string `json:"to"`
	RequestID  string `json:"requestId,omitempty"`
}

// TestMailRequested implements notify.TestMailRequester.
func (p *Publisher) TestMailRequested(ctx context.Context, r notify.TestMail) error {
	return p.put(ctx, DetailTypeTestMailRequested, TestMailRequestedDetail{OperatorID: r.OperatorID, To: r.To, RequestID: r.RequestID})
}
