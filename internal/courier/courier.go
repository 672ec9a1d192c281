// Package courier is the glue of InvitationEmailFunction: it turns the
// EventBridge events of the function's two rules into calls of the mail use
// case (internal/notify). InvitationMail brings Invitation Created,
// Invitation Mail Requested and Test Mail Requested from the service's bus;
// MailDelivery brings SES's delivery events from the default bus. Each
// event id is served once.
package courier

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/internal/event"
	"github.com/ocpro/upgrade/internal/notify"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// Mailer is what the handler needs from the invitation mail use case
// (notify.Mailer).
type Mailer interface {
	Deliver(ctx context.Context, r upgrade.MailRequest) error
	RecordDelivery(ctx context.Context, d notify.Delivery) error
}

// TestMailer sends an operator's test mail (notify.TestMailer).
type TestMailer interface {
	Send(ctx context.Context, r notify.TestMail) error
}

// Once runs work at most once per key (internal/idempotency's Guard).
type Once interface {
	Run(ctx context.Context, scope, key string, payload []byte, work func(context.Context) error) error
}

// IdempotencyScope is the scope of the handler's idempotency records.
const IdempotencyScope = "InvitationEmail"

// The events of the InvitationMail rule.
var (
	created   = event.InvitationCreated{}.Type()
	requested = event.InvitationMailRequested{}.Type()
	testMail  = event.TestMailRequested{}.Type()
)

// Handler turns EventBridge events into Mailer calls. Its errors make
// EventBridge retry and, in the end, dead-letter the event.
type Handler struct {
	mails Mailer
	tests TestMailer
	once  Once
	log   *slog.Logger
}

// Option configures a Handler.
type Option func(*Handler)

// WithOnce makes the handler serve each event id once: EventBridge delivers
// at least once, so a redelivered event that was already served is
// acknowledged without work, and one that is being served right now fails
// so that EventBridge tries it again later.
func WithOnce(o Once) Option { return func(h *Handler) { h.once = o } }

// WithTestMailer serves Test Mail Requested with t. Without it such events
// are logged as unexpected and dropped.
func WithTestMailer(t TestMailer) Option { return func(h *Handler) { h.tests = t } }

// WithLogger sets the handler's logger (slog.Default otherwise).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// New returns a Handler for m.
func New(m Mailer, opts ...Option) (*Handler, error) {
	if m == nil {
		return nil, errors.New("courier: nil Mailer")
	}
	h := &Handler{mails: m, log: slog.Default()}
	for _, o := range opts {
		o(h)
	}
	if h.log == nil {
		return nil, errors.New("courier: nil logger")
	}
	return h, nil
}

// Handle serves one event. An event the handler does not act on is logged
// and dropped before the idempotency record, which would cost a write and
// a round trip for nothing.
func (h *Handler) Handle(ctx context.Context, e events.CloudWatchEvent) error {
	serve := h.route(e)
	if serve == nil {
		h.log.WarnContext(ctx, "unexpected event ignored", "source", e.Source, "detailType", e.DetailType)
		return nil
	}
	// The outbox may deliver one event twice, in two envelopes with two
	// ids: the detail's eventId is the event's own.
	key := event.IdempotencyKey(e.Source, e.ID, e.Detail)
	if h.once == nil || key == "" {
		return serve(ctx, e)
	}
	payload := append([]byte(e.Source+"\n"+e.DetailType+"\n"), e.Detail...)
	return h.once.Run(ctx, IdempotencyScope, key, payload, func(ctx context.Context) error { return serve(ctx, e) })
}

// route picks what serves e from its source and detail type alone, or nil.
func (h *Handler) route(e events.CloudWatchEvent) func(context.Context, events.CloudWatchEvent) error {
	switch {
	case created.Is(e.Source, e.DetailType):
		return h.invitationCreated
	case requested.Is(e.Source, e.DetailType):
		return h.mailRequested
	case testMail.Is(e.Source, e.DetailType) && h.tests != nil:
		return h.testMailRequested
	case e.Source == event.SourceSES:
		return h.sesEvent
	}
	return nil
}

// decode reads e's detail into d. An error is for the handler to return:
// a detail of a schema version this build does not read is retried, since
// the deployment of a newer receiver may be under way. ok is false, with a
// nil error, for a detail that will never decode: it is logged and dropped.
func (h *Handler) decode(ctx context.Context, e events.CloudWatchEvent, d event.Detail) (ok bool, err error) {
	err = event.Decode(e.Detail, d)
	if errors.Is(err, event.ErrVersion) {
		h.log.WarnContext(ctx, "event of an unknown schema version; EventBridge retries it", "eventId", e.ID, "error", err)
		return false, err
	}
	if err != nil {
		h.log.ErrorContext(ctx, "undecodable event dropped", "eventId", e.ID, "detailType", e.DetailType)
		return false, nil
	}
	return true, nil
}

// invitationCreated asks for the Welcome mail of the invitation's current
// generation.
func (h *Handler) invitationCreated(ctx context.Context, e events.CloudWatchEvent) error {
	var d event.InvitationCreated
	if ok, err := h.decode(ctx, e, &d); !ok {
		return err
	}
	return h.deliver(ctx, e, upgrade.MailRequest{InvitationID: d.InvitationID, OperatorID: d.OperatorID, Mail: upgrade.MailWelcome})
}

func (h *Handler) mailRequested(ctx context.Context, e events.CloudWatchEvent) error {
	var d event.InvitationMailRequested
	if ok, err := h.decode(ctx, e, &d); !ok {
		return err
	}
	return h.deliver(ctx, e, upgrade.MailRequest{InvitationID: d.InvitationID, OperatorID: d.OperatorID,
		Generation: d.Generation, Mail: upgrade.MailKind(d.Mail)})
}

// deliver hands r to the use case, unless it names no invitation or no
// kind of mail: such a request will never be served, so it is logged and
// dropped.
func (h *Handler) deliver(ctx context.Context, e events.CloudWatchEvent, r upgrade.MailRequest) error {
	if r.InvitationID == "" {
		h.log.ErrorContext(ctx, "mail request without invitation dropped", "eventId", e.ID, "detailType", e.DetailType)
		return nil
	}
	if !r.Mail.Valid() {
		h.log.ErrorContext(ctx, "mail request of unknown kind dropped", "eventId", e.ID, "mail", string(r.Mail))
		return nil
	}
	return h.mails.Deliver(ctx, r)
}

func (h *Handler) testMailRequested(ctx context.Context, e events.CloudWatchEvent) error {
	var d event.TestMailRequested
	if ok, err := h.decode(ctx, e, &d); !ok {
		return err
	}
	if d.OperatorID == "" || d.To == "" {
		h.log.ErrorContext(ctx, "test mail request without operator or recipient dropped", "eventId", e.ID)
		return nil
	}
	return h.tests.Send(ctx, notify.TestMail{OperatorID: d.OperatorID, To: d.To, RequestID: d.RequestID})
}

func (h *Handler) sesEvent(ctx context.Context, e events.CloudWatchEvent) error {
	d, ok := delivery(e)
	if !ok {
		h.log.WarnContext(ctx, "SES event without a status for invitations ignored", "eventId", e.ID, "detailType", e.DetailType)
		return nil
	}
	return h.mails.RecordDelivery(ctx, d)
}

// delivery maps an SES event to a Delivery; ok is false for events that
// do not change a delivery status (Send, Open, Click) or do not decode.
func delivery(e events.CloudWatchEvent) (d notify.Delivery, ok bool) {
	var s event.SESDetail
	if err := json.Unmarshal(e.Detail, &s); err != nil || s.Mail.MessageID == "" {
		return notify.Delivery{}, false
	}
	d = notify.Delivery{MessageID: s.Mail.MessageID, At: e.Time.UTC()}
	at := func(t time.Time) {
		if !t.IsZero() {
			d.At = t.UTC()
		}
	}
	switch {
	case s.EventType == "Delivery" && s.Delivery != nil:
		d.Status = upgrade.DeliveryDelivered
		at(s.Delivery.Timestamp)
	case s.EventType == "Bounce" && s.Bounce != nil:
		d.Status = upgrade.DeliverySoftBounced
		kind := "Temporary"
		if s.Bounce.BounceType == "Permanent" {
			d.Status, kind = upgrade.DeliveryBounced, "Permanent"
		}
		d.Reason = kind + " bounce (" + s.Bounce.BounceSubType + ")"
		if len(s.Bounce.BouncedRecipients) > 0 && s.Bounce.BouncedRecipients[0].DiagnosticCode != "" {
			d.Reason += ": " + s.Bounce.BouncedRecipients[0].DiagnosticCode
		}
		at(s.Bounce.Timestamp)
	case s.EventType == "Complaint" && s.Complaint != nil:
		d.Status = upgrade.DeliveryComplained
		d.Reason = "The recipient marked the mail as spam."
		at(s.Complaint.Timestamp)
	case s.EventType == "Reject":
		d.Status = upgrade.DeliveryRejected
		d.Reason = "SES rejected the mail"
		if s.Reject != nil && s.Reject.Reason != "" {
			d.Reason += ": " + s.Reject.Reason
		}
	case s.EventType == "Rendering Failure":
		d.Status = upgrade.DeliveryFailed
		d.Reason = "SES could not render the mail"
		if s.Failure != nil && s.Failure.ErrorMessage != "" {
			d.Reason += ": " + s.Failure.ErrorMessage
		}
	case s.EventType == "DeliveryDelay" && s.DeliveryDelay != nil:
		d.Status = upgrade.DeliveryDelayed
		d.Reason = "Delivery delayed (" + s.DeliveryDelay.DelayType + ")"
		if len(s.DeliveryDelay.DelayedRecipients) > 0 && s.DeliveryDelay.DelayedRecipients[0].DiagnosticCode != "" {
			d.Reason += ": " + s.DeliveryDelay.DelayedRecipients[0].DiagnosticCode
		}
		at(s.DeliveryDelay.Timestamp)
	default:
		return notify.Delivery{}, false
	}
	d.Reason = strings.TrimSpace(d.Reason)
	if len(d.Reason) > 500 {
		d.Reason = d.Reason[:500]
	}
	return d, true
}
