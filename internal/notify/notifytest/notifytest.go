// Package notifytest builds the invitation mail use case on DynamoDB Local,
// with a stand-in for SES, for the tests of internal/notify and of its glue
// (internal/courier).
package notifytest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/link"
	"github.com/ocpro/upgrade/internal/mail"
	"github.com/ocpro/upgrade/internal/mail/layout"
	"github.com/ocpro/upgrade/internal/notify"
	"github.com/ocpro/upgrade/internal/store"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// Clock is a clock stopped at one instant.
type Clock time.Time

// Now implements upgrade.Clock.
func (c Clock) Now() time.Time { return time.Time(c) }

// Sender stands in for SES: it fails every mail with Err, or accepts it,
// keeps it and answers the message id msg-<n>.
type Sender struct {
	Err  error
	mu   sync.Mutex
	to   []string
	msgs []mail.Message
}

// Send implements notify.Sender.
func (s *Sender) Send(_ context.Context, to string, msg mail.Message, _ map[string]string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return "", s.Err
	}
	s.to, s.msgs = append(s.to, to), append(s.msgs, msg)
	return fmt.Sprintf("msg-%d", len(s.to)), nil
}

// To returns the recipients of the accepted mails, in order.
func (s *Sender) To() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.to)
}

// Messages returns the accepted mails, in order.
func (s *Sender) Messages() []mail.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// Setup stores a customer and an upgrade whose pending invitation wants its
// Welcome mail, through the store's own create transaction in a fresh
// DynamoDB Local table, and returns a Mailer on that store whose SES
// stand-in fails with sendErr (nil: accepts).
func Setup(t *testing.T, sendErr error) (*notify.Mailer, *store.Store, *Sender, upgrade.Invitation) {
	t.Helper()
	db, table := testenv.DynamoDB(t)
	st, err := store.New(db, table)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	op := "op-mail"
	cust := upgrade.Customer{ID: "c1", OperatorID: op, Name: "Contoso", Kind: upgrade.KindCustomer, License: upgrade.Essentials, CreatedAt: now}
	if err := st.CreateCustomer(t.Context(), cust); err != nil {
		t.Fatal(err)
	}
	inv := upgrade.Invitation{ID: "inv1", OperatorID: op, CustomerID: "c1", UpgradeID: "u1", ServiceID: "s1", TokenID: "T1",
		Status: upgrade.InvitationPending, AdminEmail: "it@contoso.example", SendInvitation: true, Generation: 1,
		CreatedAt: now, ExpiresAt: now.Add(upgrade.DefaultInvitationTTL), MailWanted: upgrade.MailWelcome, MailRequestedAt: now}
	u := upgrade.Upgrade{ID: "u1", OperatorID: op, CustomerID: "c1", Status: upgrade.UpgradePendingAuthentication,
		Service: upgrade.Service{ID: "s1", CustomerID: "c1", FullName: "Contoso Calling", ShortName: "contoso", License: upgrade.Pro,
			LicensedUsers: 5, Status: upgrade.ServicePendingAuthentication, CreatedAt: now}, Invitation: inv, CreatedAt: now}
	if _, _, err := st.CreateUpgrade(t.Context(), upgrade.Creation{Upgrade: u}); err != nil {
		t.Fatal(err)
	}
	links, err := link.NewSigner(link.StaticKey(make([]byte, 32)), "https://portal.example.net")
	if err != nil {
		t.Fatal(err)
	}
	snd := &Sender{Err: sendErr}
	m, err := notify.NewMailer(notify.Deps{Store: st, Renderer: layout.NewRenderer(), Sender: snd, Links: links,
		Clock: Clock(now.Add(time.Second)), Branding: mail.Branding{OperatorName: "Live Platform"},
		Reminders: upgrade.ReminderPolicy{Offsets: upgrade.DefaultReminderOffsets}})
	if err != nil {
		t.Fatal(err)
	}
	return m, st, snd, inv
}

// Settings is a notify.SettingsReader over a map of operator ids.
type Settings map[string]mail.Settings

// EmailSettings implements notify.SettingsReader.
func (s Settings) EmailSettings(_ context.Context, operatorID string) (mail.Settings, bool, error) {
	v, ok := s[operatorID]
	return v, ok, nil
}

// TestMailer returns a TestMailer of the operator "Live Platform" at a
// fixed time, logging JSON to logs.
func TestMailer(t *testing.T, settings notify.SettingsReader, snd notify.Sender, logs io.Writer) *notify.TestMailer {
	t.Helper()
	tm, err := notify.NewTestMailer(notify.TestMailerDeps{Settings: settings, Renderer: layout.NewRenderer(), Sender: snd,
		Clock: Clock(time.Date(2026, 11, 29, 17, 45, 0, 0, time.UTC)), Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Branding: mail.Branding{OperatorName: "Live Platform"}, PublicBaseURL: "https://portal.example.net", InvitationTTL: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
