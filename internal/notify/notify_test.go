package notify_test

import (
	"context"
	"errors"
	"fmt"
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

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// faultSender is an SES stand-in that fails with the injected error, or
// accepts and counts.
type faultSender struct {
	mu   sync.Mutex
	err  error
	sent []string
}

func (f *faultSender) Send(_ context.Context, to string, _ mail.Message, _ map[string]string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	f.sent = append(f.sent, to)
	return fmt.Sprintf("msg-%d", len(f.sent)), nil
}

func setup(t *testing.T, sendErr error) (*notify.Mailer, *store.Store, *faultSender, upgrade.Invitation) {
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
	r := layout.NewRenderer()
	snd := &faultSender{err: sendErr}
	m, err := notify.NewMailer(notify.Deps{Store: st, Renderer: r, Sender: snd, Links: links, Clock: fixedClock(now.Add(time.Second)),
		Branding: mail.Branding{OperatorName: "Live Platform"}, Reminders: upgrade.ReminderPolicy{Offsets: upgrade.DefaultReminderOffsets}})
	if err != nil {
		t.Fatal(err)
	}
	return m, st, snd, inv
}

// TestDeliverByErrorKind drives every SES outcome through the use case:
// what is recorded, whether the event is retried, and whether the mail is
// still wanted afterwards.
func TestDeliverByErrorKind(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		wantRetry  bool
		wantStatus string
		wantSent   bool
		wantWanted upgrade.MailKind
	}{
		{"accepted", nil, false, upgrade.DeliverySent, true, ""},
		{"permanent", &mail.SendError{Kind: mail.ErrorPermanent, Code: "MessageRejected", Message: "Email address is not verified."},
			false, upgrade.DeliveryFailed, false, ""},
		{"throttled", &mail.SendError{Kind: mail.ErrorThrottled, Code: "TooManyRequestsException", Message: "Maximum sending rate exceeded."},
			true, "", false, upgrade.MailWelcome},
		{"paused", &mail.SendError{Kind: mail.ErrorPaused, Code: "SendingPausedException", Message: "Sending is paused."},
			true, "", false, upgrade.MailWelcome},
		{"unknown", &mail.SendError{Kind: mail.ErrorUnknown, Code: "RequestTimeout", Message: "timeout"},
			false, upgrade.DeliveryUnknown, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, st, _, inv := setup(t, tt.err)
			err := m.Deliver(t.Context(), upgrade.MailRequest{InvitationID: inv.ID, Mail: upgrade.MailWelcome})
			if (err != nil) != tt.wantRetry {
				t.Fatalf("Deliver() = %v, want retry %v", err, tt.wantRetry)
			}
			if tt.wantRetry && !errors.Is(err, notify.ErrSendLater) {
				t.Errorf("Deliver() = %v, want ErrSendLater", err)
			}
			got, err := st.GetInvitationConsistent(t.Context(), inv.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.DeliveryStatus != tt.wantStatus || got.EmailSent != tt.wantSent || got.MailWanted != tt.wantWanted {
				t.Errorf("invitation status=%q sent=%v wanted=%q, want %q %v %q", got.DeliveryStatus, got.EmailSent, got.MailWanted,
					tt.wantStatus, tt.wantSent, tt.wantWanted)
			}
			if tt.wantStatus == upgrade.DeliveryFailed && got.LastError == "" {
				t.Error("a permanent failure left no lastError")
			}
			if tt.wantRetry {
				// The claim was released: the retry may claim it at once.
				if err := st.ClaimMail(t.Context(), inv.ID, 1, upgrade.MailWelcome, time.Now(), time.Now().Add(time.Minute)); err != nil {
					t.Errorf("claim after release: %v", err)
				}
			}
		})
	}
}

// TestDuplicateRequestsSendOnce delivers the same request concurrently and
// again afterwards: one mail.
func TestDuplicateRequestsSendOnce(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	m, st, snd, inv := setup(t, nil)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if err := m.Deliver(t.Context(), upgrade.MailRequest{InvitationID: inv.ID, Mail: upgrade.MailWelcome}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := m.Deliver(t.Context(), upgrade.MailRequest{InvitationID: inv.ID, Generation: 1, Mail: upgrade.MailWelcome}); err != nil {
		t.Fatal(err)
	}
	if len(snd.sent) != 1 {
		t.Fatalf("sent %d mails, want 1", len(snd.sent))
	}
	// Delivery reports: a bounce of the mail is recorded, an older
	// delivery report after it is not.
	got, _ := st.GetInvitationConsistent(t.Context(), inv.ID)
	at := got.LastMailAt
	for _, d := range []notify.Delivery{
		{MessageID: "msg-1", Status: upgrade.DeliveryBounced, Reason: "Permanent bounce (General)", At: at.Add(2 * time.Second)},
		{MessageID: "msg-1", Status: upgrade.DeliveryDelivered, At: at.Add(time.Second)},
		{MessageID: "msg-unknown", Status: upgrade.DeliveryDelivered, At: at.Add(3 * time.Second)},
	} {
		if err := m.RecordDelivery(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	got, _ = st.GetInvitationConsistent(t.Context(), inv.ID)
	if got.DeliveryStatus != upgrade.DeliveryBounced || got.LastError == "" {
		t.Errorf("after reports: status %q lastError %q, want BOUNCED with the diagnostic", got.DeliveryStatus, got.LastError)
	}
}
