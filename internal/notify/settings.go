package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/mail"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// SettingsStore keeps the operators' email settings.
type SettingsStore interface {
	EmailSettings(ctx context.Context, operatorID string) (mail.Settings, bool, error)
	PutEmailSettings(ctx context.Context, operatorID string, s mail.Settings, now time.Time) error
}

// Outbox takes an event that changes no state, the request for a test
// mail, which InvitationEmailFunction sends: the store writes it to its
// outbox alone, and the table's stream carries it to the bus like every
// other event (store.Store.PutEvent).
type Outbox interface {
	PutEvent(ctx context.Context, m event.Message) error
}

// TestMailRequestedEvent asks for the test mail r.
func TestMailRequestedEvent(r TestMail) event.Detail {
	return &event.TestMailRequested{OperatorID: r.OperatorID, To: r.To, RequestID: r.RequestID}
}

// TestMailLimit counts an operator's test mails and refuses one beyond its
// share with a TooManyRequests fault (quota.Limiter).
type TestMailLimit interface {
	Take(ctx context.Context, operatorID string) error
}

// SettingsDeps are the collaborators of Settings. Logger is optional.
type SettingsDeps struct {
	Store     SettingsStore
	Outbox    Outbox
	TestMails TestMailLimit
	Clock     upgrade.Clock
	Logger    *slog.Logger
	// OperatorName names the sender of the default settings.
	OperatorName string
}

// Settings serves the operator's email settings (the guide's "Configuring
// Email Settings") and queues its test mail. It renders and sends nothing,
// so that the portal API links neither a template engine nor SES.
type Settings struct {
	store    SettingsStore
	outbox   Outbox
	limit    TestMailLimit
	clock    upgrade.Clock
	log      *slog.Logger
	operator string
}

// NewSettings checks d and returns Settings.
func NewSettings(d SettingsDeps) (*Settings, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("notify: nil SettingsStore")
	case d.Outbox == nil:
		return nil, errors.New("notify: nil Outbox")
	case d.TestMails == nil:
		return nil, errors.New("notify: nil TestMailLimit")
	case d.Clock == nil:
		return nil, errors.New("notify: nil Clock")
	case d.OperatorName == "":
		return nil, errors.New("notify: empty operator name")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Settings{store: d.Store, outbox: d.Outbox, limit: d.TestMails, clock: d.Clock, log: d.Logger, operator: d.OperatorName}, nil
}

// FromName is the From display name of every mail: the deployment's
// operator name, never a setting (layout.Renderer signs with it).
func (s *Settings) FromName() string { return s.operator }

// Get returns the operator's settings, or the defaults until it saves its
// own.
func (s *Settings) Get(ctx context.Context, operatorID string) (mail.Settings, error) {
	set, found, err := s.store.EmailSettings(ctx, operatorID)
	if err != nil {
		return mail.Settings{}, fmt.Errorf("get email settings: %w", err)
	}
	if !found {
		return mail.DefaultSettings(s.operator), nil
	}
	return set, nil
}

// Put validates and saves the operator's settings. A refused field (no
// link placeholder, a template that does not render) is an Invalid error
// naming the field and the reason.
func (s *Settings) Put(ctx context.Context, operatorID string, set mail.Settings) (mail.Settings, error) {
	if err := invalid(set.Validate()); err != nil {
		return mail.Settings{}, err
	}
	if err := s.store.PutEmailSettings(ctx, operatorID, set, s.clock.Now()); err != nil {
		return mail.Settings{}, fmt.Errorf("put email settings: %w", err)
	}
	return set, nil
}

// CodeRecipientNotAllowed refuses a test mail to an address that is
// neither the staff member's own nor one of the operator's test recipients.
const CodeRecipientNotAllowed = "recipient_not_allowed"

// RequestTest queues a test mail of the operator's settings to the address
// "to": it validates the address, checks that it may receive test mails
// (mail.Settings.MayReceiveTest; staff is the address of the staff member
// who asks, from its sign-in), counts the mail against the operator's
// share and writes Test Mail Requested to the outbox, and
// InvitationEmailFunction renders and sends the mail (TestMailer).
// requestID ties the request to the mail function's log lines. A
// malformed address is an Invalid error on the field "to", one that may
// not receive test mails Unprocessable; beyond the share it is
// TooManyRequests with the wait; a failed write is Transient, since
// nothing was queued and the operator may try again.
func (s *Settings) RequestTest(ctx context.Context, operatorID, staff, to, requestID string) error {
	if errs := upgrade.ValidateAdminEmail(to); len(errs) > 0 {
		for i := range errs {
			errs[i].Field = "to"
		}
		return fault.InvalidFields(errs...)
	}
	set, err := s.Get(ctx, operatorID)
	if err != nil {
		return err
	}
	if !set.MayReceiveTest(to, staff) {
		return fault.Field(fault.Unprocessable, "to", CodeRecipientNotAllowed,
			"A test mail goes only to your own address or to one of the test recipients in the email settings.")
	}
	if err := s.limit.Take(ctx, operatorID); err != nil {
		return err
	}
	m, err := event.NewMessage(TestMailRequestedEvent(TestMail{OperatorID: operatorID, To: to, RequestID: requestID}))
	if err != nil {
		return fmt.Errorf("request test mail: %w", err)
	}
	if err := s.outbox.PutEvent(ctx, m); err != nil {
		return fault.Transient(fmt.Errorf("request test mail: %w", err), "The test mail cannot be queued right now; try again shortly.")
	}
	s.log.InfoContext(ctx, "test mail requested", "operatorId", operatorID, "apiRequestId", requestID)
	return nil
}

// invalid turns the mail package's field errors into an Invalid fault.
func invalid(errs []mail.FieldError) error {
	out := make([]fault.FieldError, 0, len(errs))
	for _, e := range errs {
		out = append(out, fault.FieldError{Field: e.Field, Code: e.Code, Message: e.Message})
	}
	return fault.InvalidFields(out...)
}
