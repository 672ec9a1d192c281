package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/mail"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// SettingsStore keeps the operators' email settings.
type SettingsStore interface {
	EmailSettings(ctx context.Context, operatorID string) (mail.Settings, bool, error)
	PutEmailSettings(ctx context.Context, operatorID string, s mail.Settings, now time.Time) error
}

// TestMailRequester publishes an operator's request for a test mail, which
// InvitationEmailFunction sends (bus.Publisher).
type TestMailRequester interface {
	TestMailRequested(ctx context.Context, r TestMail) error
}

// SettingsDeps are the collaborators of Settings. Logger is optional.
type SettingsDeps struct {
	Store    SettingsStore
	Requests TestMailRequester
	Clock    upgrade.Clock
	Logger   *slog.Logger
	// OperatorName names the sender of the default settings.
	OperatorName string
}

// Settings serves the operator's email settings (the guide's "Configuring
// Email Settings") and queues its test mail. It renders and sends nothing,
// so that the portal API links neither a template engine nor SES.
type Settings struct {
	store    SettingsStore
	requests TestMailRequester
	clock    upgrade.Clock
	log      *slog.Logger
	operator string
}

// NewSettings checks d and returns Settings.
func NewSettings(d SettingsDeps) (*Settings, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("notify: nil SettingsStore")
	case d.Requests == nil:
		return nil, errors.New("notify: nil TestMailRequester")
	case d.Clock == nil:
		return nil, errors.New("notify: nil Clock")
	case d.OperatorName == "":
		return nil, errors.New("notify: empty operator name")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Settings{store: d.Store, requests: d.Requests, clock: d.Clock, log: d.Logger, operator: d.OperatorName}, nil
}

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

// RequestTest queues a test mail of the operator's settings to the address
// "to": it validates the address and publishes the request, and
// InvitationEmailFunction renders and sends the mail (TestMailer).
// requestID ties the request to the mail function's log lines. A refused
// address is an Invalid error on the field "to"; a failed publish is
// Transient, since nothing was queued and the operator may try again.
func (s *Settings) RequestTest(ctx context.Context, operatorID, to, requestID string) error {
	if errs := upgrade.ValidateAdminEmail(to); len(errs) > 0 {
		for i := range errs {
			errs[i].Field = "to"
		}
		return fault.InvalidFields(errs...)
	}
	if err := s.requests.TestMailRequested(ctx, TestMail{OperatorID: operatorID, To: to, RequestID: requestID}); err != nil {
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
