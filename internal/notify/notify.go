// Package notify is the invitation mail use case of InvitationEmailFunction:
// it sends each wanted mail of an invitation at most once, records what SES
// made of it, sends the operators' test mails, and serves their email
// settings to the portal API, which only queues test mails.
//
// # Nothing lost, nothing twice
//
// A mail's identity is (invitation id, link generation, kind). Whoever wants
// a mail (the portal on create, resend and regenerate, the sweep for
// reminders) marks it wanted on the invitation and, in the same write,
// puts a request in the table's outbox, which the stream and the pipe carry
// to the bus; the Mailer then:
//
//  1. reads the invitation (strongly consistent) and drops a request that
//     is no longer wanted: a duplicate, a superseded generation, a settled
//     mail, a dead link;
//  2. claims the mail with a conditional write (MailClaim with a lease of
//     upgrade.MailLease): a second delivery of the same event, or a
//     concurrent one, fails the condition and sends nothing;
//  3. sends through SES and settles the mail in one conditional
//     transaction (emailSent, emailSentAt, message id, kind, next due time
//     and a MSG#<id> pointer for delivery events).
//
// Outcomes: SES accepted - settled SENT. Permanent refusal - settled
// FAILED with a readable lastError, no retry. Throttled (after the Sender's
// own backoff) or sending paused - the claim is released and an error
// returned, so EventBridge retries (and the sweep requests the mail again
// after upgrade.MailRequestGrace should the retries run out). Unknown
// outcome (timeout, network error, 5xx) - settled UNKNOWN and never sent
// again automatically: at most one copy, never two; the operator sees
// deliveryStatus UNKNOWN and can resend, and the first reminder still goes
// at its time, which bounds a lost Welcome mail to the first reminder
// offset. The one window for a duplicate is a crash between SES accepting
// and the settle write: the lease then expires and the sweep's re-request
// sends a second copy - at most one extra mail, after at least
// MailRequestGrace.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/ocpro/upgrade/internal/mail"
	"github.com/ocpro/upgrade/internal/metric"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// Store is what the Mailer needs from the store.
type Store interface {
	GetInvitationConsistent(ctx context.Context, id string) (upgrade.Invitation, error)
	GetCustomer(ctx context.Context, operatorID, id string) (upgrade.Customer, error)
	GetUpgrade(ctx context.Context, operatorID, id string) (upgrade.Upgrade, error)
	EmailSettings(ctx context.Context, operatorID string) (mail.Settings, bool, error)
	ClaimMail(ctx context.Context, invitationID string, generation int, kind upgrade.MailKind, now, until time.Time) error
	ReleaseMail(ctx context.Context, invitationID string, generation int, kind upgrade.MailKind) error
	SettleMail(ctx context.Context, after upgrade.Invitation, due time.Time, messageID string) error
	MessageInvitation(ctx context.Context, messageID string) (invitationID string, found bool, err error)
	RecordDelivery(ctx context.Context, invitationID, messageID, status, reason string, at time.Time) error
}

// Renderer renders a mail with an operator's settings.
type Renderer interface {
	RenderWithSettings(inv mail.Invitation, s mail.Settings) (mail.Message, error)
}

// Sender sends a rendered mail and returns the SES message id; its errors
// carry a mail.ErrorKind.
type Sender interface {
	Send(ctx context.Context, to string, msg mail.Message, tags map[string]string) (string, error)
}

// Links derives an invitation's AuthURL.
type Links interface {
	URL(ctx context.Context, invitationID string, generation int) (string, error)
}

// Deps are the Mailer's collaborators. Logger and Reminders are optional.
type Deps struct {
	Store    Store
	Renderer Renderer
	Sender   Sender
	Links    Links
	Clock    upgrade.Clock
	Logger   *slog.Logger
	// Branding is the operator's name and support address as configured.
	Branding  mail.Branding
	Reminders upgrade.ReminderPolicy
}

// Mailer sends invitation mails and records their outcome.
type Mailer struct {
	store  Store
	render Renderer
	send   Sender
	links  Links
	clock  upgrade.Clock
	log    *slog.Logger
	brand  mail.Branding
	policy upgrade.ReminderPolicy
}

// NewMailer checks d and returns a Mailer.
func NewMailer(d Deps) (*Mailer, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("notify: nil Store")
	case d.Renderer == nil:
		return nil, errors.New("notify: nil Renderer")
	case d.Sender == nil:
		return nil, errors.New("notify: nil Sender")
	case d.Links == nil:
		return nil, errors.New("notify: nil Links")
	case d.Clock == nil:
		return nil, errors.New("notify: nil Clock")
	case d.Branding.OperatorName == "":
		return nil, errors.New("notify: empty operator name")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Mailer{store: d.Store, render: d.Renderer, send: d.Sender, links: d.Links, clock: d.Clock,
		log: d.Logger, brand: d.Branding, policy: d.Reminders}, nil
}

// ErrSendLater is wrapped by Deliver's error when nothing was sent and the
// request should be delivered again later (SES throttling or paused).
var ErrSendLater = errors.New("mail not sent, retry later")

// Deliver sends the requested mail unless it was already sent, is being
// sent, or is no longer wanted. A Generation of zero means the invitation's
// current one (Invitation Created carries none). It returns nil when the
// request is settled, whatever its outcome, and an error when it should be
// retried.
func (m *Mailer) Deliver(ctx context.Context, r upgrade.MailRequest) error {
	log := m.log.With("invitationId", r.InvitationID, "mail", string(r.Mail), "generation", r.Generation)
	inv, err := m.store.GetInvitationConsistent(ctx, r.InvitationID)
	if errors.Is(err, upgrade.ErrNotFound) {
		log.WarnContext(ctx, "mail requested for an unknown invitation")
		return nil
	}
	if err != nil {
		return fmt.Errorf("deliver: %w", err)
	}
	if r.Generation == 0 {
		r.Generation = inv.Generation
	}
	now := m.clock.Now().UTC()
	if inv.Generation != r.Generation || inv.MailWanted != r.Mail || !upgrade.InvitationMailable.Contains(inv.Status) || !inv.Live(now) {
		log.InfoContext(ctx, "mail no longer wanted; nothing sent", "wanted", string(inv.MailWanted), "status", string(inv.Status))
		return nil
	}
	if err := m.store.ClaimMail(ctx, inv.ID, r.Generation, r.Mail, now, now.Add(upgrade.MailLease)); errors.Is(err, upgrade.ErrChanged) {
		log.InfoContext(ctx, "mail already sent or being sent; nothing sent")
		return nil
	} else if err != nil {
		return fmt.Errorf("deliver: %w", err)
	}
	msg, err := m.compose(ctx, inv)
	var invalid *mail.InvalidError
	switch {
	case errors.As(err, &invalid):
		// The data cannot make a mail (for example a blank customer name):
		// no retry will fix it.
		return m.settle(ctx, upgrade.MailNotSent(inv, r.Mail, now, upgrade.DeliveryFailed, "The mail could not be written: "+invalid.Error()), "")
	case err != nil:
		return m.release(ctx, inv, r.Mail, fmt.Errorf("deliver: compose: %w", err))
	}
	tags := map[string]string{"invitationId": inv.ID, "generation": strconv.Itoa(inv.Generation), "mail": string(r.Mail)}
	id, err := m.send.Send(ctx, inv.AdminEmail, msg, tags)
	at := m.clock.Now().UTC()
	if err == nil {
		metric.Count(ctx, m.log, metric.MailsSent, 1)
		log.InfoContext(ctx, "mail sent", "messageId", id)
		return m.settle(ctx, upgrade.MailSettled(inv, r.Mail, at), id)
	}
	var se *mail.SendError
	reason := "The mail could not be sent."
	if errors.As(err, &se) {
		reason = se.Message
	}
	switch mail.KindOf(err) {
	case mail.ErrorPermanent:
		metric.Count(ctx, m.log, metric.MailsFailed, 1)
		log.WarnContext(ctx, "SES refused the mail for good", "error", err)
		return m.settle(ctx, upgrade.MailNotSent(inv, r.Mail, at, upgrade.DeliveryFailed, reason), "")
	case mail.ErrorThrottled:
		return m.release(ctx, inv, r.Mail, fmt.Errorf("deliver: %w: %w", ErrSendLater, err))
	case mail.ErrorPaused:
		log.ErrorContext(ctx, "SES sending is paused; invitation mails are held", "alarm", "ses_sending_paused")
		return m.release(ctx, inv, r.Mail, fmt.Errorf("deliver: %w: %w", ErrSendLater, err))
	}
	metric.Count(ctx, m.log, metric.MailsFailed, 1)
	log.WarnContext(ctx, "SES outcome unknown; the mail is not sent again automatically", "error", err)
	return m.settle(ctx, upgrade.MailNotSent(inv, r.Mail, at, upgrade.DeliveryUnknown,
		"SES did not confirm the mail; it may not have been sent. Resend it if the administrator did not get it."), "")
}

// compose renders the mail of inv with the operator's settings.
func (m *Mailer) compose(ctx context.Context, inv upgrade.Invitation) (mail.Message, error) {
	cust, err := m.store.GetCustomer(ctx, inv.OperatorID, inv.CustomerID)
	if err != nil {
		return mail.Message{}, fmt.Errorf("customer: %w", err)
	}
	up, err := m.store.GetUpgrade(ctx, inv.OperatorID, inv.UpgradeID)
	if err != nil {
		return mail.Message{}, fmt.Errorf("upgrade: %w", err)
	}
	set, found, err := m.store.EmailSettings(ctx, inv.OperatorID)
	if err != nil {
		return mail.Message{}, fmt.Errorf("settings: %w", err)
	}
	if !found {
		set = mail.DefaultSettings(m.brand.OperatorName)
	}
	url, err := m.links.URL(ctx, inv.ID, inv.Generation)
	if err != nil {
		return mail.Message{}, fmt.Errorf("link: %w", err)
	}
	kind := mail.KindWelcome
	if n, ok := inv.MailWanted.Reminder(); ok {
		kind = mail.KindReminder1
		if n > 1 {
			kind = mail.KindReminder2
		}
	}
	return m.render.RenderWithSettings(mail.Invitation{Kind: kind, Branding: m.brand, CustomerName: cust.Name,
		ServiceName: up.Service.FullName, AuthURL: url, ExpiresAt: inv.ExpiresAt}, set)
}

// settle records the mail's outcome. Losing the claim means the link was
// regenerated or revoked meanwhile: the outcome belongs to a dead
// generation and is dropped.
func (m *Mailer) settle(ctx context.Context, after upgrade.Invitation, messageID string) error {
	var due time.Time
	if step := m.policy.Next(after); step.Action != upgrade.ActionNone {
		due = step.At
	}
	err := m.store.SettleMail(ctx, after, due, messageID)
	if errors.Is(err, upgrade.ErrChanged) {
		m.log.WarnContext(ctx, "invitation changed while its mail was sent; outcome dropped",
			"invitationId", after.ID, "mail", string(after.LastMailKind))
		return nil
	}
	if err != nil {
		// SES has the mail; retrying would send it twice. The lease keeps
		// the claim until the sweep's grace, which bounds the damage to one
		// extra copy; returning nil here would lose the record but not the
		// mail, so report the error for the alarm and let the retry find
		// the claim held.
		return fmt.Errorf("settle mail of invitation %s: %w", after.ID, err)
	}
	return nil
}

func (m *Mailer) release(ctx context.Context, inv upgrade.Invitation, kind upgrade.MailKind, cause error) error {
	if err := m.store.ReleaseMail(ctx, inv.ID, inv.Generation, kind); err != nil && !errors.Is(err, upgrade.ErrChanged) {
		return errors.Join(cause, fmt.Errorf("release claim: %w", err))
	}
	return cause
}
