package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/mail"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// Items of the invitation mails:
//
//	item              PK                           SK   notes
//	message pointer   MSG#<SES message id>         A    Ref = invitation id; ttl 30 days
//	email settings    OP#<op>#SETTINGS#EMAIL       A    absent until the operator saves
//
// The mail claim lives on the invitation item itself (MailClaim =
// "<generation>#<kind>", MailClaimUntil = lease end), so claiming,
// settling and every other change of the invitation serialise on one item.

const (
	typeMessage       = "MESSAGE"
	typeEmailSettings = "EMAIL_SETTINGS"
	// messageRefTTL is how long delivery events can be matched to their
	// invitation; SES reports within hours, rarely days.
	messageRefTTL = 30 * 24 * time.Hour
)

func messagePK(messageID string) string { return "MSG#" + messageID }
func settingsPK(op string) string       { return opKey(op, "SETTINGS", "EMAIL") }
func claimValue(generation int, kind upgrade.MailKind) string {
	return strconv.Itoa(generation) + "#" + string(kind)
}

// mailFields writes the mail state of inv and its place in the due index.
func (u *expr) mailFields(inv upgrade.Invitation, due time.Time) {
	u.put("MailWanted", string(inv.MailWanted), inv.MailWanted == "")
	u.put("MailRequestedAt", unixMilli(inv.MailRequestedAt), inv.MailRequestedAt.IsZero())
	u.put("LastMailKind", string(inv.LastMailKind), inv.LastMailKind == "")
	u.put("LastMailAt", unixMilli(inv.LastMailAt), inv.LastMailAt.IsZero())
	u.put("LastError", inv.LastError, inv.LastError == "")
	u.put("DeliveryStatus", inv.DeliveryStatus, inv.DeliveryStatus == "")
	u.put("EmailSent", inv.EmailSent, false)
	u.put("EmailSentAt", inv.EmailSentAt.UTC(), inv.EmailSentAt.IsZero())
	u.put("RemindersSent", inv.RemindersSent, false)
	pk, sk := DueKeys(inv.ID, due)
	u.put("DuePK", pk, due.IsZero())
	u.put("DueSK", sk, due.IsZero())
}

// UpdateInvitation implements upgrade.InvitationStore: one conditional
// UpdateItem on the invitation, or with events a TransactWriteItems of
// that update and their outbox items. A status change rewrites GSI2PK in
// the same write; a new generation drops any mail claim of the old one.
func (s *Store) UpdateInvitation(ctx context.Context, before, after upgrade.Invitation, due time.Time, events ...event.Message) error {
	u := newExpr()
	u.cond = append(u.cond, "attribute_exists(PK)")
	u.is("Status", string(before.Status), false)
	u.is("Generation", before.Generation, false)
	u.is("RemindersSent", before.RemindersSent, false)
	u.is("ResendCount", before.ResendCount, before.ResendCount == 0)
	u.is("MailRequestedAt", unixMilli(before.MailRequestedAt), before.MailRequestedAt.IsZero())
	u.is("LastMailAt", unixMilli(before.LastMailAt), before.LastMailAt.IsZero())

	u.put("Status", string(after.Status), false)
	u.put("GSI2PK", invitationStatusPK(after.OperatorID, after.Status), false)
	u.put("Generation", after.Generation, false)
	u.put("ExpiresAt", after.ExpiresAt.UTC(), false)
	u.put("ResendCount", after.ResendCount, after.ResendCount == 0)
	u.mailFields(after, due)
	if after.Generation != before.Generation {
		u.put("MailClaim", "", true)
		u.put("MailClaimUntil", 0, true)
		u.put("MessageID", "", true)
		u.put("DeliveryAt", 0, true)
	}
	return s.updateWith(ctx, u, invitationPK(before.ID), skMain, upgrade.ErrChanged, "update invitation "+before.ID, events)
}

// ClaimMail claims the mail kind of generation for one send attempt until
// "until". It fails with upgrade.ErrChanged when the invitation is no longer
// PENDING at that generation, the mail is no longer wanted (sent, settled,
// superseded) or another attempt holds an unexpired claim.
func (s *Store) ClaimMail(ctx context.Context, invitationID string, generation int, kind upgrade.MailKind, now, until time.Time) error {
	u := newExpr()
	oneOf(u, "Status", upgrade.InvitationMailable)
	u.is("Generation", generation, false)
	u.is("MailWanted", string(kind), false)
	u.cond = append(u.cond, "(attribute_not_exists(#MailClaimUntil) OR #MailClaimUntil < "+u.value(now.UnixMilli())+")")
	u.put("MailClaim", claimValue(generation, kind), false)
	u.put("MailClaimUntil", until.UnixMilli(), false)
	return s.update(ctx, u, invitationPK(invitationID), skMain, upgrade.ErrChanged, "claim mail of invitation "+invitationID)
}

// ReleaseMail gives up a claim without settling the mail, so that a retry
// may claim it at once (SES throttled or paused: nothing was sent).
func (s *Store) ReleaseMail(ctx context.Context, invitationID string, generation int, kind upgrade.MailKind) error {
	u := newExpr()
	u.is("MailClaim", claimValue(generation, kind), false)
	u.put("MailClaim", "", true)
	u.put("MailClaimUntil", 0, true)
	return s.update(ctx, u, invitationPK(invitationID), skMain, upgrade.ErrChanged, "release mail of invitation "+invitationID)
}

type messageRecord struct {
	PK, SK     string
	Type       string
	Ref        string
	Generation int
	Mail       string
	TTL        int64 `dynamodbav:"ttl"`
}

// SettleMail records the outcome of the claimed mail after.LastMailKind of
// after.Generation: the mail fields of after, the due time, and with a
// messageID the SES message id and a pointer item for delivery events, all
// in one transaction that holds only while the claim does. It returns
// upgrade.ErrChanged when the claim was lost (the link was regenerated or
// revoked meanwhile).
func (s *Store) SettleMail(ctx context.Context, after upgrade.Invitation, due time.Time, messageID string) error {
	u := newExpr()
	u.is("MailClaim", claimValue(after.Generation, after.LastMailKind), false)
	u.mailFields(after, due)
	u.put("MailClaim", "", true)
	u.put("MailClaimUntil", 0, true)
	u.put("DeliveryAt", 0, true)
	u.put("MessageID", messageID, messageID == "")
	if messageID == "" {
		return s.update(ctx, u, invitationPK(after.ID), skMain, upgrade.ErrChanged, "settle mail of invitation "+after.ID)
	}
	tx := txn{table: s.table}
	tx.update(u, invitationPK(after.ID), skMain)
	tx.put(messageRecord{PK: messagePK(messageID), SK: skMain, Type: typeMessage,
		Ref: after.ID, Generation: after.Generation, Mail: string(after.LastMailKind),
		TTL: after.LastMailAt.Add(messageRefTTL).Unix()}, nil)
	in, err := tx.input()
	if err != nil {
		return fmt.Errorf("settle mail: %w", err)
	}
	_, err = s.db.TransactWriteItems(ctx, in)
	if _, ok := conditionFailed(err, 0); ok {
		return upgrade.ErrChanged
	}
	if err != nil {
		return fmt.Errorf("settle mail of invitation %s: %w", after.ID, err)
	}
	return nil
}

// MessageInvitation returns the invitation a sent SES message belongs to;
// found is false for a message this service did not record (a test mail,
// or one older than the pointer's TTL).
func (s *Store) MessageInvitation(ctx context.Context, messageID string) (invitationID string, found bool, err error) {
	var r messageRecord
	found, err = s.get(ctx, messagePK(messageID), &r)
	if err != nil || !found {
		return "", false, err
	}
	return r.Ref, true, nil
}

// RecordDelivery sets the delivery status that SES reported at "at" for
// message messageID. It changes nothing and returns upgrade.ErrChanged when
// the invitation's last mail is another message or a later report was
// already recorded, so that an old or out-of-order event never overwrites
// a newer status.
func (s *Store) RecordDelivery(ctx context.Context, invitationID, messageID, status, reason string, at time.Time) error {
	u := newExpr()
	u.is("MessageID", messageID, false)
	u.cond = append(u.cond, "(attribute_not_exists(#DeliveryAt) OR #DeliveryAt <= "+u.value(at.UnixMilli())+")")
	u.put("DeliveryStatus", status, false)
	u.put("DeliveryAt", at.UnixMilli(), false)
	u.put("LastError", reason, reason == "")
	return s.update(ctx, u, invitationPK(invitationID), skMain, upgrade.ErrChanged, "record delivery of invitation "+invitationID)
}

type settingsRecord struct {
	PK, SK     string
	Type       string
	OperatorID string
	Settings   mail.Settings
	UpdatedAt  time.Time
}

// EmailSettings returns the operator's saved mail settings; found is false
// until the operator saves some.
func (s *Store) EmailSettings(ctx context.Context, operatorID string) (mail.Settings, bool, error) {
	var r settingsRecord
	found, err := s.get(ctx, settingsPK(operatorID), &r)
	if err != nil || !found {
		return mail.Settings{}, false, err
	}
	return r.Settings, true, nil
}

// PutEmailSettings saves the operator's mail settings, replacing earlier
// ones.
func (s *Store) PutEmailSettings(ctx context.Context, operatorID string, set mail.Settings, now time.Time) error {
	item, err := attributevalue.MarshalMap(settingsRecord{PK: settingsPK(operatorID), SK: skMain, Type: typeEmailSettings,
		OperatorID: operatorID, Settings: set, UpdatedAt: now.UTC()})
	if err != nil {
		return fmt.Errorf("encode email settings: %w", err)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("put email settings: %w", err)
	}
	return nil
}
