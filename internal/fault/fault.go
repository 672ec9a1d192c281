// Package fault is the small error vocabulary shared by the domain and its
// adapters. Every error that should reach a caller as something other than
// "internal error" carries a Kind; the HTTP glue maps kinds to status codes in
// one place, so the domain never speaks HTTP.
package fault

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

// The kinds, in the spirit of upspin's errors package.
const (
	// Internal is a bug or an unexpected failure; the caller cannot fix it.
	Internal Kind = iota
	// Invalid means the input alone is wrong (a bad field, a bad cursor).
	Invalid
	// Unprocessable means the input is well formed but breaks a rule given the
	// current state (a downgrade, the customer's user limit).
	Unprocessable
	// NotFound means the resource does not exist for this caller.
	NotFound
	// Conflict means the request collides with another resource (a short name
	// already taken).
	Conflict
	// PreconditionFailed means the resource is not in the state the request
	// needs.
	PreconditionFailed
	// Gone means the resource existed but can no longer be used.
	Gone
	// TooManyRequests means the caller must wait; see RetryAfter.
	TooManyRequests
	// Unavailable is a transient failure; the same request may succeed later.
	Unavailable
)

var kindNames = [...]string{
	Internal:           "internal",
	Invalid:            "invalid",
	Unprocessable:      "unprocessable",
	NotFound:           "not_found",
	Conflict:           "conflict",
	PreconditionFailed: "precondition_failed",
	Gone:               "gone",
	TooManyRequests:    "too_many_requests",
	Unavailable:        "unavailable",
}

// String returns the kind's stable lower-case name.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// FieldError says what is wrong with one input field. Code is stable and
// machine readable (for example "too_short"); Message is for people.
type FieldError struct {
	Field   string
	Code    string
	Message string
}

// Error returns "field: message (code)".
func (f FieldError) Error() string {
	return fmt.Sprintf("%s: %s (%s)", f.Field, f.Message, f.Code)
}

// Error is an error with a Kind. Detail is safe to show to the caller; Err,
// when set, is the underlying cause and is only ever logged.
type Error struct {
	Kind       Kind
	Detail     string
	Fields     []FieldError
	RetryAfter time.Duration
	Err        error
}

// Error describes the error with its cause, for logs.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	for _, f := range e.Fields {
		b.WriteString("; ")
		b.WriteString(f.Error())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the first *Error in err's chain, and Internal
// when there is none: an error nobody classified is a bug.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// FieldsOf returns the field errors carried by err, if any.
func FieldsOf(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// DetailOf returns the caller-safe detail of err, or "" if it has none.
func DetailOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Detail
	}
	return ""
}

// RetryAfterOf returns how long the caller should wait, or zero.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// New returns an error of kind k with a caller-safe detail.
func New(k Kind, detail string) error {
	return &Error{Kind: k, Detail: detail}
}

// InvalidFields returns an Invalid error listing every bad field, or nil
// when fields is empty, so validators can be chained without branching.
func InvalidFields(fields ...FieldError) error {
	if len(fields) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Detail: "The request has invalid fields.", Fields: fields}
}

// Field returns an error of kind k about a single field.
func Field(k Kind, field, code, message string) error {
	return &Error{Kind: k, Detail: message, Fields: []FieldError{{Field: field, Code: code, Message: message}}}
}

// NotFoundf returns a NotFound error whose detail is formatted from args.
func NotFoundf(format string, args ...any) error {
	return &Error{Kind: NotFound, Detail: fmt.Sprintf(format, args...)}
}

// TooMany returns a TooManyRequests error asking the caller to wait d.
func TooMany(d time.Duration, detail string) error {
	return &Error{Kind: TooManyRequests, Detail: detail, RetryAfter: d}
}

// Transient wraps err as Unavailable: the caller may retry.
func Transient(err error, detail string) error {
	return &Error{Kind: Unavailable, Detail: detail, Err: err}
}
