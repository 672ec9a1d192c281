package bus

import (
	"context"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/notify"
	"github.com/ocpro/upgrade/internal/upgrade"
)

var _ upgrade.MailRequester = (*Publisher)(nil)

// InvitationMailRequested implements upgrade.MailRequester.
func (p *Publisher) InvitationMailRequested(ctx context.Context, r upgrade.MailRequest) error {
	return put(ctx, p.client, p.bus, &event.InvitationMailRequested{
		InvitationID: r.InvitationID, OperatorID: r.OperatorID, Generation: r.Generation, Mail: string(r.Mail),
	})
}

// InvitationExpired announces that an invitation's link expired.
func (p *Publisher) InvitationExpired(ctx context.Context, inv upgrade.Invitation) error {
	return put(ctx, p.client, p.bus, &event.InvitationExpired{
		InvitationID: inv.ID, OperatorID: inv.OperatorID, CustomerID: inv.CustomerID, UpgradeID: inv.UpgradeID,
	})
}

var _ notify.TestMailRequester = (*Publisher)(nil)

// TestMailRequested implements notify.TestMailRequester.
func (p *Publisher) TestMailRequested(ctx context.Context, r notify.TestMail) error {
	return put(ctx, p.client, p.bus, &event.TestMailRequested{OperatorID: r.OperatorID, To: r.To, RequestID: r.RequestID})
}
