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

// SettingsDeps are the collaborators of Settings. Logger is optional.
type SettingsDeps struct {
	Store    SettingsStore
	Renderer Renderer
	Sender   Sender
	Clock    upgrade.Clock
	Logger   *slog.Logger
	Branding mail.Branding
	// PublicBaseURL is where the sample link of a test mail points.
	PublicBaseURL string
	// InvitationTTL dates the sample expiry of a test mail.
	InvitationTTL time.Duration
}

// Settings serves the operator's email settings (the guide's "Configuring
// Email Settings") and its test mail.
type Settings struct {
	store  SettingsStore
	render Renderer
	send   Sender
	clock  upgrade.Clock
	log    *slog.Logger
	brand  mail.Branding
	base   string
	ttl    time.Duration
}

// NewSettings checks d and returns Settings.
func NewSettings(d SettingsDeps) (*Settings, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("notify: nil SettingsStore")
	case d.Renderer == nil:
		return nil, errors.New("notify: nil Renderer")
	case d.Sender == nil:
		return nil, errors.New("notify: nil Sender")
	case d.Clock == nil:
		return nil, errors.New("notify: nil Clock")
	case d.Branding.OperatorName == "":
		return nil, errors.New("notify: empty operator name")
	case d.PublicBaseURL == "":
		return nil, errors.New("notify: empty public base URL")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.InvitationTTL <= 0 {
		d.InvitationTTL = upgrade.DefaultInvitationTTL
	}
	return &Settings{store: d.Store, render: d.Renderer, send: d.Sender, clock: d.Clock, log: d.Logger,
		brand: d.Branding, base: d.PublicBaseURL, ttl: d.InvitationTTL}, nil
}

// Get returns the operator's settings, or the defaults until it saves its
// own.
func (s *Settings) Get(ctx context.Context, operatorID string) (mail.Settings, error) {
	set, found, err := s.store.EmailSettings(ctx, operatorID)
	if err != nil {
		return mail.Settings{}, fmt.Errorf("get email settings: %w", err)
	}
	if !found {
		return mail.DefaultSettings(s.brand.OperatorName), nil
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

// SendTest sends the operator's Welcome mail, with sample customer and
// link, to the address "to", so the operator can check its settings.
func (s *Settings) SendTest(ctx context.Context, operatorID, to string) error {
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
	msg, err := s.render.RenderWithSettings(mail.Invitation{Kind: mail.KindTest, Branding: s.brand,
		CustomerName: "Contoso (example)", ServiceName: "Contoso Teams Calling (example)",
		AuthURL: s.base + "/invite/example", ExpiresAt: s.clock.Now().Add(s.ttl)}, set)
	if err != nil {
		return fmt.Errorf("render test mail: %w", err)
	}
	_, err = s.send.Send(ctx, to, msg, map[string]string{"mail": string(mail.KindTest), "operatorId": operatorID})
	if err == nil {
		s.log.InfoContext(ctx, "test mail sent", "operatorId", operatorID)
		return nil
	}
	var se *mail.SendError
	detail := "The test mail could not be sent."
	if errors.As(err, &se) {
		detail = se.Message
	}
	if mail.KindOf(err) == mail.ErrorPermanent {
		return &fault.Error{Kind: fault.Unprocessable, Detail: detail, Err: err}
	}
	return fault.Transient(err, "Mail cannot be sent right now; try again shortly.")
}

// invalid turns the mail package's field errors into an Invalid fault.
func invalid(errs []mail.FieldError) error {
	out := make([]fault.FieldError, 0, len(errs))
	for _, e := range errs {
		out = append(out, fault.FieldError{Field: e.Field, Code: e.Code, Message: e.Message})
	}
	return fault.InvalidFields(out...)
}
