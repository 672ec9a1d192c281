package event

import "time"

// The events AWS sends the service, in AWS's shape.
const (
	// SourceSES is the source of the SES events a configuration set's
	// EventBridge destination puts on the default bus.
	SourceSES = "aws.ses"
	// DetailTypeScheduled is the detail type of a schedule's event.
	DetailTypeScheduled = "Scheduled Event"
)

// SESDetail is the part of an SES event's detail that the service reads:
// the message and what happened to it. The shape is AWS's (the "Email
// Delivered", "Email Bounced", ... events of the SES event destination);
// the samples in events/invitationemail are of this shape.
type SESDetail struct {
	// EventType is Delivery, Bounce, Complaint, Reject, Rendering Failure,
	// DeliveryDelay, or an event the service does not act on (Send, Open,
	// Click).
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
