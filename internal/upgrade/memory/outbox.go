package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// addEvents records events in the outbox, called under the lock by a
// change that succeeded, as the DynamoDB store writes them in the change's
// transaction. An event id seen before fails the change, as the outbox
// item's condition would.
func (s *Store) addEvents(events []event.Message) error {
	for _, m := range events {
		if m.ID == "" || slices.ContainsFunc(s.outbox, func(o event.Message) bool { return o.ID == m.ID }) {
			return fmt.Errorf("memory: outbox event id %q empty or taken", m.ID)
		}
	}
	for _, m := range events {
		m.Detail = slices.Clone(m.Detail)
		s.outbox = append(s.outbox, m)
	}
	return nil
}

// checkEvents is addEvents' check alone, for a change to make before it
// writes anything.
func (s *Store) checkEvents(events []event.Message) error {
	seen := map[string]bool{}
	for _, o := range s.outbox {
		seen[o.ID] = true
	}
	for _, m := range events {
		if m.ID == "" || seen[m.ID] {
			return fmt.Errorf("memory: outbox event id %q empty or taken", m.ID)
		}
		seen[m.ID] = true
	}
	return nil
}

// PutEvent writes one event to the outbox alone, as the DynamoDB store's
// PutEvent does.
func (s *Store) PutEvent(_ context.Context, m event.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addEvents([]event.Message{m})
}

// Outbox returns the events written so far, oldest first.
func (s *Store) Outbox() []event.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.outbox)
}

// UpdateInvitation implements upgrade.InvitationStore with the DynamoDB
// store's conditions: the stored invitation's state, generation, counters
// and mail times are still before's, or it returns upgrade.ErrChanged and
// writes nothing. The due index is the DynamoDB store's alone; due is
// ignored.
func (s *Store) UpdateInvitation(_ context.Context, before, after upgrade.Invitation, _ time.Time, events ...event.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.invitations[before.ID]
	if !ok || cur.Status != before.Status || cur.Generation != before.Generation || cur.RemindersSent != before.RemindersSent ||
		cur.ResendCount != before.ResendCount || !cur.LastMailAt.Equal(before.LastMailAt) ||
		!cur.MailRequestedAt.Equal(before.MailRequestedAt) {
		return upgrade.ErrChanged
	}
	if err := s.checkEvents(events); err != nil {
		return err
	}
	after.AuthURL = ""
	s.invitations[before.ID] = after
	return s.addEvents(events)
}

// Announced returns the details of the outbox's events of type D, oldest
// first, as a receiver decodes them; tests read what a change announced
// with it.
func Announced[D any, P interface {
	*D
	event.Detail
}](s *Store) []D {
	var out []D
	for _, m := range s.Outbox() {
		var d D
		if !P(&d).Type().Is(m.Source, m.DetailType) {
			continue
		}
		if err := event.Decode(m.Detail, P(&d)); err != nil {
			panic(fmt.Sprintf("memory: the outbox holds an undecodable %s: %v", m.DetailType, err))
		}
		out = append(out, d)
	}
	return out
}

// OutboxMessage returns the outbox's event of id; found is false when no
// change wrote it.
func (s *Store) OutboxMessage(_ context.Context, id string) (event.Message, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.outbox {
		if m.ID == id {
			m.Detail = slices.Clone(m.Detail)
			return m, true, nil
		}
	}
	return event.Message{}, false, nil
}
