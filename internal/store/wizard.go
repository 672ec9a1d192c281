package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

// The consent wizard's items (see also the package documentation):
//
//	item          PK                      SK           notes
//	wizard        INVITATION#<id>         WIZARD       attempt counters and the device code attempt (code sealed)
//	state         STATE#<sha256(state)>   A            one-time OAuth state: hashes only, ttl at expiry
//
// The wizard item shares the invitation's partition, as the kept credential
// does (credential.go), so the invitation itself stays one GetItem away
// from a link.
const (
	skWizard   = "WIZARD"
	typeWizard = "WIZARD"
	typeState  = "STATE"
)

func statePK(hash string) string { return "STATE#" + hash }

// WizardAPI is the part of the DynamoDB client the Wizard store uses.
type WizardAPI interface {
	API
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Wizard is the DynamoDB wizard.Store: the upgrade Store's reads plus the
// wizard's conditional writes.
type Wizard struct {
	*Store
	db WizardAPI
}

var _ wizard.Store = (*Wizard)(nil)

// NewWizard returns a Wizard store on table.
func NewWizard(db WizardAPI, table string) (*Wizard, error) {
	if db == nil {
		return nil, errors.New("store: nil DynamoDB client")
	}
	s, err := New(db, table)
	if err != nil {
		return nil, err
	}
	return &Wizard{Store: s, db: busyWizard{busyAware{db}, db}}, nil
}

type deviceRecord struct {
	SealedCode      []byte `dynamodbav:",omitempty"`
	UserCode        string
	VerificationURI string
	IntervalMS      int64
	ExpiresAt       time.Time
	LastPollMS      int64
	Outcome         string
}

type wizardRecord struct {
	PK, SK       string
	Type         string
	DeviceStarts int
	Redirects    int
	Device       *deviceRecord  `dynamodbav:",omitempty"`
	Confirm      *confirmRecord `dynamodbav:",omitempty"`
}

// confirmRecord is a pending proof of admin consent, times in
// milliseconds so that the claim compares them exactly.
type confirmRecord struct {
	SinceMS   int64
	LastTryMS int64
}

type stateRecord struct {
	PK, SK         string
	Type           string
	InvitationID   string
	Purpose        string
	BindingHash    string
	SealedVerifier []byte `dynamodbav:",omitempty"`
	TenantID       string `dynamodbav:",omitempty"`
	ExpiresAt      time.Time
	TTL            int64 `dynamodbav:"ttl"`
}

// TransitionInvitation implements wizard.Store with one conditional
// UpdateItem that also rewrites GSI2PK, as every status change must, or
// with the transition's events a TransactWriteItems of that update and
// their outbox items.
func (w *Wizard) TransitionInvitation(ctx context.Context, t wizard.Transition) error {
	from := upgrade.InvitationMoves.From(t.To)
	if t.OperatorID == "" || len(from) == 0 {
		return fmt.Errorf("store: no transition of operator %q's invitation to %q", t.OperatorID, t.To)
	}
	e := newExpr()
	e.exists()
	oneOf(e, "Status", from)
	e.is("Generation", t.Generation, false)
	e.compare("ExpiresAt", ">", t.At.UTC())
	e.put("Status", string(t.To), false)
	e.put("GSI2PK", invitationStatusPK(t.OperatorID, t.To), false)
	switch t.To {
	case upgrade.InvitationTokenAcquired:
		e.put("TenantID", t.TenantID, false)
		e.put("AuthenticatedBy", t.UPN, false)
		e.put("AuthenticatedByObjectID", t.ObjectID, false)
	case upgrade.InvitationAuthenticationComplete, upgrade.InvitationAwaitingConfirmation:
		if t.To == upgrade.InvitationAuthenticationComplete {
			e.put("AuthenticatedAt", t.At.UTC(), false)
		}
		e.is("TenantID", t.TenantID, false)
		if len(t.Granted) > 0 {
			e.put("GrantedPermissions", &types.AttributeValueMemberSS{Value: t.Granted}, false)
		}
		e.put("TenantName", t.TenantName, t.TenantName == "")
		e.put("TenantDomains", t.TenantDomains, len(t.TenantDomains) == 0)
	}
	if upgrade.InvitationConcluded.Contains(t.To) {
		// Nothing is due any more for a finished invitation: no reminder,
		// no expiry.
		e.put("DuePK", "", true)
		e.put("DueSK", "", true)
	}
	return w.updateWith(ctx, e, invitationPK(t.InvitationID), skMain, wizard.ErrConflict, "transition invitation to "+string(t.To), t.Events)
}

// GetAttempt implements wizard.Store with one consistent read, so that a
// poll right after a start sees it.
func (w *Wizard) GetAttempt(ctx context.Context, invitationID string) (wizard.Attempt, error) {
	out, err := w.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(w.table),
		Key: key(invitationPK(invitationID), skWizard), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return wizard.Attempt{}, fmt.Errorf("get wizard record: %w", err)
	}
	if out.Item == nil {
		return wizard.Attempt{}, nil
	}
	var r wizardRecord
	if err := attributevalue.UnmarshalMap(out.Item, &r); err != nil {
		return wizard.Attempt{}, fmt.Errorf("decode wizard record: %w", err)
	}
	a := wizard.Attempt{DeviceStarts: r.DeviceStarts, Redirects: r.Redirects}
	if d := r.Device; d != nil {
		a.Device = &wizard.Device{SealedCode: d.SealedCode, UserCode: d.UserCode, VerificationURI: d.VerificationURI,
			Interval: time.Duration(d.IntervalMS) * time.Millisecond, ExpiresAt: d.ExpiresAt,
			LastPoll: time.UnixMilli(d.LastPollMS).UTC(), Outcome: wizard.Outcome(d.Outcome)}
	}
	if c := r.Confirm; c != nil {
		a.Confirm = &wizard.Confirm{Since: time.UnixMilli(c.SinceMS).UTC(), LastTry: time.UnixMilli(c.LastTryMS).UTC()}
	}
	return a, nil
}

// StartConfirm implements wizard.Store: one write, replacing an earlier
// pending proof.
func (w *Wizard) StartConfirm(ctx context.Context, invitationID string, since time.Time) error {
	e := newExpr()
	e.put("Type", typeWizard, false)
	e.put("Confirm", confirmRecord{SinceMS: since.UnixMilli(), LastTryMS: since.UnixMilli()}, false)
	return w.update(ctx, e, invitationPK(invitationID), skWizard, wizard.ErrConflict, "start consent proof")
}

// ClaimConfirm implements wizard.Store: compare-and-set on the last proof
// attempt.
func (w *Wizard) ClaimConfirm(ctx context.Context, invitationID string, prev, now time.Time) (bool, error) {
	e := newExpr()
	e.is("Confirm.LastTryMS", prev.UnixMilli(), false)
	e.put("Confirm.LastTryMS", now.UnixMilli(), false)
	switch err := w.update(ctx, e, invitationPK(invitationID), skWizard, wizard.ErrConflict, "claim consent proof"); {
	case errors.Is(err, wizard.ErrConflict):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// StartDevice implements wizard.Store: it replaces the device attempt and
// counts it, and marks the invitation as having a device attempt, in one
// transaction. The mark is what lets opening the link read the invitation
// alone until then; were it written apart, a failure between the two
// writes would hide a running attempt behind the Welcome page.
func (w *Wizard) StartDevice(ctx context.Context, invitationID string, d wizard.Device, max int) error {
	count := countUpdate("DeviceStarts", max)
	count.put("Device", deviceRecord{SealedCode: d.SealedCode, UserCode: d.UserCode,
		VerificationURI: d.VerificationURI, IntervalMS: d.Interval.Milliseconds(), ExpiresAt: d.ExpiresAt.UTC(),
		LastPollMS: d.LastPoll.UnixMilli(), Outcome: string(d.Outcome)}, false)
	e := newExpr()
	e.exists()
	e.put("DeviceAttempt", true, false)
	tx := txn{table: w.table}
	tx.update(count, invitationPK(invitationID), skWizard)
	tx.update(e, invitationPK(invitationID), skMain)
	in, err := tx.input()
	if err != nil {
		return fmt.Errorf("start device attempt: %w", err)
	}
	_, err = w.db.TransactWriteItems(ctx, in)
	if _, ok := conditionFailed(err, 0); ok {
		return wizard.ErrTooManyAttempts
	}
	if _, ok := conditionFailed(err, 1); ok {
		return wizard.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("start device attempt: %w", err)
	}
	return nil
}

// CountRedirect implements wizard.Store.
func (w *Wizard) CountRedirect(ctx context.Context, invitationID string, max int) error {
	return w.update(ctx, countUpdate("Redirects", max), invitationPK(invitationID), skWizard, wizard.ErrTooManyAttempts, "count Redirects")
}

// countUpdate adds one to a counter of the wizard record unless it reached
// max; the caller may set more in the same write.
func countUpdate(counter string, max int) *expr {
	e := newExpr()
	n := e.name(counter)
	e.cond = append(e.cond, "(attribute_not_exists("+n+") OR "+n+" < "+e.value(max)+")")
	e.put("Type", typeWizard, false)
	e.set = append(e.set, n+" = if_not_exists("+n+", "+e.value(0)+") + "+e.value(1))
	return e
}

// ClaimPoll implements wizard.Store: compare-and-set on the last poll time
// of a running attempt.
func (w *Wizard) ClaimPoll(ctx context.Context, invitationID string, prev, now time.Time) (bool, error) {
	e := newExpr()
	e.is("Device.LastPollMS", prev.UnixMilli(), false)
	e.is("Device.Outcome", string(wizard.OutcomeNone), false)
	e.put("Device.LastPollMS", now.UnixMilli(), false)
	switch err := w.update(ctx, e, invitationPK(invitationID), skWizard, wizard.ErrConflict, "claim poll"); {
	case errors.Is(err, wizard.ErrConflict):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// SettleDevice implements wizard.Store; a settled attempt loses its
// device code, which is of no use any more.
func (w *Wizard) SettleDevice(ctx context.Context, invitationID string, interval time.Duration, outcome wizard.Outcome) error {
	e := newExpr()
	e.cond = append(e.cond, "attribute_exists("+e.name("Device")+")")
	e.put("Device.IntervalMS", interval.Milliseconds(), false)
	e.put("Device.Outcome", string(outcome), false)
	if outcome != wizard.OutcomeNone {
		e.put("Device.SealedCode", nil, true)
	}
	return w.update(ctx, e, invitationPK(invitationID), skWizard, wizard.ErrConflict, "settle device attempt")
}

// PutState implements wizard.Store. The item expires by TTL as well, but
// TakeState checks ExpiresAt itself because TTL deletion is lazy.
func (w *Wizard) PutState(ctx context.Context, s wizard.State) error {
	item, err := attributevalue.MarshalMap(stateRecord{PK: statePK(s.Hash), SK: skMain, Type: typeState,
		InvitationID: s.InvitationID, Purpose: string(s.Purpose), BindingHash: s.BindingHash,
		SealedVerifier: s.SealedVerifier, TenantID: s.TenantID, ExpiresAt: s.ExpiresAt.UTC(), TTL: s.ExpiresAt.Unix()})
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	_, err = w.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(w.table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if err != nil {
		return fmt.Errorf("put state: %w", err)
	}
	return nil
}

// TakeState implements wizard.Store with one conditional DeleteItem: of two
// requests with the same state only one gets it.
func (w *Wizard) TakeState(ctx context.Context, hash string) (wizard.State, error) {
	out, err := w.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(w.table), Key: key(statePK(hash), skMain),
		ConditionExpression: aws.String("attribute_exists(PK)"), ReturnValues: types.ReturnValueAllOld,
	})
	if isConditionFailed(err) {
		return wizard.State{}, upgrade.ErrNotFound
	}
	if err != nil {
		return wizard.State{}, fmt.Errorf("take state: %w", err)
	}
	var r stateRecord
	if err := attributevalue.UnmarshalMap(out.Attributes, &r); err != nil {
		return wizard.State{}, fmt.Errorf("decode state: %w", err)
	}
	return wizard.State{Hash: hash, InvitationID: r.InvitationID, Purpose: wizard.Purpose(r.Purpose),
		BindingHash: r.BindingHash, SealedVerifier: r.SealedVerifier, TenantID: r.TenantID, ExpiresAt: r.ExpiresAt}, nil
}
