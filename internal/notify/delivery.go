package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ocpro/upgrade/internal/metric"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// Delivery is what SES reported about one sent message.
type Delivery struct {
	MessageID string
	// Status is one of the upgrade.Delivery* statuses.
	Status string
	// Reason is shown to the operator (a bounce diagnostic, say); may be
	// empty.
	Reason string
	// At is when SES observed it; it orders reports of one message.
	At time.Time
}

// RecordDelivery sets the delivery status of the invitation whose last mail
// is d.MessageID. Reports about an older mail, reports older than the
// recorded one and messages this service did not record (test mails) change
// nothing and return nil: retrying them could not help.
func (m *Mailer) RecordDelivery(ctx context.Context, d Delivery) error {
	id, found, err := m.store.MessageInvitation(ctx, d.MessageID)
	if err != nil {
		return fmt.Errorf("record delivery: %w", err)
	}
	if !found {
		m.log.InfoContext(ctx, "delivery report for a message without invitation", "messageId", d.MessageID, "status", d.Status)
		return nil
	}
	if d.Status == upgrade.DeliveryBounced || d.Status == upgrade.DeliverySoftBounced {
		metric.Count(ctx, m.log, metric.MailsBounced, 1)
	}
	err = m.store.RecordDelivery(ctx, id, d.MessageID, d.Status, d.Reason, d.At)
	if errors.Is(err, upgrade.ErrChanged) {
		m.log.InfoContext(ctx, "stale delivery report ignored", "invitationId", id, "messageId", d.MessageID, "status", d.Status)
		return nil
	}
	if err != nil {
		return fmt.Errorf("record delivery: %w", err)
	}
	m.log.InfoContext(ctx, "delivery recorded", "invitationId", id, "messageId", d.MessageID, "status", d.Status)
	return nil
}
