package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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

// update builds one UpdateItem expression with placeholders for every
// name and value.
type update struct {
	set, remove, cond []string
	names             map[string]string
	values            map[string]types.AttributeValue
	err               error
}

func newUpdate() *update {
	return &update{names: map[string]string{}, values: map[string]types.AttributeValue{}}
}

func (u *update) name(attr string) string {
	ph := "#" + attr
	u.names[ph] = attr
	return ph
}

func (u *update) value(v any) string {
	ph := ":v" + strconv.Itoa(len(u.values))
	av, err := attributevalue.Marshal(v)
	if err != nil && u.err == nil {
		u.err = fmt.Errorf("encode %T: %w", v, err)
	}
	u.values[ph] = av
	return ph
}

// put sets attr to v, or removes it when v is its zero value, so that the
// item looks as if written from a record with omitempty.
func (u *update) put(attr string, v any, zero bool) {
	if zero {
		u.remove = append(u.remove, u.name(attr))
		return
	}
	u.set = append(u.set, u.name(attr)+" = "+u.value(v))
}

// is adds the condition that attr equals v, or is absent when v is zero.
func (u *update) is(attr string, v any, zero bool) {
	if zero {
		u.cond = append(u.cond, "attribute_not_exists("+u.name(attr)+")")
		return
	}
	u.cond = append(u.cond, u.name(attr)+" = "+u.value(v))
}

func (u *update) expression() (upd, cond *string) {
	var parts []string
	if len(u.set) > 0 {
		parts = append(parts, "SET "+strings.Join(u.set, ", "))
	}
	if len(u.remove) > 0 {
		parts = append(parts, "REMOVE "+strings.Join(u.remove, ", "))
	}
	upd = aws.String(strings.Join(parts, " "))
	if len(u.cond) > 0 {
		cond = aws.String(strings.Join(u.cond, " AND "))
	}
	return upd, cond
}

func (u *update) input(table, pk string) (*dynamodb.UpdateItemInput, error) {
	if u.err != nil {
		return nil, u.err
	}
	upd, cond := u.expression()
	in := &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: key(pk, skMain),
		UpdateExpression: upd, ConditionExpression: cond, ExpressionAttributeNames: u.names}
	if len(u.values) > 0 {
		in.ExpressionAttributeValues = u.values
	}
	return in, nil
}

// mailFields writes the mail state of inv and its place in the due index.
func (u *update) mailFields(inv upgrade.Invitation, due time.Time) {
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
// UpdateItem on the invitation. A status change rewrites GSI2PK in the
// same write; a new generation drops any mail claim of the old one.
func (s *Store) UpdateInvitation(ctx context.Context, before, after upgrade.Invitation, due time.Time) error {
	u := newUpdate()
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
	in, err := u.input(s.table, invitationPK(before.ID))
	if err != nil {
		return fmt.Errorf("update invitation %s: %w", before.ID, err)
	}
	return s.conditional(ctx, in, "update invitation "+before.ID)
}

// conditional runs an UpdateItem and turns a failed condition into
// upgrade.ErrChanged.
func (s *Store) conditional(ctx context.Context, in *dynamodb.UpdateItemInput, what string) error {
	_, err := s.db.UpdateItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return upgrade.ErrChanged
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// ClaimMail claims the mail kind of generation for one send attempt until
// "until". It fails with upgrade.ErrChanged when the invitation is no longer
// PENDING at that generation, the mail is no longer wanted (sent, settled,
// superseded) or another attempt holds an unexpired claim.
func (s *Store) ClaimMail(ctx context.Context, invitationID string, generation int, kind upgrade.MailKind, now, until time.Time) error {
	u := newUpdate()
	u.is("Status", string(upgrade.InvitationPending), false)
	u.is("Generation", generation, false)
	u.is("MailWanted", string(kind), false)
	u.cond = append(u.cond, "(attribute_not_exists(#MailClaimUntil) OR #MailClaimUntil < "+u.value(now.UnixMilli())+")")
	u.put("MailClaim", claimValue(generation, kind), false)
	u.put("MailClaimUntil", until.UnixMilli(), false)
	in, err := u.input(s.table, invitationPK(invitationID))
	if err != nil {
		return fmt.Errorf("claim mail: %w", err)
	}
	return s.conditional(ctx, in, "claim mail of invitation "+invitationID)
}

// ReleaseMail gives up a claim without settling the mail, so that a retry
// may claim it at once (SES throttled or paused: nothing was sent).
func (s *Store) ReleaseMail(ctx context.Context, invitationID string, generation int, kind upgrade.MailKind) error {
	u := newUpdate()
	u.is("MailClaim", claimValue(generation, kind), false)
	u.put("MailClaim", "", true)
	u.put("MailClaimUntil", 0, true)
	in, err := u.input(s.table, invitationPK(invitationID))
	if err != nil {
		return fmt.Errorf("release mail: %w", err)
	}
	return s.conditional(ctx, in, "release mail of invitation "+invitationID)
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
	u := newUpdate()
	u.is("MailClaim", claimValue(after.Generation, after.LastMailKind), false)
	u.mailFields(after, due)
	u.put("MailClaim", "", true)
	u.put("MailClaimUntil", 0, true)
	u.put("DeliveryAt", 0, true)
	u.put("MessageID", messageID, messageID == "")
	in, err := u.input(s.table, invitationPK(after.ID))
	if err != nil {
		return fmt.Errorf("settle mail: %w", err)
	}
	if messageID == "" {
		return s.conditional(ctx, in, "settle mail of invitation "+after.ID)
	}
	ref, err := attributevalue.MarshalMap(messageRecord{PK: messagePK(messageID), SK: skMain, Type: typeMessage,
		Ref: after.ID, Generation: after.Generation, Mail: string(after.LastMailKind),
		TTL: after.LastMailAt.Add(messageRefTTL).Unix()})
	if err != nil {
		return fmt.Errorf("encode message pointer: %w", err)
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: in.TableName, Key: in.Key, UpdateExpression: in.UpdateExpression,
			ConditionExpression: in.ConditionExpression, ExpressionAttributeNames: in.ExpressionAttributeNames,
			ExpressionAttributeValues: in.ExpressionAttributeValues}},
		{Put: &types.Put{TableName: aws.String(s.table), Item: ref}},
	}})
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) && len(tc.CancellationReasons) > 0 && aws.ToString(tc.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
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
	u := newUpdate()
	u.is("MessageID", messageID, false)
	u.cond = append(u.cond, "(attribute_not_exists(#DeliveryAt) OR #DeliveryAt <= "+u.value(at.UnixMilli())+")")
	u.put("DeliveryStatus", status, false)
	u.put("DeliveryAt", at.UnixMilli(), false)
	u.put("LastError", reason, reason == "")
	in, err := u.input(s.table, invitationPK(invitationID))
	if err != nil {
		return fmt.Errorf("record delivery: %w", err)
	}
	return s.conditional(ctx, in, "record delivery of invitation "+invitationID)
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
