package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/ocpro/upgrade/internal/mail"
	"github.com/ocpro/upgrade/internal/metric"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// TestMail is an operator's request for a test mail of its settings, as
// the portal writes it to the outbox.
type TestMail struct {
	OperatorID string
	// To is the address the operator gave; the portal has validated it.
	To string
	// RequestID is the portal request that asked for the mail, so that a
	// support engineer can follow the request into this function's logs.
	RequestID string
}

// SettingsReader reads an operator's saved email settings.
type SettingsReader interface {
	EmailSettings(ctx context.Context, operatorID string) (mail.Settings, bool, error)
}

// TestMailerDeps are the collaborators of a TestMailer. Logger is optional,
// and InvitationTTL defaults to upgrade.DefaultInvitationTTL.
type TestMailerDeps struct {
	Settings SettingsReader
	Renderer Renderer
	Sender   Sender
	Clock    upgrade.Clock
	Logger   *slog.Logger
	Branding mail.Branding
	// PublicBaseURL is where the sample link of a test mail points.
	PublicBaseURL string
	// InvitationTTL dates the sample expiry, so the test mail shows the
	// expiry a customer would see.
	InvitationTTL time.Duration
}

// TestMailer sends the test mails that operators request from the email
// settings page. It runs in InvitationEmailFunction, next to the Mailer,
// so that the portal API links no template engine and no SES client.
type TestMailer struct {
	settings SettingsReader
	render   Renderer
	send     Sender
	clock    upgrade.Clock
	log      *slog.Logger
	brand    mail.Branding
	link     string
	ttl      time.Duration
}

// NewTestMailer checks d and returns a TestMailer.
func NewTestMailer(d TestMailerDeps) (*TestMailer, error) {
	switch {
	case d.Settings == nil:
		return nil, errors.New("notify: nil SettingsReader")
	case d.Renderer == nil:
		return nil, errors.New("notify: nil Renderer")
	case d.Sender == nil:
		return nil, errors.New("notify: nil Sender")
	case d.Clock == nil:
		return nil, errors.New("notify: nil Clock")
	case d.Branding.OperatorName == "":
		return nil, errors.New("notify: empty operator name")
	}
	base, err := url.Parse(d.PublicBaseURL)
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") {
		return nil, fmt.Errorf("notify: public base URL %q is not an absolute http(s) URL", d.PublicBaseURL)
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.InvitationTTL <= 0 {
		d.InvitationTTL = upgrade.DefaultInvitationTTL
	}
	return &TestMailer{settings: d.Settings, render: d.Renderer, send: d.Sender, clock: d.Clock, log: d.Logger,
		brand: d.Branding, link: base.JoinPath("invite", "example").String(), ttl: d.InvitationTTL}, nil
}

// Send renders the operator's Welcome mail (its saved settings, or the
// defaults) with a sample customer and link, marked as a test, and sends
// it to r.To. It returns nil when the request is settled, sent or refused
// for good, and an error wrapping ErrSendLater when SES is throttling or
// paused, so that EventBridge delivers the request again later. An unknown
// outcome (a timeout) is not retried, as for invitation mails: the
// operator sees in its mailbox whether the mail came and can ask again.
func (t *TestMailer) Send(ctx context.Context, r TestMail) error {
	log := t.log.With("operatorId", r.OperatorID, "apiRequestId", r.RequestID, "mail", string(mail.KindTest))
	set, found, err := t.settings.EmailSettings(ctx, r.OperatorID)
	if err != nil {
		return fmt.Errorf("test mail: settings: %w", err)
	}
	if !found {
		set = mail.DefaultSettings(t.brand.OperatorName)
	}
	msg, err := t.render.RenderWithSettings(mail.Invitation{Kind: mail.KindTest, Branding: t.brand,
		CustomerName: "Contoso (example)", ServiceName: "Contoso Teams Calling (example)",
		AuthURL: t.link, ExpiresAt: t.clock.Now().Add(t.ttl)}, set)
	var invalid *mail.InvalidError
	if errors.As(err, &invalid) {
		// Saved settings passed Validate, so only a change in the rules
		// since they were saved gets here; no retry will fix it.
		metric.Count(ctx, t.log, metric.MailsFailed, 1)
		log.ErrorContext(ctx, "test mail not sent: the settings do not render", "error", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("test mail: render: %w", err)
	}
	id, err := t.send.Send(ctx, r.To, msg, map[string]string{"mail": string(mail.KindTest), "operatorId": r.OperatorID})
	if err == nil {
		metric.Count(ctx, t.log, metric.MailsSent, 1)
		log.InfoContext(ctx, "test mail sent", "messageId", id)
		return nil
	}
	reason := "The mail could not be sent."
	var se *mail.SendError
	if errors.As(err, &se) {
		reason = se.Message
	}
	switch mail.KindOf(err) {
	case mail.ErrorPermanent:
		// There is no invitation to record the refusal on: the log and
		// the metric are where the operator's support finds it.
		metric.Count(ctx, t.log, metric.MailsFailed, 1)
		log.WarnContext(ctx, "SES refused the test mail for good", "reason", reason, "error", err)
		return nil
	case mail.ErrorThrottled:
		return fmt.Errorf("test mail: %w: %w", ErrSendLater, err)
	case mail.ErrorPaused:
		log.ErrorContext(ctx, "SES sending is paused; the test mail is held", "alarm", "ses_sending_paused")
		return fmt.Errorf("test mail: %w: %w", ErrSendLater, err)
	}
	metric.Count(ctx, t.log, metric.MailsFailed, 1)
	log.WarnContext(ctx, "SES outcome of the test mail unknown; not sent again automatically", "error", err)
	return nil
}
