package store

// Items of finishing an upgrade (issue 5):
//
//	item              PK                           SK                 GSI2PK / GSI2SK
//	SIP connection    OP#<op>#SERVICE#<service>    SIP#<id>           -
//	M365 connection   OP#<op>#CUSTOMER#<customer>  M365               KEEPALIVE#<shard 00-15> / <next keep-alive RFC 3339>#<op>#<customer>
//
// The keep-alive uses GSI2 under its own partition prefix KEEPALIVE#, so
// that finding due connections is one Query per shard with
// GSI2SK <= "<now>#~" and never a Scan; the DueWork index stays the
// reminder sweep's.
//
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
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// The store implements the validation's Credentials too (asserted where
// they are wired, in functions/tokenvalidation): importing internal/validate
// here would link MSAL into every function that uses the store.
var (
	_ upgrade.FinishStore = (*Store)(nil)
	_ upgrade.M365Store   = (*Store)(nil)
)

const (
	skM365         = "M365"
	sipPrefix      = "SIP#"
	typeSIP        = "SIP_CONNECTION"
	typeM365       = "M365"
	keepAlivePK    = "KEEPALIVE#"
	keepAliveShard = 16
	skCredentialOf = "CREDENTIAL" // the consent wizard's kept credential (consent.go)
)

func keepAliveKeys(op, customerID string, next time.Time) (pk, sk string) {
	h := fnv.New32a()
	h.Write([]byte(op + "#" + customerID))
	return fmt.Sprintf("%s%02d", keepAlivePK, h.Sum32()%keepAliveShard), next.UTC().Format(time.RFC3339) + "#" + op + "#" + customerID
}

type sipRecord struct {
	PK, SK     string
	Type       string
	ID         string
	ServiceID  string
	CustomerID string
	Name       string
	FQDN       string
	Port       int
	Transport  string
	Status     string
	CreatedAt  time.Time
}

type failureRecord struct {
	Code       string
	Reason     string
	AADSTS     int      `dynamodbav:",omitempty"`
	Transient  bool     `dynamodbav:",omitempty"`
	RetryAfter int64    `dynamodbav:",omitempty"` // seconds
	Missing    []string `dynamodbav:",omitempty"`
}

type checkRecord struct {
	Passed       bool
	Account      string         `dynamodbav:",omitempty"`
	TenantDomain string         `dynamodbav:",omitempty"`
	Permissions  []string       `dynamodbav:",omitempty"`
	Failure      *failureRecord `dynamodbav:",omitempty"`
}

type validationRecord struct {
	At          time.Time
	TenantID    string
	Application checkRecord
	Delegated   *checkRecord `dynamodbav:",omitempty"`
}

type m365Record struct {
	PK, SK              string
	GSI2PK              string `dynamodbav:",omitempty"`
	GSI2SK              string `dynamodbav:",omitempty"`
	Type                string
	OperatorID          string
	CustomerID          string
	TenantID            string
	TenantDomain        string   `dynamodbav:",omitempty"`
	GrantedPermissions  []string `dynamodbav:",omitempty"`
	ConsentedAt         time.Time
	ConsentedBy         string `dynamodbav:",omitempty"`
	ConsentedByObjectID string `dynamodbav:",omitempty"`
	InvitationID        string
	Account             string            `dynamodbav:",omitempty"`
	Access              string            `dynamodbav:",omitempty"`
	LastValidation      *validationRecord `dynamodbav:",omitempty"`
	LastEventID         string            `dynamodbav:",omitempty"`
}

func toCheckRecord(c upgrade.CheckResult) checkRecord {
	r := checkRecord{Passed: c.Passed, Account: c.Account, TenantDomain: c.TenantDomain, Permissions: c.Permissions}
	if f := c.Failure; f != nil {
		r.Failure = &failureRecord{Code: f.Code, Reason: f.Reason, AADSTS: f.AADSTS, Transient: f.Transient,
			RetryAfter: int64(f.RetryAfter / time.Second), Missing: f.Missing}
	}
	return r
}

func (r checkRecord) domain() upgrade.CheckResult {
	c := upgrade.CheckResult{Passed: r.Passed, Account: r.Account, TenantDomain: r.TenantDomain, Permissions: r.Permissions}
	if f := r.Failure; f != nil {
		c.Failure = &upgrade.CheckFailure{Code: f.Code, Reason: f.Reason, AADSTS: f.AADSTS, Transient: f.Transient,
			RetryAfter: time.Duration(f.RetryAfter) * time.Second, Missing: f.Missing}
	}
	return c
}

func toValidationRecord(v upgrade.Validation) *validationRecord {
	r := &validationRecord{At: v.At.UTC(), TenantID: v.TenantID, Application: toCheckRecord(v.Application)}
	if v.Delegated != nil {
		d := toCheckRecord(*v.Delegated)
		r.Delegated = &d
	}
	return r
}

func (r *validationRecord) domain() *upgrade.Validation {
	if r == nil {
		return nil
	}
	v := &upgrade.Validation{At: r.At, TenantID: r.TenantID, Application: r.Application.domain()}
	if r.Delegated != nil {
		d := r.Delegated.domain()
		v.Delegated = &d
	}
	return v
}

func toM365Record(c upgrade.M365Connection) m365Record {
	return m365Record{PK: customerPK(c.OperatorID, c.CustomerID), SK: skM365, Type: typeM365, OperatorID: c.OperatorID,
		CustomerID: c.CustomerID, TenantID: c.TenantID, TenantDomain: c.TenantDomain, GrantedPermissions: c.GrantedPermissions,
		ConsentedAt: c.ConsentedAt.UTC(), ConsentedBy: c.ConsentedBy, ConsentedByObjectID: c.ConsentedByObjectID,
		InvitationID: c.InvitationID, Account: c.Account, Access: string(c.Access)}
}

func (r m365Record) domain() upgrade.M365Connection {
	return upgrade.M365Connection{OperatorID: r.OperatorID, CustomerID: r.CustomerID, TenantID: r.TenantID,
		TenantDomain: r.TenantDomain, GrantedPermissions: r.GrantedPermissions, ConsentedAt: r.ConsentedAt,
		ConsentedBy: r.ConsentedBy, ConsentedByObjectID: r.ConsentedByObjectID, InvitationID: r.InvitationID,
		Account: r.Account, Access: upgrade.Access(r.Access), LastValidation: r.LastValidation.domain()}
}

// withValidation applies v to the record as SaveValidation and
// CompleteUpgrade store it.
func (r m365Record) withValidation(v upgrade.Validation, next time.Time) m365Record {
	r.LastValidation = toValidationRecord(v)
	r.Access = string(upgrade.AccessOf(v))
	if v.Application.TenantDomain != "" {
		r.TenantDomain = v.Application.TenantDomain
	}
	if v.Delegated != nil && v.Delegated.Passed {
		r.Account = v.Delegated.Account
	}
	r.GSI2PK, r.GSI2SK = keepAliveKeys(r.OperatorID, r.CustomerID, next)
	return r
}

func attrS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func attrN(v int) types.AttributeValue    { return &types.AttributeValueMemberN{Value: strconv.Itoa(v)} }

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
func (st *Store) transact(ctx context.Context, items []types.TransactWriteItem) error {
	var err error
	for attempt := 0; attempt < transactAttempts; attempt++ {
		_, err = st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil || !conflicted(err) {
			return err
		}
	}
	return err
}

// CompleteUpgrade implements upgrade.FinishStore.
func (st *Store) CompleteUpgrade(ctx context.Context, c upgrade.Completion) error {
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
		{Update: &types.Update{TableName: aws.String(st.table), Key: key(upgradePK(op, c.UpgradeID), skMain),
			ConditionExpression:      aws.String("#s IN (:pending, :ready)"),
			UpdateExpression:         aws.String("SET #s = :done, #svc.License = :lic, #svc.LicensedUsers = :users, #svc.#s = :active, CompletedAt = :at"),
			ExpressionAttributeNames: map[string]string{"#s": "Status", "#svc": "Service"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pending": attrS(string(upgrade.UpgradePendingAuthentication)),
				":ready": attrS(string(upgrade.UpgradeReadyToResume)), ":done": attrS(string(upgrade.UpgradeCompleted)),
				":lic": attrS(string(svc.License)), ":users": attrN(svc.LicensedUsers), ":active": attrS(string(upgrade.ServiceActive)), ":at": at}}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String(st.table), Key: key(invitationPK(c.M365.InvitationID), skMain),
			ConditionExpression:       aws.String("#s = :complete"),
			ExpressionAttributeNames:  map[string]string{"#s": "Status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":complete": attrS(string(upgrade.InvitationAuthenticationComplete))}}},
		{Update: &types.Update{TableName: aws.String(st.table), Key: key(servicePK(op, svc.ID), skMain),
			ConditionExpression:      aws.String("#s = :pending"),
			UpdateExpression:         aws.String("SET #s = :active, License = :lic, LicensedUsers = :users, #p = :perms, UpgradeID = :up, ActivatedAt = :at"),
			ExpressionAttributeNames: map[string]string{"#s": "Status", "#p": "Permissions"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pending": attrS(string(upgrade.ServicePendingAuthentication)),
				":active": attrS(string(upgrade.ServiceActive)), ":lic": attrS(string(svc.License)), ":users": attrN(svc.LicensedUsers),
				":perms": perms, ":up": attrS(c.UpgradeID), ":at": at}}},
		{Update: &types.Update{TableName: aws.String(st.table), Key: key(customerPK(op, svc.CustomerID), skMain),
			// ReservedUsers <= :room because condition expressions cannot add.
			ConditionExpression: aws.String("attribute_exists(PK) AND LicenseRank < :rank AND ReservedUsers <= :room"),
			UpdateExpression:    aws.String("SET License = :lic, LicenseRank = :rank ADD LicensedUsers :users, ReservedUsers :delta"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":rank": attrN(svc.License.Rank()), ":lic": attrS(string(svc.License)),
				":room": attrN(upgrade.MaxUsersPerCustomer - delta), ":users": attrN(svc.LicensedUsers), ":delta": attrN(delta)},
			ReturnValuesOnConditionCheckFailure: all}},
		{Put: &types.Put{TableName: aws.String(st.table), Item: sip, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Put: &types.Put{TableName: aws.String(st.table), Item: m365}},
	}
	err = st.transact(ctx, items)
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
func (st *Store) CancelUpgrade(ctx context.Context, operatorID, upgradeID string, at time.Time) error {
	for attempt := 0; attempt < transactAttempts; attempt++ {
		u, err := st.GetUpgrade(ctx, operatorID, upgradeID)
		if err != nil {
			return err
		}
		if u.Status != upgrade.UpgradePendingAuthentication && u.Status != upgrade.UpgradeReadyToResume {
			return upgrade.ErrStateChanged
		}
		inv, err := st.GetInvitation(ctx, u.Invitation.ID)
		if err != nil {
			return err
		}
		err = st.transact(ctx, st.cancelItems(u, inv, at))
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

func (st *Store) cancelItems(u upgrade.Upgrade, inv upgrade.Invitation, at time.Time) []types.TransactWriteItem {
	op, svc := u.OperatorID, u.Service
	ts := attrS(at.UTC().Format(time.RFC3339Nano))
	items := []types.TransactWriteItem{
		{Update: &types.Update{TableName: aws.String(st.table), Key: key(upgradePK(op, u.ID), skMain),
			ConditionExpression:      aws.String("#s IN (:pending, :ready)"),
			UpdateExpression:         aws.String("SET #s = :cancelled, #svc.#s = :svcCancelled, CancelledAt = :at"),
			ExpressionAttributeNames: map[string]string{"#s": "Status", "#svc": "Service"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pending": attrS(string(upgrade.UpgradePendingAuthentication)),
				":ready": attrS(string(upgrade.UpgradeReadyToResume)), ":cancelled": attrS(string(upgrade.UpgradeCancelled)),
				":svcCancelled": attrS(string(upgrade.ServiceCancelled)), ":at": ts}}},
		{Update: &types.Update{TableName: aws.String(st.table), Key: key(servicePK(op, svc.ID), skMain),
			ConditionExpression:      aws.String("#s = :pending"),
			UpdateExpression:         aws.String("SET #s = :cancelled, CancelledAt = :at"),
			ExpressionAttributeNames: map[string]string{"#s": "Status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pending": attrS(string(upgrade.ServicePendingAuthentication)),
				":cancelled": attrS(string(upgrade.ServiceCancelled)), ":at": ts}}},
	}
	if slices.Contains(revocable, inv.Status) {
		items = append(items, types.TransactWriteItem{Update: &types.Update{TableName: aws.String(st.table), Key: key(invitationPK(inv.ID), skMain),
			ConditionExpression:      aws.String("#s = :was"),
			UpdateExpression:         aws.String("SET #s = :revoked, GSI2PK = :gsi2, RevokedAt = :at REMOVE DuePK, DueSK"),
			ExpressionAttributeNames: map[string]string{"#s": "Status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":was": attrS(string(inv.Status)),
				":revoked": attrS(string(upgrade.InvitationRevoked)), ":gsi2": attrS(invitationStatusPK(op, upgrade.InvitationRevoked)), ":at": ts}}})
	} else {
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(st.table),
			Key: key(invitationPK(inv.ID), skMain), ConditionExpression: aws.String("#s = :was"),
			ExpressionAttributeNames:  map[string]string{"#s": "Status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":was": attrS(string(inv.Status))}}})
	}
	return append(items,
		types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(st.table), Key: key(shortNamePK(op, svc.ShortName), skMain),
			ConditionExpression: aws.String("attribute_not_exists(PK) OR #ref = :svc"), ExpressionAttributeNames: map[string]string{"#ref": "Ref"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":svc": attrS(svc.ID)}}},
		types.TransactWriteItem{Update: &types.Update{TableName: aws.String(st.table), Key: key(customerPK(op, u.CustomerID), skMain),
			ConditionExpression: aws.String("attribute_exists(PK)"), UpdateExpression: aws.String("ADD ReservedUsers :minus"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":minus": attrN(-svc.LicensedUsers)}}},
	)
}

// finishedService is the service item with what completion adds.
type finishedService struct {
	serviceRecord
	UpgradeID string `dynamodbav:",omitempty"`
}

// GetService implements upgrade.FinishStore with one Query of the
// service's item collection (the service and its SIP connections).
func (st *Store) GetService(ctx context.Context, operatorID, id string) (upgrade.ServiceDetails, error) {
	out, err := st.db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(st.table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": attrS(servicePK(operatorID, id))}})
	if err != nil {
		return upgrade.ServiceDetails{}, fmt.Errorf("query service %s: %w", id, err)
	}
	var d upgrade.ServiceDetails
	found := false
	for _, item := range out.Items {
		sk, _ := item["SK"].(*types.AttributeValueMemberS)
		switch {
		case sk == nil:
		case sk.Value == skMain:
			var r finishedService
			if err := attributevalue.UnmarshalMap(item, &r); err != nil {
				return upgrade.ServiceDetails{}, fmt.Errorf("decode service: %w", err)
			}
			d.Service, d.OperatorID, d.UpgradeID, found = r.domain(), r.OperatorID, r.UpgradeID, true
		case strings.HasPrefix(sk.Value, sipPrefix):
			var r sipRecord
			if err := attributevalue.UnmarshalMap(item, &r); err != nil {
				return upgrade.ServiceDetails{}, fmt.Errorf("decode SIP connection: %w", err)
			}
			d.SIPConnections = append(d.SIPConnections, upgrade.SIPConnection{ID: r.ID, ServiceID: r.ServiceID, CustomerID: r.CustomerID,
				Name: r.Name, FQDN: r.FQDN, Port: r.Port, Transport: r.Transport, Status: r.Status, CreatedAt: r.CreatedAt})
		}
	}
	if !found {
		return upgrade.ServiceDetails{}, upgrade.ErrNotFound
	}
	return d, nil
}

// ListCustomerServices implements upgrade.FinishStore: every service comes
// with an invitation, so the customer's invitation references lead to the
// services (one Query, then TransactGetItems in batches).
func (st *Store) ListCustomerServices(ctx context.Context, operatorID, customerID string) ([]upgrade.Service, error) {
	var invIDs []string
	var start map[string]types.AttributeValue
	for {
		out, err := st.db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(st.table),
			KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :inv)"), ScanIndexForward: aws.Bool(false),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": attrS(customerPK(operatorID, customerID)), ":inv": attrS("INVITATION#")},
			ExclusiveStartKey:         start})
		if err != nil {
			return nil, fmt.Errorf("query invitations of customer %s: %w", customerID, err)
		}
		for _, item := range out.Items {
			var r claimRecord
			if err := attributevalue.UnmarshalMap(item, &r); err != nil {
				return nil, fmt.Errorf("decode invitation reference: %w", err)
			}
			invIDs = append(invIDs, r.Ref)
		}
		if start = out.LastEvaluatedKey; start == nil {
			break
		}
	}
	invs, err := st.getAll(ctx, invIDs, invitationPK)
	if err != nil {
		return nil, err
	}
	var svcIDs []string
	for _, item := range invs {
		var r invitationRecord
		if err := attributevalue.UnmarshalMap(item, &r); err != nil {
			return nil, fmt.Errorf("decode invitation: %w", err)
		}
		svcIDs = append(svcIDs, r.ServiceID)
	}
	items, err := st.getAll(ctx, svcIDs, func(id string) string { return servicePK(operatorID, id) })
	if err != nil {
		return nil, err
	}
	svcs := make([]upgrade.Service, 0, len(items))
	for _, item := range items {
		var r serviceRecord
		if err := attributevalue.UnmarshalMap(item, &r); err != nil {
			return nil, fmt.Errorf("decode service: %w", err)
		}
		svcs = append(svcs, r.domain())
	}
	return svcs, nil
}

// getAll reads the main items of ids in order, skipping missing ones.
func (st *Store) getAll(ctx context.Context, ids []string, pk func(string) string) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	for chunk := range slices.Chunk(ids, maxTransactGet) {
		gets := make([]types.TransactGetItem, len(chunk))
		for i, id := range chunk {
			gets[i] = types.TransactGetItem{Get: &types.Get{TableName: aws.String(st.table), Key: key(pk(id), skMain)}}
		}
		res, err := st.db.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: gets})
		if err != nil {
			return nil, fmt.Errorf("get items: %w", err)
		}
		for _, r := range res.Responses {
			if r.Item != nil {
				out = append(out, r.Item)
			}
		}
	}
	return out, nil
}

func (st *Store) getM365(ctx context.Context, operatorID, customerID string) (m365Record, bool, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.table), Key: key(customerPK(operatorID, customerID), skM365)})
	if err != nil {
		return m365Record{}, false, fmt.Errorf("get M365 of %s: %w", customerID, err)
	}
	if out.Item == nil {
		return m365Record{}, false, nil
	}
	var r m365Record
	if err := attributevalue.UnmarshalMap(out.Item, &r); err != nil {
		return m365Record{}, false, fmt.Errorf("decode M365 of %s: %w", customerID, err)
	}
	return r, true, nil
}

// GetM365 implements upgrade.M365Store.
func (st *Store) GetM365(ctx context.Context, operatorID, customerID string) (upgrade.M365Connection, error) {
	r, found, err := st.getM365(ctx, operatorID, customerID)
	if err != nil {
		return upgrade.M365Connection{}, err
	}
	if !found {
		return upgrade.M365Connection{}, upgrade.ErrNotFound
	}
	return r.domain(), nil
}

// PutM365 implements upgrade.M365Store: it sets the consent facts and
// leaves validation, access, account and keep-alive keys as they are.
func (st *Store) PutM365(ctx context.Context, c upgrade.M365Connection) error {
	r := toM365Record(c)
	perms, err := attributevalue.Marshal(r.GrantedPermissions)
	if err != nil {
		return fmt.Errorf("encode permissions: %w", err)
	}
	_, err = st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Update: &types.Update{
		TableName: aws.String(st.table), Key: key(r.PK, r.SK),
		UpdateExpression: aws.String("SET #t = :type, OperatorID = :op, CustomerID = :cust, TenantID = :tid, GrantedPermissions = :perms, " +
			"ConsentedAt = :at, ConsentedBy = :by, ConsentedByObjectID = :oid, InvitationID = :inv, #a = if_not_exists(#a, :unknown)"),
		ExpressionAttributeNames: map[string]string{"#t": "Type", "#a": "Access"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":type": attrS(typeM365), ":op": attrS(r.OperatorID), ":cust": attrS(r.CustomerID),
			":tid": attrS(r.TenantID), ":perms": perms, ":at": attrS(r.ConsentedAt.Format(time.RFC3339Nano)), ":by": attrS(r.ConsentedBy),
			":oid": attrS(r.ConsentedByObjectID), ":inv": attrS(r.InvitationID), ":unknown": attrS(string(upgrade.AccessUnknown))},
	}}}})
	if err != nil {
		return fmt.Errorf("put M365 of %s: %w", c.CustomerID, err)
	}
	return nil
}

// SaveValidation implements upgrade.M365Store with a write conditioned on
// the connection existing and, for events, on not having seen the event.
func (st *Store) SaveValidation(ctx context.Context, operatorID, customerID string, v upgrade.Validation, next time.Time, eventID string) error {
	r, found, err := st.getM365(ctx, operatorID, customerID)
	if err != nil {
		return err
	}
	if !found {
		return upgrade.ErrNotFound
	}
	if eventID != "" && r.LastEventID == eventID {
		return upgrade.ErrDuplicateEvent
	}
	prevEvent := r.LastEventID
	r = r.withValidation(v, next)
	if eventID != "" {
		r.LastEventID = eventID
	}
	item, err := attributevalue.MarshalMap(r)
	if err != nil {
		return fmt.Errorf("encode M365 of %s: %w", customerID, err)
	}
	cond := "attribute_exists(PK) AND (attribute_not_exists(LastEventID) OR LastEventID = :prev)"
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.table), Item: item,
		ConditionExpression: aws.String(cond), ExpressionAttributeValues: map[string]types.AttributeValue{":prev": attrS(prevEvent)}})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// Another save won meanwhile; with an event id it was this event's
		// other delivery.
		if eventID != "" {
			return upgrade.ErrDuplicateEvent
		}
		return upgrade.ErrStateChanged
	}
	if err != nil {
		return fmt.Errorf("save validation of %s: %w", customerID, err)
	}
	return nil
}

// DueKeepAlive implements upgrade.M365Store: one Query per shard of GSI2's
// KEEPALIVE# partitions.
func (st *Store) DueKeepAlive(ctx context.Context, now time.Time, limit int) ([]upgrade.M365Key, error) {
	var keys []upgrade.M365Key
	upTo := now.UTC().Format(time.RFC3339) + "#~"
	for shard := 0; shard < keepAliveShard && len(keys) < limit; shard++ {
		out, err := st.db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(st.table), IndexName: aws.String("GSI2"),
			KeyConditionExpression: aws.String("GSI2PK = :pk AND GSI2SK <= :upTo"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": attrS(fmt.Sprintf("%s%02d", keepAlivePK, shard)),
				":upTo": attrS(upTo)},
			Limit: aws.Int32(int32(limit - len(keys)))})
		if err != nil {
			return nil, fmt.Errorf("query keep-alive shard %d: %w", shard, err)
		}
		for _, item := range out.Items {
			var r m365Record
			if err := attributevalue.UnmarshalMap(item, &r); err != nil {
				return nil, fmt.Errorf("decode M365: %w", err)
			}
			keys = append(keys, upgrade.M365Key{OperatorID: r.OperatorID, CustomerID: r.CustomerID})
		}
	}
	return keys, nil
}

// MarkReadyToResume implements upgrade.M365Store.
func (st *Store) MarkReadyToResume(ctx context.Context, operatorID, upgradeID string) error {
	err := st.transact(ctx, []types.TransactWriteItem{{Update: &types.Update{TableName: aws.String(st.table),
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

// keptCredential is the consent wizard's credential item as this file
// reads it.
type keptCredential struct {
	SealedRefresh []byte
}

// Credential implements validate.Credentials: the sealed refresh token kept
// for an invitation, upgrade.ErrNotFound when there is none.
func (st *Store) Credential(ctx context.Context, invitationID string) ([]byte, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.table), Key: key(invitationPK(invitationID), skCredentialOf),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get credential: %w", err)
	}
	var r keptCredential
	if out.Item != nil {
		if err := attributevalue.UnmarshalMap(out.Item, &r); err != nil {
			return nil, fmt.Errorf("decode credential: %w", err)
		}
	}
	if len(r.SealedRefresh) == 0 {
		return nil, upgrade.ErrNotFound
	}
	return r.SealedRefresh, nil
}

// ReplaceCredential implements validate.Credentials with a write
// conditioned on the blob still being prev.
func (st *Store) ReplaceCredential(ctx context.Context, invitationID string, prev, next []byte) error {
	err := st.transact(ctx, []types.TransactWriteItem{{Update: &types.Update{TableName: aws.String(st.table),
		Key: key(invitationPK(invitationID), skCredentialOf), ConditionExpression: aws.String("SealedRefresh = :prev"),
		UpdateExpression: aws.String("SET SealedRefresh = :next, RotatedAt = :at"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":prev": &types.AttributeValueMemberB{Value: prev},
			":next": &types.AttributeValueMemberB{Value: next}, ":at": attrS(time.Now().UTC().Format(time.RFC3339))}}}})
	if _, ok := conditionFailed(err, 0); ok {
		return upgrade.ErrStateChanged
	}
	if err != nil {
		return fmt.Errorf("replace credential: %w", err)
	}
	return nil
}
