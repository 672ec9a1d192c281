package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

// The kept delegated credential of an invitation (the guide's "Tenant
// account credentials") shares the invitation's partition:
//
//	item          PK                      SK           notes
//	credential    INVITATION#<id>         CREDENTIAL   the delegated refresh token, sealed with {tenantId, invitationId}
//
// The consent wizard writes it; token validation reads it and replaces it
// with its rotated successor.
//
// The store implements the validation's Credentials (asserted where they
// are wired, in functions/tokenvalidation): importing internal/validate
// here would link MSAL into every function that uses the store.
const (
	skCredential = "CREDENTIAL"
	typeCred     = "CREDENTIAL"
)

type credentialRecord struct {
	PK, SK        string
	Type          string
	TenantID      string
	SealedRefresh []byte
	At            time.Time
	// Public marks a device code refresh token, redeemed without the
	// secret; absent on records of the authorization code flow.
	Public bool `dynamodbav:",omitempty"`
}

// SaveCredential implements wizard.Store.
func (w *Wizard) SaveCredential(ctx context.Context, invitationID string, c wizard.Credential) error {
	item, err := attributevalue.MarshalMap(credentialRecord{PK: invitationPK(invitationID), SK: skCredential, Type: typeCred,
		TenantID: c.TenantID, SealedRefresh: c.SealedRefresh, At: c.At.UTC(), Public: c.Public})
	if err != nil {
		return fmt.Errorf("encode credential: %w", err)
	}
	if _, err := w.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(w.table), Item: item}); err != nil {
		return fmt.Errorf("put credential: %w", err)
	}
	return nil
}

// GetCredential returns the kept credential of an invitation, for the
// token validation function; upgrade.ErrNotFound when there is none.
func (w *Wizard) GetCredential(ctx context.Context, invitationID string) (wizard.Credential, error) {
	out, err := w.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(w.table), Key: key(invitationPK(invitationID), skCredential)})
	if err != nil {
		return wizard.Credential{}, fmt.Errorf("get credential: %w", err)
	}
	if out.Item == nil {
		return wizard.Credential{}, upgrade.ErrNotFound
	}
	var r credentialRecord
	if err := attributevalue.UnmarshalMap(out.Item, &r); err != nil {
		return wizard.Credential{}, fmt.Errorf("decode credential: %w", err)
	}
	return wizard.Credential{TenantID: r.TenantID, SealedRefresh: r.SealedRefresh, At: r.At, Public: r.Public}, nil
}

// Credential implements validate.Credentials: the sealed refresh token kept
// for an invitation, upgrade.ErrNotFound when there is none.
func (s *Store) Credential(ctx context.Context, invitationID string) (upgrade.KeptCredential, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(invitationPK(invitationID), skCredential),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return upgrade.KeptCredential{}, fmt.Errorf("get credential: %w", err)
	}
	var r credentialRecord
	if out.Item != nil {
		if err := attributevalue.UnmarshalMap(out.Item, &r); err != nil {
			return upgrade.KeptCredential{}, fmt.Errorf("decode credential: %w", err)
		}
	}
	if len(r.SealedRefresh) == 0 {
		return upgrade.KeptCredential{}, upgrade.ErrNotFound
	}
	return upgrade.KeptCredential{Sealed: r.SealedRefresh, Public: r.Public}, nil
}

// ReplaceCredential implements validate.Credentials with a write
// conditioned on the blob still being prev.
func (s *Store) ReplaceCredential(ctx context.Context, invitationID string, prev, next []byte) error {
	e := newExpr()
	e.is("SealedRefresh", &types.AttributeValueMemberB{Value: prev}, false)
	e.put("SealedRefresh", &types.AttributeValueMemberB{Value: next}, false)
	e.put("RotatedAt", time.Now().UTC().Format(time.RFC3339), false)
	tx := txn{table: s.table}
	tx.update(e, invitationPK(invitationID), skCredential)
	in, err := tx.input()
	if err != nil {
		return fmt.Errorf("replace credential: %w", err)
	}
	err = s.transact(ctx, in.TransactItems)
	if _, ok := conditionFailed(err, 0); ok {
		return upgrade.ErrStateChanged
	}
	if err != nil {
		return fmt.Errorf("replace credential: %w", err)
	}
	return nil
}
