package upgrade

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MailKind names one mail of an invitation. With the invitation's id and
// link generation it is the mail's identity: the mail function sends each
// identity at most once (see MailClaim).
type MailKind string

// MailWelcome is the first mail of a link generation; the others are made by
// ReminderMail and ResendMail.
const MailWelcome MailKind = "welcome"

// ReminderMail names the n-th reminder (1-based).
func ReminderMail(n int) MailKind { return MailKind("reminder-" + strconv.Itoa(n)) }

// ResendMail names the operator's n-th resend (1-based).
func ResendMail(n int) MailKind { return MailKind("resend-" + strconv.Itoa(n)) }

// Reminder returns n for the n-th reminder and ok=false for any other kind.
func (k MailKind) Reminder() (n int, ok bool) { return k.numbered("reminder-") }

// Resend returns n for the n-th resend and ok=false for any other kind.
func (k MailKind) Resend() (n int, ok bool) { return k.numbered("resend-") }

func (k MailKind) numbered(prefix string) (int, bool) {
	s, ok := strings.CutPrefix(string(k), prefix)
	if !ok || s == "" || s[0] == '0' || len(s) > 4 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}

// Valid reports whether k is a kind this service sends.
func (k MailKind) Valid() bool {
	if k == MailWelcome {
		return true
	}
	if n, ok := k.Reminder(); ok {
		return n <= MaxReminders
	}
	_, ok := k.Resend()
	return ok
}

// The delivery statuses an invitation shows, newest outcome of its last
// mail first in mind: SENT once SES accepted it, then what SES reported.
const (
	DeliverySent        = "SENT"
	DeliveryDelivered   = "DELIVERED"
	DeliveryDelayed     = "DELAYED"
	DeliveryBounced     = "BOUNCED"      // a permanent bounce: the address does not take mail
	DeliverySoftBounced = "SOFT_BOUNCED" // a transient bounce: SES gave up for now
	DeliveryComplained  = "COMPLAINED"
	DeliveryRejected    = "REJECTED"
	// DeliveryFailed means SES refused the mail itself; LastError says why.
	DeliveryFailed = "FAILED"
	// DeliveryUnknown means SES did not answer in time: the mail may or may
	// not have gone, and it is not sent again automatically.
	DeliveryUnknown = "UNKNOWN"
)

// deadAddress reports whether a delivery status says that more mail to the
// same address would be pointless or harmful, so reminders stop.
func deadAddress(status string) bool {
	switch status {
	case DeliveryBounced, DeliveryComplained, DeliveryRejected, DeliveryFailed:
		return true
	}
	return false
}

// Timing of the invitation mails.
const (
	// MailLease is how long a claimed mail stays claimed: longer than any
	// send attempt (the mail function times out after 15 s), so that only
	// a crashed attempt's claim is ever taken over.
	MailLease = 2 * time.Minute
	// MailRequestGrace is how long a requested mail may stay unsettled
	// before the sweep requests it again: it covers a request whose
	// delivery failed for good (the pipe or the mail function dead-lettered
	// it; the request itself is written with the change that wants the
	// mail, so it is never lost) and outlasts MailLease.
	MailRequestGrace = 5 * time.Minute
	// ResendInterval is the least time between two mails the operator asks
	// for.
	ResendInterval = time.Minute
	// MaxReminders bounds the reminders of one link generation.
	MaxReminders = 2
)

// DefaultReminderOffsets are the reminder times after the last mail unless
// configured: 24 h and 72 h.
var DefaultReminderOffsets = []time.Duration{24 * time.Hour, 72 * time.Hour}

// ParseReminderOffsets reads reminder offsets in whole hours, comma
// separated and increasing, at most MaxReminders of them ("24,72"). An empty
// string means no reminders.
func ParseReminderOffsets(s string) ([]time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxReminders {
		return nil, fmt.Errorf("reminder offsets %q: at most %d", s, MaxReminders)
	}
	var out []time.Duration
	for _, p := range parts {
		h, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || h < 1 || h > 720 {
			return nil, fmt.Errorf("reminder offsets %q: %q is not whole hours from 1 to 720", s, p)
		}
		d := time.Duration(h) * time.Hour
		if len(out) > 0 && d <= out[len(out)-1] {
			return nil, fmt.Errorf("reminder offsets %q: must increase", s)
		}
		out = append(out, d)
	}
	return out, nil
}

// ParseInvitationTTL reads a link lifetime in whole hours from 1 to 720
// (INVITATION_TTL_HOURS). An empty string means DefaultInvitationTTL.
func ParseInvitationTTL(s string) (time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return DefaultInvitationTTL, nil
	}
	h, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || h < 1 || h > 720 {
		return 0, fmt.Errorf("invitation TTL %q: want whole hours from 1 to 720", s)
	}
	return time.Duration(h) * time.Hour, nil
}

// ErrChanged is returned by a conditional store write when the invitation
// is no longer as it was read: another writer got there first.
var ErrChanged = errors.New("invitation changed")

// DueRef is one entry of the due index: an invitation that may need the
// sweep.
type DueRef struct {
	InvitationID string
	// Key is the entry's position in its partition, for paging.
	Key string
}

// Action is what the sweep does for an invitation when its time comes.
type Action int

// The sweep's actions.
const (
	// ActionNone: nothing will ever be due; drop it from the due index.
	ActionNone Action = iota
	// ActionExpire: the link is past its expiry; mark it EXPIRED.
	ActionExpire
	// ActionRequestMail: ask the mail function for Step.Mail.
	ActionRequestMail
)

// Step is an invitation's next action and when it is due.
type Step struct {
	Action Action
	At     time.Time
	Mail   MailKind
}

// ReminderPolicy decides reminders: Offsets[i] is the time of reminder i+1
// after the last mail that was not a reminder. Reminders are sent only
// while the invitation is PENDING, its link is live and its address has not
// failed; each mail the operator asks for (resend, regenerate) starts the
// schedule again from that mail.
type ReminderPolicy struct {
	Offsets []time.Duration
}

// Next returns the invitation's next step. It depends on the invitation
// alone, so that the sweep, the mail function and the portal agree on it.
func (p ReminderPolicy) Next(inv Invitation) Step {
	if !InvitationMoves.Allows(inv.Status, InvitationExpired) {
		return Step{Action: ActionNone}
	}
	expire := Step{Action: ActionExpire, At: inv.ExpiresAt}
	if !InvitationMailable.Contains(inv.Status) {
		return expire
	}
	var mail Step
	switch n := inv.RemindersSent; {
	case inv.MailWanted != "":
		mail = Step{Action: ActionRequestMail, At: inv.MailRequestedAt.Add(MailRequestGrace), Mail: inv.MailWanted}
	case !inv.LastMailAt.IsZero() && n < len(p.Offsets) && !deadAddress(inv.DeliveryStatus):
		// LastMailAt is the previous reminder after the first one, so the
		// gap is the difference of the offsets.
		gap := p.Offsets[n]
		if n > 0 {
			gap -= p.Offsets[n-1]
		}
		mail = Step{Action: ActionRequestMail, At: inv.LastMailAt.Add(gap), Mail: ReminderMail(n + 1)}
	default:
		return expire
	}
	if !mail.At.Before(inv.ExpiresAt) {
		return expire
	}
	return mail
}

// MailSettled returns the invitation as it is once the claimed mail kind
// was sent at "at" with SES message id messageID.
func MailSettled(inv Invitation, kind MailKind, at time.Time) Invitation {
	inv.MailWanted, inv.MailRequestedAt = "", time.Time{}
	inv.LastMailKind, inv.LastMailAt = kind, at
	inv.EmailSent, inv.EmailSentAt = true, at
	inv.DeliveryStatus, inv.LastError = DeliverySent, ""
	if n, ok := kind.Reminder(); ok && n > inv.RemindersSent {
		inv.RemindersSent = n
	}
	return inv
}

// MailNotSent returns the invitation as it is once the claimed mail kind
// ended at "at" without a known send: status is DeliveryFailed (SES refused
// it for good) or DeliveryUnknown (SES did not answer). Either way the mail
// is settled: it is not requested again automatically, so an unknown
// outcome never becomes two mails; the operator sees why and can resend.
func MailNotSent(inv Invitation, kind MailKind, at time.Time, status, reason string) Invitation {
	inv.MailWanted, inv.MailRequestedAt = "", time.Time{}
	inv.LastMailKind, inv.LastMailAt = kind, at
	inv.DeliveryStatus, inv.LastError = status, reason
	if n, ok := kind.Reminder(); ok && n > inv.RemindersSent {
		inv.RemindersSent = n
	}
	return inv
}
