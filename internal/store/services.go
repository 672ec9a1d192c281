package store

// The SIP connections of a service share its partition:
//
//	item              PK                           SK                 GSI2PK / GSI2SK
//	SIP connection    OP#<op>#SERVICE#<service>    SIP#<id>           -

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/internal/upgrade"
)

const (
	sipPrefix = "SIP#"
	typeSIP   = "SIP_CONNECTION"
)

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

// finishedService is the service item with what completion adds.
type finishedService struct {
	serviceRecord
	UpgradeID string `dynamodbav:",omitempty"`
}

// GetService implements upgrade.FinishStore with one Query of the
// service's item collection (the service and its SIP connections).
func (s *Store) GetService(ctx context.Context, operatorID, id string) (upgrade.ServiceDetails, error) {
	e := newExpr()
	e.compare("PK", "=", servicePK(operatorID, id))
	q, err := e.query(s.table, "")
	if err != nil {
		return upgrade.ServiceDetails{}, fmt.Errorf("query service %s: %w", id, err)
	}
	out, err := s.db.Query(ctx, q)
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
func (s *Store) ListCustomerServices(ctx context.Context, operatorID, customerID string) ([]upgrade.Service, error) {
	var invIDs []string
	var start map[string]types.AttributeValue
	for {
		e := newExpr()
		e.compare("PK", "=", customerPK(operatorID, customerID))
		e.beginsWith("SK", "INVITATION#")
		q, err := e.query(s.table, "")
		if err != nil {
			return nil, fmt.Errorf("query invitations of customer %s: %w", customerID, err)
		}
		q.ScanIndexForward, q.ExclusiveStartKey = aws.Bool(false), start
		out, err := s.db.Query(ctx, q)
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
	invs, err := s.getAll(ctx, invIDs, invitationPK)
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
	items, err := s.getAll(ctx, svcIDs, func(id string) string { return servicePK(operatorID, id) })
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
func (s *Store) getAll(ctx context.Context, ids []string, pk func(string) string) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	for chunk := range slices.Chunk(ids, maxTransactGet) {
		gets := make([]types.TransactGetItem, len(chunk))
		for i, id := range chunk {
			gets[i] = types.TransactGetItem{Get: &types.Get{TableName: aws.String(s.table), Key: key(pk(id), skMain)}}
		}
		res, err := s.db.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: gets})
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
