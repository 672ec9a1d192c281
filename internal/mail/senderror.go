package mail

import (
	"errors"
	"fmt"
)

// ErrorKind sorts the ways a send can fail by what the caller should do.
type ErrorKind string

const (
	// ErrorThrottled means SES refused for rate or quota reasons after every
	// attempt Send was allowed: nothing was sent, trying later may work.
	ErrorThrottled ErrorKind = "throttled"
	// ErrorPermanent means SES refused this mail (or Send refused it before
	// asking SES): nothing was sent and the same mail will fail again.
	ErrorPermanent ErrorKind = "permanent"
	// ErrorPaused means sending is paused or the account is suspended:
	// nothing was sent and nothing will be until an operator acts.
	ErrorPaused ErrorKind = "paused"
	// ErrorUnknown means the outcome is unknown: SES may or may not have
	// accepted the mail (a timeout, a network error, a server error).
	ErrorUnknown ErrorKind = "unknown"
)

// SendError is the error Send returns when a mail was not (or maybe not)
// sent. Message is written for the operator and holds no secret.
type SendError struct {
	Kind    ErrorKind
	Code    string
	Message string
	// Attempts is how many times SES was asked.
	Attempts int
	Err      error
}

func (e *SendError) Error() string {
	return fmt.Sprintf("mail: send %s (%s): %s", e.Kind, e.Code, e.Message)
}

func (e *SendError) Unwrap() error { return e.Err }

// KindOf returns the ErrorKind of the SendError in err's chain, or
// ErrorUnknown when there is none: an unexplained failure is treated as an
// unknown outcome.
func KindOf(err error) ErrorKind {
	var se *SendError
	if errors.As(err, &se) {
		return se.Kind
	}
	return ErrorUnknown
}
