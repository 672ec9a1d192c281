package api

import (
	"context"
	"net/http"

	"github.com/ocpro/upgrade/internal/mail"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// InvitationActions are the operator's actions in Security > Customer
// Invitations.
type InvitationActions interface {
	Resend(ctx context.Context, operatorID, id string) (upgrade.Invitation, error)
	Regenerate(ctx context.Context, operatorID, id string) (upgrade.Invitation, error)
	Revoke(ctx context.Context, operatorID, id string) (upgrade.Invitation, error)
}

// EmailSettings serves the operator's invitation mail settings.
type EmailSettings interface {
	Get(ctx context.Context, operatorID string) (mail.Settings, error)
	Put(ctx context.Context, operatorID string, s mail.Settings) (mail.Settings, error)
	// RequestTest queues a test mail to "to" for the staff member whose
	// own address is staff (empty when its token names none); the mail
	// function sends it.
	RequestTest(ctx context.Context, operatorID, staff, to, requestID string) error
	// FromName is the From display name of every mail, which no setting
	// changes.
	FromName() string
}

// settingsBody is the settings as the portal reads them, with the From
// name the mails go out under, so that a preview shows the mail as sent.
type settingsBody struct {
	mail.Settings
	FromName string `json:"fromName"`
}

// Option adds an optional part of the portal API to a Handler; routes whose
// part is missing answer 501.
type Option func(*Handler)

// WithInvitationActions serves resend, regenerate and revoke.
func WithInvitationActions(a InvitationActions) Option { return func(h *Handler) { h.actions = a } }

// WithEmailSettings serves the email settings routes.
func WithEmailSettings(s EmailSettings) Option { return func(h *Handler) { h.settings = s } }

// action is a method expression of InvitationActions.
type action func(InvitationActions, context.Context, string, string) (upgrade.Invitation, error)

func (h *Handler) resendInvitation(ctx context.Context, r request) (result, error) {
	return h.invitationAction(ctx, r, InvitationActions.Resend, http.StatusAccepted)
}

func (h *Handler) regenerateInvitation(ctx context.Context, r request) (result, error) {
	return h.invitationAction(ctx, r, InvitationActions.Regenerate, http.StatusOK)
}

func (h *Handler) revokeInvitation(ctx context.Context, r request) (result, error) {
	return h.invitationAction(ctx, r, InvitationActions.Revoke, http.StatusOK)
}

func (h *Handler) invitationAction(ctx context.Context, r request, act action, status int) (result, error) {
	if h.actions == nil {
		return notWired(ctx, r)
	}
	id, err := pathID(r)
	if err != nil {
		return result{}, err
	}
	inv, err := act(h.actions, ctx, r.operatorID, id)
	if err != nil {
		return result{}, err
	}
	return result{status: status, body: invitationOut(inv)}, nil
}

func (h *Handler) getEmailSettings(ctx context.Context, r request) (result, error) {
	if h.settings == nil {
		return notWired(ctx, r)
	}
	s, err := h.settings.Get(ctx, r.operatorID)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: settingsBody{s, h.settings.FromName()}}, nil
}

func (h *Handler) putEmailSettings(ctx context.Context, r request) (result, error) {
	if h.settings == nil {
		return notWired(ctx, r)
	}
	raw, err := body(r.APIGatewayV2HTTPRequest)
	if err != nil {
		return result{}, err
	}
	var s mail.Settings
	// fromName is read-only: a client may send back what it read, and
	// nothing it says changes the From name.
	var fromName string
	if err := decodeObject(raw,
		field{name: "fromName", into: &fromName},
		field{name: "senderName", into: &s.SenderName},
		field{name: "replyTo", into: &s.ReplyTo},
		field{name: "welcomeSubject", into: &s.WelcomeSubject},
		field{name: "welcomeBody", into: &s.WelcomeBody},
		field{name: "reminderSubject", into: &s.ReminderSubject},
		field{name: "reminderBody", into: &s.ReminderBody},
		field{name: "testRecipients", into: &s.TestRecipients},
	); err != nil {
		return result{}, err
	}
	saved, err := h.settings.Put(ctx, r.operatorID, s)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: settingsBody{saved, h.settings.FromName()}}, nil
}

func (h *Handler) testEmailSettings(ctx context.Context, r request) (result, error) {
	if h.settings == nil {
		return notWired(ctx, r)
	}
	raw, err := body(r.APIGatewayV2HTTPRequest)
	if err != nil {
		return result{}, err
	}
	var to string
	if err := decodeObject(raw, field{name: "to", required: true, into: &to}); err != nil {
		return result{}, err
	}
	if err := h.settings.RequestTest(ctx, r.operatorID, staffAddress(r), to, r.RequestContext.RequestID); err != nil {
		return result{}, err
	}
	// Queued, not sent: the invitation email function renders and sends
	// the mail, so the portal links neither templates nor SES.
	return result{status: http.StatusAccepted, body: map[string]string{"to": to, "status": "QUEUED"}}, nil
}

// staffAddress is the address of the staff member who sent r, from its
// token: the email claim, else preferred_username (Microsoft Entra's
// sign-in name), when it is one bare address; "" otherwise.
func staffAddress(r request) string {
	a := r.RequestContext.Authorizer
	if a == nil || a.JWT == nil {
		return ""
	}
	for _, claim := range []string{"email", "preferred_username"} {
		if v := a.JWT.Claims[claim]; v != "" && mail.ValidateAddress(claim, v) == nil {
			return v
		}
	}
	return ""
}
