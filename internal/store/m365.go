package store

// The M365 connection of a customer:
//
//	item              PK                           SK                 GSI2PK / GSI2SK
//	M365 connection   OP#<op>#CUSTOMER#<customer>  M365               KEEPALIVE#<shard 00-15> / <next keep-alive RFC 3339>#<op>#<customer>
//
// The keep-alive uses GSI2 under its own partition prefix KEEPALIVE#, so
// that finding due connections is one Query per shard with
// GSI2SK <= "<now>#~" and never a Scan; the DueWork index stays the
// reminder sweep's.

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ocpro/upgrade/internal/upgrade"
)

var _ upgrade.M365Store = (*Store)(nil)

const (
	skM365         = "M365"
	typeM365       = "M365"
	keepAlivePK    = "KEEPALIVE#"
	keepAliveShard = 16
)

func keepAliveKeys(op, customerID string, next time.Time) (pk, sk string) {
	h := fnv.New32a()
	h.Write([]byte(op + "#" + customerID))
	return fmt.Sprintf("%s%02d", keepAlivePK, h.Sum32()%keepAliveShard), next.UTC().Format(time.RFC3339) + "#" + op + "#" + customerID
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

func (s *Store) getM365(ctx context.Context, operatorID, customerID string) (m365Record, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(customerPK(operatorID, customerID), skM365)})
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
func (s *Store) GetM365(ctx context.Context, operatorID, customerID string) (upgrade.M365Connection, error) {
	r, found, err := s.getM365(ctx, operatorID, customerID)
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
func (s *Store) PutM365(ctx context.Context, c upgrade.M365Connection) error {
	r := toM365Record(c)
	e := newExpr()
	e.put("Type", typeM365, false)
	e.put("OperatorID", r.OperatorID, false)
	e.put("CustomerID", r.CustomerID, false)
	e.put("TenantID", r.TenantID, false)
	e.put("GrantedPermissions", r.GrantedPermissions, false)
	e.put("ConsentedAt", r.ConsentedAt, false)
	e.put("ConsentedBy", r.ConsentedBy, false)
	e.put("ConsentedByObjectID", r.ConsentedByObjectID, false)
	e.put("InvitationID", r.InvitationID, false)
	access := e.name("Access")
	e.set = append(e.set, access+" = if_not_exists("+access+", "+e.value(string(upgrade.AccessUnknown))+")")
	tx := txn{table: s.table}
	tx.update(e, r.PK, r.SK)
	in, err := tx.input()
	if err == nil {
		_, err = s.db.TransactWriteItems(ctx, in)
	}
	if err != nil {
		return fmt.Errorf("put M365 of %s: %w", c.CustomerID, err)
	}
	return nil
}

// SaveValidation implements upgrade.M365Store with a write conditioned on
// the connection existing and, for events, on not having seen the event.
func (s *Store) SaveValidation(ctx context.Context, operatorID, customerID string, v upgrade.Validation, next time.Time, eventID string) error {
	r, found, err := s.getM365(ctx, operatorID, customerID)
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
	e := newExpr()
	e.exists()
	last := e.name("LastEventID")
	e.cond = append(e.cond, "(attribute_not_exists("+last+") OR "+last+" = "+e.value(prevEvent)+")")
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item,
		ConditionExpression: e.condition(), ExpressionAttributeNames: e.attributeNames(), ExpressionAttributeValues: e.attributeValues()})
	if isConditionFailed(err) {
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
func (s *Store) DueKeepAlive(ctx context.Context, now time.Time, limit int) ([]upgrade.M365Key, error) {
	var keys []upgrade.M365Key
	upTo := now.UTC().Format(time.RFC3339) + "#~"
	for shard := 0; shard < keepAliveShard && len(keys) < limit; shard++ {
		e := newExpr()
		e.compare("GSI2PK", "=", fmt.Sprintf("%s%02d", keepAlivePK, shard))
		e.compare("GSI2SK", "<=", upTo)
		q, err := e.query(s.table, "GSI2")
		if err != nil {
			return nil, fmt.Errorf("query keep-alive shard %d: %w", shard, err)
		}
		q.Limit = aws.Int32(int32(limit - len(keys)))
		out, err := s.db.Query(ctx, q)
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
