package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
	"github.com/ocpro/upgrade/internal/wizard"
)

// The Store is the consent wizard's store too, and passes the same
// contract suite (package wizardtest) as the DynamoDB one.
var _ wizard.Store = (*Store)(nil)

// TransitionInvitation implements wizard.Store with the conditions of the
// DynamoDB store: the invitation exists, its status is one
// upgrade.InvitationMoves allows to move to t.To, its link is of
// t.Generation, it has not expired at
// t.At and, for AUTHENTICATION_COMPLETE, it recorded t.TenantID.
func (s *Store) TransitionInvitation(_ context.Context, t wizard.Transition) error {
	from := upgrade.InvitationMoves.From(t.To)
	if t.OperatorID == "" || len(from) == 0 {
		return fmt.Errorf("memory: no transition of operator %q's invitation to %q", t.OperatorID, t.To)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.invitations[t.InvitationID]
	if !ok || !from.Contains(inv.Status) || inv.Generation != t.Generation || !t.At.Before(inv.ExpiresAt) {
		return wizard.ErrConflict
	}
	if upgrade.InvitationProven.Contains(t.To) && (inv.TenantID == "" || inv.TenantID != t.TenantID) {
		return wizard.ErrConflict
	}
	if err := s.addEvents(t.Events); err != nil {
		return err
	}
	inv.Status = t.To
	switch t.To {
	case upgrade.InvitationTokenAcquired:
		inv.TenantID, inv.AuthenticatedBy, inv.AuthenticatedByObjectID = t.TenantID, t.UPN, t.ObjectID
	case upgrade.InvitationAuthenticationComplete, upgrade.InvitationAwaitingConfirmation:
		if t.To == upgrade.InvitationAuthenticationComplete {
			inv.AuthenticatedAt = t.At.UTC()
		}
		if len(t.Granted) > 0 {
			inv.GrantedPermissions = append([]string(nil), t.Granted...)
		}
		inv.TenantName, inv.TenantDomains = t.TenantName, slices.Clone(t.TenantDomains)
	}
	s.invitations[inv.ID] = inv
	return nil
}

// GetAttempt implements wizard.Store.
func (s *Store) GetAttempt(_ context.Context, invitationID string) (wizard.Attempt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.attempts[invitationID]
	if a.Device != nil {
		d := *a.Device
		a.Device = &d
	}
	if a.Confirm != nil {
		c := *a.Confirm
		a.Confirm = &c
	}
	return a, nil
}

// StartConfirm implements wizard.Store, in milliseconds as the DynamoDB
// store keeps the times.
func (s *Store) StartConfirm(_ context.Context, invitationID string, since time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.attempts[invitationID]
	at := time.UnixMilli(since.UnixMilli()).UTC()
	a.Confirm = &wizard.Confirm{Since: at, LastTry: at}
	s.attempts[invitationID] = a
	return nil
}

// ClaimConfirm implements wizard.Store: compare-and-set on the last proof
// attempt, in milliseconds.
func (s *Store) ClaimConfirm(_ context.Context, invitationID string, prev, now time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.attempts[invitationID].Confirm
	if c == nil || c.LastTry.UnixMilli() != prev.UnixMilli() {
		return false, nil
	}
	c.LastTry = time.UnixMilli(now.UnixMilli()).UTC()
	return true, nil
}

// StartDevice implements wizard.Store: the count, the attempt and the
// invitation's DeviceAttempt change together or not at all.
func (s *Store) StartDevice(_ context.Context, invitationID string, d wizard.Device, max int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.attempts[invitationID]
	if a.DeviceStarts >= max {
		return wizard.ErrTooManyAttempts
	}
	inv, ok := s.invitations[invitationID]
	if !ok {
		return wizard.ErrConflict
	}
	// Kept as the DynamoDB store keeps it: the interval and the last poll
	// in whole milliseconds.
	d.Interval = d.Interval.Truncate(time.Millisecond)
	d.ExpiresAt, d.LastPoll = d.ExpiresAt.UTC(), time.UnixMilli(d.LastPoll.UnixMilli()).UTC()
	a.DeviceStarts++
	a.Device = &d
	s.attempts[invitationID] = a
	inv.DeviceAttempt = true
	s.invitations[invitationID] = inv
	return nil
}

// CountRedirect implements wizard.Store.
func (s *Store) CountRedirect(_ context.Context, invitationID string, max int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.attempts[invitationID]
	if a.Redirects >= max {
		return wizard.ErrTooManyAttempts
	}
	a.Redirects++
	s.attempts[invitationID] = a
	return nil
}

// ClaimPoll implements wizard.Store: compare-and-set on the last poll time,
// in milliseconds as the DynamoDB store compares it.
func (s *Store) ClaimPoll(_ context.Context, invitationID string, prev, now time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.attempts[invitationID].Device
	if d == nil || d.LastPoll.UnixMilli() != prev.UnixMilli() || d.Outcome != wizard.OutcomeNone {
		return false, nil
	}
	d.LastPoll = time.UnixMilli(now.UnixMilli()).UTC()
	return true, nil
}

// SettleDevice implements wizard.Store.
func (s *Store) SettleDevice(_ context.Context, invitationID string, interval time.Duration, outcome wizard.Outcome) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.attempts[invitationID].Device
	if d == nil {
		return wizard.ErrConflict
	}
	d.Interval, d.Outcome = interval.Truncate(time.Millisecond), outcome
	if outcome != wizard.OutcomeNone {
		d.SealedCode = nil
	}
	return nil
}

// SaveCredential implements wizard.Store, replacing an earlier credential.
func (s *Store) SaveCredential(_ context.Context, invitationID string, c wizard.Credential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.At = c.At.UTC()
	s.credentials[invitationID] = c
	return nil
}

// Credential returns the sealed refresh token kept for an invitation,
// upgrade.ErrNotFound when there is none, as the DynamoDB store does for
// the token validation.
func (s *Store) Credential(_ context.Context, invitationID string) (upgrade.KeptCredential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.credentials[invitationID]
	if len(c.SealedRefresh) == 0 {
		return upgrade.KeptCredential{}, upgrade.ErrNotFound
	}
	return upgrade.KeptCredential{Sealed: append([]byte(nil), c.SealedRefresh...), Public: c.Public}, nil
}

// PutState implements wizard.Store; a state is never stored twice.
func (s *Store) PutState(_ context.Context, st wizard.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.states[st.Hash]; ok {
		return errors.New("memory: state exists")
	}
	st.ExpiresAt = st.ExpiresAt.UTC()
	s.states[st.Hash] = st
	return nil
}

// TakeState implements wizard.Store: of concurrent takers one gets the
// state, the others upgrade.ErrNotFound.
func (s *Store) TakeState(_ context.Context, hash string) (wizard.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.states[hash]
	if !ok {
		return wizard.State{}, upgrade.ErrNotFound
	}
	delete(s.states, hash)
	return st, nil
}
