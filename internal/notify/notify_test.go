package notify_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ocpro/upgrade/infra/testenv"
	"github.com/ocpro/upgrade/internal/mail"
	"github.com/ocpro/upgrade/internal/notify"
	"github.com/ocpro/upgrade/internal/notify/notifytest"
	"github.com/ocpro/upgrade/internal/upgrade"
)

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
			m, st, _, inv := notifytest.Setup(t, tt.err)
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
	m, st, snd, inv := notifytest.Setup(t, nil)
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
	if len(snd.To()) != 1 {
		t.Fatalf("sent %d mails, want 1", len(snd.To()))
	}
	// Delivery reports: a bounce of the mail is recorded, an older
	// delivery report after it is not.
	got, err := st.GetInvitationConsistent(t.Context(), inv.ID)
	if err != nil {
		t.Fatal(err)
	}
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
	if got, err = st.GetInvitationConsistent(t.Context(), inv.ID); err != nil {
		t.Fatal(err)
	}
	if got.DeliveryStatus != upgrade.DeliveryBounced || got.LastError == "" {
		t.Errorf("after reports: status %q lastError %q, want BOUNCED with the diagnostic", got.DeliveryStatus, got.LastError)
	}
}
