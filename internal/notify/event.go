package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// The events InvitationEmailFunction takes (template.yaml rules
// InvitationMail and MailDelivery).
const (
	SourceUpgrades                    = "ocpro.upgrades"
	SourceSES                         = "aws.ses"
	DetailTypeInvitationCreated       = "Invitation Created"
	DetailTypeInvitationMailRequested = "Invitation Mail Requested"
	DetailTypeTestMailRequested       = "Test Mail Requested"
)

// EventHandler turns EventBridge events into Mailer calls. Its errors make
// EventBridge retry and, in the end, dead-letter the event.
type EventHandler struct {
	mailer *Mailer
	tests  *TestMailer
	once   Once
}

// Once runs work at most once per key (internal/idempotency's Guard).
type Once interface {
	Run(ctx context.Context, scope, key string, payload []byte, work func(context.Context) error) error
}

// IdempotencyScope is the scope of the handler's idempotency records.
const IdempotencyScope = "InvitationEmail"

// HandlerOption configures an EventHandler.
type HandlerOption func(*EventHandler)

// WithOnce makes the handler serve each event id once: EventBridge delivers
// at least once, so a redelivered event that was already served is
// acknowledged without work, and one that is being served right now fails
// so that EventBridge tries it again later.
func WithOnce(o Once) HandlerOption { return func(h *EventHandler) { h.once = o } }

// WithTestMailer serves Test Mail Requested with t. Without it such events
// are logged as unexpected and dropped.
func WithTestMailer(t *TestMailer) HandlerOption { return func(h *EventHandler) { h.tests = t } }

// NewEventHandler returns an EventHandler for m.
func NewEventHandler(m *Mailer, opts ...HandlerOption) (*EventHandler, error) {
	if m == nil {
		return nil, fmt.Errorf("notify: nil Mailer")
	}
	h := &EventHandler{mailer: m}
	for _, o := range opts {
		o(h)
	}
	return h, nil
}

// mailRequestDetail is the detail of Invitation Created and Invitation
// Mail Requested; Invitation Created carries neither mail nor generation
// and means the Welcome mail of the current generation.
type mailRequestDetail struct {
	InvitationID string `json:"invitationId"`
	OperatorID   string `json:"operatorId"`
	Generation   int    `json:"generation"`
	Mail         string `json:"mail"`
}

// testMailDetail is the detail of Test Mail Requested.
type testMailDetail struct {
	OperatorID string `json:"operatorId"`
	To         string `json:"to"`
	RequestID  string `json:"requestId"`
}

// sesDetail is the part of an SES event (as SES publishes it to
// EventBridge) that the handler reads.
type sesDetail struct {
	EventType string `json:"eventType"`
	Mail      struct {
		MessageID string `json:"messageId"`
	} `json:"mail"`
	Bounce *struct {
		BounceType        string    `json:"bounceType"`
		BounceSubType     string    `json:"bounceSubType"`
		Timestamp         time.Time `json:"timestamp"`
		BouncedRecipients []struct {
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Delivery *struct {
		Timestamp time.Time `json:"timestamp"`
	} `json:"delivery"`
	Complaint *struct {
		Timestamp             time.Time `json:"timestamp"`
		ComplaintFeedbackType string    `json:"complaintFeedbackType"`
	} `json:"complaint"`
	Reject *struct {
		Reason string `json:"reason"`
	} `json:"reject"`
	DeliveryDelay *struct {
		Timestamp         time.Time `json:"timestamp"`
		DelayType         string    `json:"delayType"`
		DelayedRecipients []struct {
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"delayedRecipients"`
	} `json:"deliveryDelay"`
	Failure *struct {
		ErrorMessage string `json:"errorMessage"`
	} `json:"failure"`
}

// Handle serves one event. An event the handler does not act on is logged
// and dropped before the idempotency record, which would cost a write and
// a round trip for nothing.
func (h *EventHandler) Handle(ctx context.Context, e events.CloudWatchEvent) error {
	route := h.route(e)
	if route == routeNone {
		h.mailer.log.WarnContext(ctx, "unexpected event ignored", "source", e.Source, "detailType", e.DetailType)
		return nil
	}
	if h.once == nil || e.ID == "" {
		return h.handle(ctx, route, e)
	}
	payload := append([]byte(e.Source+"\n"+e.DetailType+"\n"), e.Detail...)
	return h.once.Run(ctx, IdempotencyScope, e.ID, payload, func(ctx context.Context) error { return h.handle(ctx, route, e) })
}

// eventRoute is what the handler does with an event.
type eventRoute int

const (
	routeNone eventRoute = iota
	routeMail
	routeTestMail
	routeSES
)

// route picks what to do with e from its source and detail type alone.
func (h *EventHandler) route(e events.CloudWatchEvent) eventRoute {
	switch {
	case e.Source == SourceUpgrades && (e.DetailType == DetailTypeInvitationCreated || e.DetailType == DetailTypeInvitationMailRequested):
		return routeMail
	case e.Source == SourceUpgrades && e.DetailType == DetailTypeTestMailRequested && h.tests != nil:
		return routeTestMail
	case e.Source == SourceSES:
		return routeSES
	}
	return routeNone
}

// handle serves one routed event without the idempotency record.
func (h *EventHandler) handle(ctx context.Context, route eventRoute, e events.CloudWatchEvent) error {
	switch route {
	case routeMail:
		var d mailRequestDetail
		if err := json.Unmarshal(e.Detail, &d); err != nil || d.InvitationID == "" {
			// A malformed event will never decode: say so and drop it.
			h.mailer.log.ErrorContext(ctx, "undecodable mail request dropped", "eventId", e.ID, "detailType", e.DetailType)
			return nil
		}
		kind := upgrade.MailKind(d.Mail)
		if e.DetailType == DetailTypeInvitationCreated {
			kind, d.Generation = upgrade.MailWelcome, 0
		}
		if !kind.Valid() {
			h.mailer.log.ErrorContext(ctx, "mail request of unknown kind dropped", "eventId", e.ID, "mail", d.Mail)
			return nil
		}
		return h.mailer.Deliver(ctx, upgrade.MailRequest{InvitationID: d.InvitationID, OperatorID: d.OperatorID,
			Generation: d.Generation, Mail: kind})
	case routeTestMail:
		var d testMailDetail
		if err := json.Unmarshal(e.Detail, &d); err != nil || d.OperatorID == "" || d.To == "" {
			h.mailer.log.ErrorContext(ctx, "undecodable test mail request dropped", "eventId", e.ID)
			return nil
		}
		return h.tests.Send(ctx, TestMail(d))
	case routeSES:
		d, ok := decodeSES(e)
		if !ok {
			h.mailer.log.WarnContext(ctx, "SES event without a status for invitations ignored", "eventId", e.ID, "detailType", e.DetailType)
			return nil
		}
		return h.mailer.RecordDelivery(ctx, d)
	}
	return nil
}

// decodeSES maps an SES event to a Delivery; ok is false for events that
// do not change a delivery status (Send, Open, Click) or do not decode.
func decodeSES(e events.CloudWatchEvent) (d Delivery, ok bool) {
	var s sesDetail
	if err := json.Unmarshal(e.Detail, &s); err != nil || s.Mail.MessageID == "" {
		return Delivery{}, false
	}
	d = Delivery{MessageID: s.Mail.MessageID, At: e.Time.UTC()}
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
		return Delivery{}, false
	}
	d.Reason = strings.TrimSpace(d.Reason)
	if len(d.Reason) > 500 {
		d.Reason = d.Reason[:500]
	}
	return d, true
}
