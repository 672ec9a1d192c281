package store

// Completing an upgrade is one TransactWriteItems: the upgrade (waiting ->
// COMPLETED), a condition that the invitation is AUTHENTICATION_COMPLETE,
// the service (PENDING_AUTHENTICATION -> ACTIVE with licence, users and
// permissions), the customer (licence rank lower, users fit; licence set,
// users added), the SIP connection, the M365 connection and Service
// Upgraded in the outbox. Cancelling is
// one too: upgrade and service CANCELLED, the invitation REVOKED with its
// GSI2PK rewritten and its DueWork keys dropped, the short-name claim
// deleted, the reserved users released. Both condition the upgrade on
// being waiting, so of a racing resume and cancel exactly one wins.

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/internal/upgrade"
)

var _ upgrade.FinishStore = (*Store)(nil)

// CompleteUpgrade implements upgrade.FinishStore.
func (s *Store) CompleteUpgrade(ctx context.Context, c upgrade.Completion) error {
	op, svc := c.OperatorID, c.Service
	delta := svc.LicensedUsers - c.PreviousUsers
	at := c.At.UTC()
	tx := txn{table: s.table}

	up := newExpr()
	oneOf(up, "Status", upgrade.UpgradeMoves.From(upgrade.UpgradeCompleted))
	up.put("Status", string(upgrade.UpgradeCompleted), false)
	up.put("Service.License", string(svc.License), false)
	up.put("Service.LicensedUsers", svc.LicensedUsers, false)
	up.put("Service.Status", string(upgrade.ServiceActive), false)
	up.put("CompletedAt", at, false)
	tx.update(up, upgradePK(op, c.UpgradeID), skMain)

	inv := newExpr()
	oneOf(inv, "Status", upgrade.InvitationResumable)
	tx.conditionCheck(inv, invitationPK(c.M365.InvitationID), skMain)

	service := newExpr()
	oneOf(service, "Status", upgrade.ServiceMoves.From(upgrade.ServiceActive))
	service.put("Status", string(upgrade.ServiceActive), false)
	service.put("License", string(svc.License), false)
	service.put("LicensedUsers", svc.LicensedUsers, false)
	service.put("Permissions", svc.License.Permissions(), false)
	service.put("UpgradeID", c.UpgradeID, false)
	service.put("ActivatedAt", at, false)
	tx.update(service, servicePK(op, svc.ID), skMain)

	cust := newExpr()
	cust.exists()
	cust.compare("LicenseRank", "<", svc.License.Rank())
	// ReservedUsers <= room because condition expressions cannot add.
	cust.compare("ReservedUsers", "<=", upgrade.MaxUsersPerCustomer-delta)
	cust.put("License", string(svc.License), false)
	cust.put("LicenseRank", svc.License.Rank(), false)
	cust.increase("LicensedUsers", svc.LicensedUsers)
	cust.increase("ReservedUsers", delta)
	tx.update(cust, customerPK(op, svc.CustomerID), skMain).ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld

	fresh := newExpr()
	fresh.absent()
	tx.put(sipRecord{PK: servicePK(op, svc.ID), SK: sipPrefix + c.SIP.ID, Type: typeSIP,
		ID: c.SIP.ID, ServiceID: svc.ID, CustomerID: c.SIP.CustomerID, Name: c.SIP.Name, FQDN: c.SIP.FQDN, Port: c.SIP.Port,
		Transport: c.SIP.Transport, Status: c.SIP.Status, CreatedAt: c.SIP.CreatedAt.UTC()}, fresh)
	tx.put(toM365Record(c.M365).withValidation(c.Validation, c.At.Add(upgrade.KeepAliveInterval)), nil)
	tx.outbox(c.Events)

	items, err := tx.input()
	if err != nil {
		return fmt.Errorf("complete upgrade: %w", err)
	}
	err = s.transact(ctx, items.TransactItems)
	if err == nil {
		return nil
	}
	for _, i := range []int{0, 1, 2, 4} {
		if _, ok := conditionFailed(err, i); ok {
			return upgrade.ErrStateChanged
		}
	}
	if old, ok := conditionFailed(err, 3); ok {
		return customerRefusal(old, svc.License, delta)
	}
	return fmt.Errorf("complete upgrade: %w", err)
}

// CancelUpgrade implements upgrade.FinishStore. The invitation may move on
// (the administrator is still clicking) between the read and the write;
// then the whole cancel is read and tried again.
func (s *Store) CancelUpgrade(ctx context.Context, operatorID, upgradeID string, at time.Time) error {
	for attempt := 0; attempt < transactAttempts; attempt++ {
		u, err := s.GetUpgrade(ctx, operatorID, upgradeID)
		if err != nil {
			return err
		}
		if !upgrade.UpgradeMoves.Allows(u.Status, upgrade.UpgradeCancelled) {
			return upgrade.ErrStateChanged
		}
		inv, err := s.GetInvitation(ctx, u.Invitation.ID)
		if err != nil {
			return err
		}
		items, err := s.cancelItems(u, inv, at)
		if err != nil {
			return fmt.Errorf("cancel upgrade: %w", err)
		}
		err = s.transact(ctx, items)
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

func (s *Store) cancelItems(u upgrade.Upgrade, inv upgrade.Invitation, at time.Time) ([]types.TransactWriteItem, error) {
	op, svc := u.OperatorID, u.Service
	at = at.UTC()
	tx := txn{table: s.table}

	up := newExpr()
	oneOf(up, "Status", upgrade.UpgradeMoves.From(upgrade.UpgradeCancelled))
	up.put("Status", string(upgrade.UpgradeCancelled), false)
	up.put("Service.Status", string(upgrade.ServiceCancelled), false)
	up.put("CancelledAt", at, false)
	tx.update(up, upgradePK(op, u.ID), skMain)

	service := newExpr()
	oneOf(service, "Status", upgrade.ServiceMoves.From(upgrade.ServiceCancelled))
	service.put("Status", string(upgrade.ServiceCancelled), false)
	service.put("CancelledAt", at, false)
	tx.update(service, servicePK(op, svc.ID), skMain)

	invitation := newExpr()
	invitation.is("Status", string(inv.Status), false)
	if upgrade.InvitationMoves.Allows(inv.Status, upgrade.InvitationRevoked) {
		invitation.put("Status", string(upgrade.InvitationRevoked), false)
		invitation.put("GSI2PK", invitationStatusPK(op, upgrade.InvitationRevoked), false)
		invitation.put("RevokedAt", at, false)
		invitation.put("DuePK", "", true)
		invitation.put("DueSK", "", true)
		tx.update(invitation, invitationPK(inv.ID), skMain)
	} else {
		tx.conditionCheck(invitation, invitationPK(inv.ID), skMain)
	}

	claim := newExpr()
	claim.cond = append(claim.cond, "(attribute_not_exists(PK) OR "+claim.name("Ref")+" = "+claim.value(svc.ID)+")")
	tx.delete(claim, shortNamePK(op, svc.ShortName), skMain)

	cust := newExpr()
	cust.exists()
	cust.increase("ReservedUsers", -svc.LicensedUsers)
	tx.update(cust, customerPK(op, u.CustomerID), skMain)

	input, err := tx.input()
	if err != nil {
		return nil, err
	}
	return input.TransactItems, nil
}

// MarkReadyToResume implements upgrade.M365Store.
func (s *Store) MarkReadyToResume(ctx context.Context, operatorID, upgradeID string) error {
	e := newExpr()
	oneOf(e, "Status", upgrade.UpgradeMoves.From(upgrade.UpgradeReadyToResume))
	e.put("Status", string(upgrade.UpgradeReadyToResume), false)
	tx := txn{table: s.table}
	tx.update(e, upgradePK(operatorID, upgradeID), skMain)
	input, err := tx.input()
	if err != nil {
		return fmt.Errorf("mark upgrade %s ready: %w", upgradeID, err)
	}
	err = s.transact(ctx, input.TransactItems)
	if _, ok := conditionFailed(err, 0); ok {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mark upgrade %s ready: %w", upgradeID, err)
	}
	return nil
}

// customerRefusal says why the customer item old (as it was when its
// condition failed) refused n more users of the target licence:
// upgrade.ErrNotFound when there was no customer, else the domain's
// refusal. The condition compares the stored rank, which follows the
// licence, so one of the refusals holds; should neither, the users were
// what did not fit.
func customerRefusal(old map[string]types.AttributeValue, target upgrade.License, n int) error {
	if old == nil {
		return upgrade.ErrNotFound
	}
	var c customerRecord
	if err := attributevalue.UnmarshalMap(old, &c); err != nil {
		return fmt.Errorf("decode customer: %w", err)
	}
	if err := upgrade.CustomerRefusal(upgrade.License(c.License), c.ReservedUsers, target, n); err != nil {
		return err
	}
	return &upgrade.UserLimitError{Reserved: c.ReservedUsers}
}
