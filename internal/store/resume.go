package store

// Completing an upgrade is one TransactWriteItems: the upgrade (waiting ->
// COMPLETED), a condition that the invitation is AUTHENTICATION_COMPLETE,
// the service (PENDING_AUTHENTICATION -> ACTIVE with licence, users and
// permissions), the customer (licence rank lower, users fit; licence set,
// users added), the SIP connection and the M365 connection. Cancelling is
// one too: upgrade and service CANCELLED, the invitation REVOKED with its
// GSI2PK rewritten and its DueWork keys dropped, the short-name claim
// deleted, the reserved users released. Both condition the upgrade on
// being waiting, so of a racing resume and cancel exactly one wins.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/internal/upgrade"
)

var _ upgrade.FinishStore = (*Store)(nil)

// conditionFailed returns the old item of the transaction's i-th action
// when its condition failed.
func conditionFailed(err error, i int) (map[string]types.AttributeValue, bool) {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) || i >= len(tc.CancellationReasons) {
		return nil, false
	}
	r := tc.CancellationReasons[i]
	return r.Item, aws.ToString(r.Code) == "ConditionalCheckFailed"
}

func conflicted(err error) bool {
	var tc *types.TransactionCanceledException
	return errors.As(err, &tc) && slices.ContainsFunc(tc.CancellationReasons, func(r types.CancellationReason) bool {
		return aws.ToString(r.Code) == "TransactionConflict"
	})
}

// transact writes items, retrying when DynamoDB cancelled the transaction
// only because another one touched the same items.
func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem) error {
	var err error
	for attempt := 0; attempt < transactAttempts; attempt++ {
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil || !conflicted(err) {
			return err
		}
	}
	return err
}

// CompleteUpgrade implements upgrade.FinishStore.
func (s *Store) CompleteUpgrade(ctx context.Context, c upgrade.Completion) error {
	op, svc := c.OperatorID, c.Service
	delta := svc.LicensedUsers - c.PreviousUsers
	sip, err := attributevalue.MarshalMap(sipRecord{PK: servicePK(op, svc.ID), SK: sipPrefix + c.SIP.ID, Type: typeSIP,
		ID: c.SIP.ID, ServiceID: svc.ID, CustomerID: c.SIP.CustomerID, Name: c.SIP.Name, FQDN: c.SIP.FQDN, Port: c.SIP.Port,
		Transport: c.SIP.Transport, Status: c.SIP.Status, CreatedAt: c.SIP.CreatedAt.UTC()})
	if err != nil {
		return fmt.Errorf("encode SIP connection: %w", err)
	}
	m365, err := attributevalue.MarshalMap(toM365Record(c.M365).withValidation(c.Validation, c.At.Add(upgrade.KeepAliveInterval)))
	if err != nil {
		return fmt.Errorf("encode M365 connection: %w", err)
	}
	perms, err := attributevalue.Marshal(svc.License.Permissions())
	if err != nil {
		return fmt.Errorf("encode permissions: %w", err)
	}
	at := attrS(c.At.UTC().Format(time.RFC3339Nano))
	all := types.ReturnValuesOnConditionCheckFailureAllOld
	items := []types.TransactWriteItem{
		{Update: &types.Update{TableName: aws.String(s.table), Key: key(upgradePK(op, c.UpgradeID), skMain),
			ConditionExpression:      aws.String("#s IN (:pending, :ready)"),
			UpdateExpression:         aws.String("SET #s = :done, #svc.License = :lic, #svc.LicensedUsers = :users, #svc.#s = :active, CompletedAt = :at"),
			ExpressionAttributeNames: map[string]string{"#s": "Status", "#svc": "Service"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pending": attrS(string(upgrade.UpgradePendingAuthentication)),
				":ready": attrS(string(upgrade.UpgradeReadyToResume)), ":done": attrS(string(upgrade.UpgradeCompleted)),
				":lic": attrS(string(svc.License)), ":users": attrN(svc.LicensedUsers), ":active": attrS(string(upgrade.ServiceActive)), ":at": at}}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String(s.table), Key: key(invitationPK(c.M365.InvitationID), skMain),
			ConditionExpression:       aws.String("#s = :complete"),
			ExpressionAttributeNames:  map[string]string{"#s": "Status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":complete": attrS(string(upgrade.InvitationAuthenticationComplete))}}},
		{Update: &types.Update{TableName: aws.String(s.table), Key: key(servicePK(op, svc.ID), skMain),
			ConditionExpression:      aws.String("#s = :pending"),
			UpdateExpression:         aws.String("SET #s = :active, License = :lic, LicensedUsers = :users, #p = :perms, UpgradeID = :up, ActivatedAt = :at"),
			ExpressionAttributeNames: map[string]string{"#s": "Status", "#p": "Permissions"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pending": attrS(string(upgrade.ServicePendingAuthentication)),
				":active": attrS(string(upgrade.ServiceActive)), ":lic": attrS(string(svc.License)), ":users": attrN(svc.LicensedUsers),
				":perms": perms, ":up": attrS(c.UpgradeID), ":at": at}}},
		{Update: &types.Update{TableName: aws.String(s.table), Key: key(customerPK(op, svc.CustomerID), skMain),
			// ReservedUsers <= :room because condition expressions cannot add.
			ConditionExpression: aws.String("attribute_exists(PK) AND LicenseRank < :rank AND ReservedUsers <= :room"),
			UpdateExpression:    aws.String("SET License = :lic, LicenseRank = :rank ADD LicensedUsers :users, ReservedUsers :delta"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":rank": attrN(svc.License.Rank()), ":lic": attrS(string(svc.License)),
				":room": attrN(upgrade.MaxUsersPerCustomer - delta), ":users": attrN(svc.LicensedUsers), ":delta": attrN(delta)},
			ReturnValuesOnConditionCheckFailure: all}},
		{Put: &types.Put{TableName: aws.String(s.table), Item: sip, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Put: &types.Put{TableName: aws.String(s.table), Item: m365}},
	}
	err = s.transact(ctx, items)
	if err == nil {
		return nil
	}
	for _, i := range []int{0, 1, 2, 4} {
		if _, ok := conditionFailed(err, i); ok {
			return upgrade.ErrStateChanged
		}
	}
	if old, ok := conditionFailed(err, 3); ok {
		var cr customerRecord
		if err := attributevalue.UnmarshalMap(old, &cr); err != nil || old == nil {
			return upgrade.ErrNotFound
		}
		if cr.LicenseRank >= svc.License.Rank() {
			return &upgrade.LicenseError{Current: upgrade.License(cr.License)}
		}
		return &upgrade.UserLimitError{Reserved: cr.ReservedUsers}
	}
	return fmt.Errorf("complete upgrade: %w", err)
}

// revocable are the invitation states a cancel revokes; the others already
// ended.
var revocable = []upgrade.InvitationStatus{upgrade.InvitationPending, upgrade.InvitationInProgress,
	upgrade.InvitationTokenAcquired, upgrade.InvitationAuthenticationComplete}

// CancelUpgrade implements upgrade.FinishStore. The invitation may move on
// (the administrator is still clicking) between the read and the write;
// then the whole cancel is read and tried again.
func (s *Store) CancelUpgrade(ctx context.Context, operatorID, upgradeID string, at time.Time) error {
	for attempt := 0; attempt < transactAttempts; attempt++ {
		u, err := s.GetUpgrade(ctx, operatorID, upgradeID)
		if err != nil {
			return err
		}
		if u.Status != upgrade.UpgradePendingAuthentication && u.Status != upgrade.UpgradeReadyToResume {
			return upgrade.ErrStateChanged
		}
		inv, err := s.GetInvitation(ctx, u.Invitation.ID)
		if err != nil {
			return err
		}
		err = s.transact(ctx, s.cancelItems(u, inv, at))
		if err == nil {
			return nil
		}
		if _, ok := conditionFailed(err, 0); ok {
			return upgrade.ErrStateChanged
		}
		if _, ok := conditionFailed(err, 2); !ok {
			return fmt.Errorf("cancel upgrade: %w", err)
		}
	}
	return fmt.Errorf("cancel upgrade %s: the invitation kept changing", upgradeID)
}

func (s *Store) cancelItems(u upgrade.Upgrade, inv upgrade.Invitation, at time.Time) []types.TransactWriteItem {
	op, svc := u.OperatorID, u.Service
	ts := attrS(at.UTC().Format(time.RFC3339Nano))
	items := []types.TransactWriteItem{
		{Update: &types.Update{TableName: aws.String(s.table), Key: key(upgradePK(op, u.ID), skMain),
			ConditionExpression:      aws.String("#s IN (:pending, :ready)"),
			UpdateExpression:         aws.String("SET #s = :cancelled, #svc.#s = :svcCancelled, CancelledAt = :at"),
			ExpressionAttributeNames: map[string]string{"#s": "Status", "#svc": "Service"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pending": attrS(string(upgrade.UpgradePendingAuthentication)),
				":ready": attrS(string(upgrade.UpgradeReadyToResume)), ":cancelled": attrS(string(upgrade.UpgradeCancelled)),
				":svcCancelled": attrS(string(upgrade.ServiceCancelled)), ":at": ts}}},
		{Update: &types.Update{TableName: aws.String(s.table), Key: key(servicePK(op, svc.ID), skMain),
			ConditionExpression:      aws.String("#s = :pending"),
			UpdateExpression:         aws.String("SET #s = :cancelled, CancelledAt = :at"),
			ExpressionAttributeNames: map[string]string{"#s": "Status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pending": attrS(string(upgrade.ServicePendingAuthentication)),
				":cancelled": attrS(string(upgrade.ServiceCancelled)), ":at": ts}}},
	}
	if slices.Contains(revocable, inv.Status) {
		items = append(items, types.TransactWriteItem{Update: &types.Update{TableName: aws.String(s.table), Key: key(invitationPK(inv.ID), skMain),
			ConditionExpression:      aws.String("#s = :was"),
			UpdateExpression:         aws.String("SET #s = :revoked, GSI2PK = :gsi2, RevokedAt = :at REMOVE DuePK, DueSK"),
			ExpressionAttributeNames: map[string]string{"#s": "Status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":was": attrS(string(inv.Status)),
				":revoked": attrS(string(upgrade.InvitationRevoked)), ":gsi2": attrS(invitationStatusPK(op, upgrade.InvitationRevoked)), ":at": ts}}})
	} else {
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(s.table),
			Key: key(invitationPK(inv.ID), skMain), ConditionExpression: aws.String("#s = :was"),
			ExpressionAttributeNames:  map[string]string{"#s": "Status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":was": attrS(string(inv.Status))}}})
	}
	return append(items,
		types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.table), Key: key(shortNamePK(op, svc.ShortName), skMain),
			ConditionExpression: aws.String("attribute_not_exists(PK) OR #ref = :svc"), ExpressionAttributeNames: map[string]string{"#ref": "Ref"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":svc": attrS(svc.ID)}}},
		types.TransactWriteItem{Update: &types.Update{TableName: aws.String(s.table), Key: key(customerPK(op, u.CustomerID), skMain),
			ConditionExpression: aws.String("attribute_exists(PK)"), UpdateExpression: aws.String("ADD ReservedUsers :minus"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":minus": attrN(-svc.LicensedUsers)}}},
	)
}

// MarkReadyToResume implements upgrade.M365Store.
func (s *Store) MarkReadyToResume(ctx context.Context, operatorID, upgradeID string) error {
	err := s.transact(ctx, []types.TransactWriteItem{{Update: &types.Update{TableName: aws.String(s.table),
		Key: key(upgradePK(operatorID, upgradeID), skMain), ConditionExpression: aws.String("#s = :pending"),
		UpdateExpression: aws.String("SET #s = :ready"), ExpressionAttributeNames: map[string]string{"#s": "Status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pending": attrS(string(upgrade.UpgradePendingAuthentication)),
			":ready": attrS(string(upgrade.UpgradeReadyToResume))}}}})
	if _, ok := conditionFailed(err, 0); ok {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mark upgrade %s ready: %w", upgradeID, err)
	}
	return nil
}
func attrS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func attrN(v int) types.AttributeValue    { return &types.AttributeValueMemberN{Value: strconv.Itoa(v)} }
