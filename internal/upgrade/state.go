package upgrade

import (
	"slices"
	"time"
)

// This file is the state machine of the three records that change state:
// the invitation, the service and the upgrade. Every adapter asks it
// instead of spelling states again: the stores build their conditional
// writes from these sets (so a DynamoDB condition accepts exactly the
// states named here), the wizard names only the state it moves to, and the
// README's "States" table is checked against the moves below.

// InvitationStatus is the state of an invitation.
type InvitationStatus string

// The invitation states: PENDING -> IN_PROGRESS -> TOKEN_ACQUIRED ->
// AUTHENTICATION_COMPLETE; or EXPIRED, REVOKED, FAILED. A tenant the
// service cannot tell is the customer's waits in AWAITING_CONFIRMATION
// for staff to confirm it (AUTHENTICATION_COMPLETE) or refuse it (FAILED).
const (
	InvitationPending                InvitationStatus = "PENDING"
	InvitationInProgress             InvitationStatus = "IN_PROGRESS"
	InvitationTokenAcquired          InvitationStatus = "TOKEN_ACQUIRED"
	InvitationAuthenticationComplete InvitationStatus = "AUTHENTICATION_COMPLETE"
	InvitationExpired                InvitationStatus = "EXPIRED"
	InvitationRevoked                InvitationStatus = "REVOKED"
	InvitationFailed                 InvitationStatus = "FAILED"
	// InvitationAwaitingConfirmation: consent was proven in a tenant that
	// neither carries the customer's tenant id nor verifies the
	// customer's domain; staff must confirm or refuse it before resume.
	InvitationAwaitingConfirmation InvitationStatus = "AWAITING_CONFIRMATION"
)

// InvitationStatuses lists every invitation state, for validating filters.
var InvitationStatuses = States[InvitationStatus]{
	InvitationPending, InvitationInProgress, InvitationTokenAcquired,
	InvitationAuthenticationComplete, InvitationExpired, InvitationRevoked, InvitationFailed,
	InvitationAwaitingConfirmation,
}

// ServiceStatus is the state of a service.
type ServiceStatus string

// The service states: PENDING_AUTHENTICATION -> ACTIVE, or CANCELLED.
const (
	ServicePendingAuthentication ServiceStatus = "PENDING_AUTHENTICATION"
	ServiceActive                ServiceStatus = "ACTIVE"
	ServiceCancelled             ServiceStatus = "CANCELLED"
)

// UpgradeStatus is the state of an upgrade.
type UpgradeStatus string

// The upgrade states: PENDING_AUTHENTICATION -> READY_TO_RESUME -> COMPLETED,
// or CANCELLED.
const (
	UpgradePendingAuthentication UpgradeStatus = "PENDING_AUTHENTICATION"
	UpgradeReadyToResume         UpgradeStatus = "READY_TO_RESUME"
	UpgradeCompleted             UpgradeStatus = "COMPLETED"
	UpgradeCancelled             UpgradeStatus = "CANCELLED"
)

// States is a set of states of one kind of record.
type States[S ~string] []S

// Contains reports whether s is one of the states.
func (ss States[S]) Contains(s S) bool { return slices.Contains(ss, s) }

// The named sets of invitation states.
var (
	// InvitationLive holds the states in which the link works, until the
	// invitation's ExpiresAt: nothing is final yet.
	InvitationLive = States[InvitationStatus]{InvitationPending, InvitationInProgress, InvitationTokenAcquired}
	// InvitationAwaiting holds the states in which nobody has signed in
	// yet: the sweep expires the link at ExpiresAt.
	InvitationAwaiting = States[InvitationStatus]{InvitationPending, InvitationInProgress}
	// InvitationMailable holds the states in which mails (the Welcome
	// mail, reminders, resends) may go out: the administrator has not
	// started yet.
	InvitationMailable = States[InvitationStatus]{InvitationPending}
	// InvitationRegenerable holds the states from which the operator may
	// make a new link ("Re-initiate Authentication Flow"): nobody holds a
	// token for it and consent was not proven.
	InvitationRegenerable = States[InvitationStatus]{InvitationPending, InvitationInProgress, InvitationExpired, InvitationFailed}
	// InvitationRevocable holds the states a cancel of the upgrade revokes:
	// the live ones and a completed authentication not yet resumed. The
	// operator's own Revoke takes only a live link.
	InvitationRevocable = States[InvitationStatus]{InvitationPending, InvitationInProgress, InvitationTokenAcquired,
		InvitationAuthenticationComplete, InvitationAwaitingConfirmation}
	// InvitationConcluded holds the states the wizard ends in: the
	// administrator's part is over, one way or the other, and nothing is
	// due for the sweep until the operator acts.
	InvitationConcluded = States[InvitationStatus]{InvitationAuthenticationComplete, InvitationFailed,
		InvitationAwaitingConfirmation}
	// InvitationProven holds the states that record a tenant proven to
	// have consented: the wizard's verdict on it (complete, or awaiting
	// staff) names the same tenant either way.
	InvitationProven = States[InvitationStatus]{InvitationAuthenticationComplete, InvitationAwaitingConfirmation}
	// InvitationResumable holds the states in which the operator may
	// resume the upgrade.
	InvitationResumable = States[InvitationStatus]{InvitationAuthenticationComplete}
)

// UpgradeWaiting holds the upgrade states in which it may still be resumed
// or cancelled.
var UpgradeWaiting = States[UpgradeStatus]{UpgradePendingAuthentication, UpgradeReadyToResume}

// Moves is a record's transition table: for each state a record may
// enter, the states it may enter it from.
type Moves[S ~string] map[S]States[S]

// From returns the states from which a record may enter to; none for a
// state no move enters.
func (m Moves[S]) From(to S) States[S] { return m[to] }

// Allows reports whether a record in from may move to to.
func (m Moves[S]) Allows(from, to S) bool { return m[to].Contains(from) }

// InvitationMoves are the invitation's transitions. Re-entering PENDING
// (a new link) and TOKEN_ACQUIRED (signing in again) are moves too: both
// are conditional writes on the state left.
var InvitationMoves = Moves[InvitationStatus]{
	// The operator regenerates the link.
	InvitationPending: InvitationRegenerable,
	// The administrator starts the device code flow or the sign-in.
	InvitationInProgress: {InvitationPending},
	// A sign-in succeeded (guide steps 10-16).
	InvitationTokenAcquired: InvitationLive,
	// An application token proved the consent of the customer's tenant
	// (guide steps 17-20), or staff confirmed the tenant.
	InvitationAuthenticationComplete: {InvitationTokenAcquired, InvitationAwaitingConfirmation},
	// An application token proved the consent of a tenant the service
	// cannot tell is the customer's.
	InvitationAwaitingConfirmation: {InvitationTokenAcquired},
	// The sweep, once the link is past its expiry.
	InvitationExpired: InvitationAwaiting,
	// The operator revokes the link, or cancels the upgrade.
	InvitationRevoked: InvitationRevocable,
	// The invitation's attempts at Microsoft are spent, or staff refused
	// the tenant.
	InvitationFailed: {InvitationPending, InvitationInProgress, InvitationTokenAcquired, InvitationAwaitingConfirmation},
}

// ServiceMoves are the service's transitions: resume activates it, cancel
// ends it.
var ServiceMoves = Moves[ServiceStatus]{
	ServiceActive:    {ServicePendingAuthentication},
	ServiceCancelled: {ServicePendingAuthentication},
}

// UpgradeMoves are the upgrade's transitions: consent makes it ready,
// resume completes it, cancel ends it.
var UpgradeMoves = Moves[UpgradeStatus]{
	UpgradeReadyToResume: {UpgradePendingAuthentication},
	UpgradeCompleted:     UpgradeWaiting,
	UpgradeCancelled:     UpgradeWaiting,
}

// Live reports whether the invitation's link still works at now.
func (i Invitation) Live(now time.Time) bool {
	return InvitationLive.Contains(i.Status) && now.Before(i.ExpiresAt)
}
