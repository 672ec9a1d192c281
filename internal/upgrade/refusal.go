package upgrade

import (
	"errors"
	"fmt"

	"github.com/ocpro/upgrade/internal/fault"
)

// LicenseError says the customer's licence is not lower than the one asked.
type LicenseError struct{ Current License }

// Error describes the refusal.
func (e *LicenseError) Error() string { return "customer already holds " + string(e.Current) }

// UserLimitError says the customer has too many reserved users for the
// request.
type UserLimitError struct{ Reserved int }

// Error describes the refusal.
func (e *UserLimitError) Error() string { return "customer user limit exceeded" }

// CustomerRefusal says why a customer that holds current and has reserved
// users cannot take n more users of the target licence: a *LicenseError
// when current is not lower than target, else a *UserLimitError when the
// users would exceed MaxUsersPerCustomer, else nil. Stores return it when
// their condition on the customer fails.
func CustomerRefusal(current License, reserved int, target License, n int) error {
	switch {
	case current.Rank() >= target.Rank():
		return &LicenseError{Current: current}
	case reserved+n > MaxUsersPerCustomer:
		return &UserLimitError{Reserved: reserved}
	}
	return nil
}

// asked is what a write asks of the customer: a licence, a number of
// users, and the users the service already holds (none for a new one),
// which the customer's reserved users include.
type asked struct {
	license License
	users   int
	held    int
}

// licenseRefused is the error the operator sees when a customer holding
// current cannot take the licence asked; its fields are empty when it can.
func licenseRefused(current License, a asked, cause error) *fault.Error {
	return &fault.Error{Kind: fault.Unprocessable, Detail: "The customer cannot be upgraded to this licence.",
		Fields: CheckUpgradePath(current, a.license), Err: cause}
}

// usersRefused is the error the operator sees when a customer with
// reserved users cannot take the users asked; its fields are empty when it
// can.
func usersRefused(reserved int, a asked, cause error) *fault.Error {
	return &fault.Error{Kind: fault.Unprocessable, Detail: "The customer would exceed its user limit.",
		Fields: CheckCustomerUsers(reserved-a.held, a.users), Err: cause}
}

// storeError is the one translation of a Store's errors into the errors
// the operator sees: a refusal of the customer, a taken short name and a
// reused Idempotency-Key become fault errors with a field error, ErrNotFound
// is NotFound, ErrBadCursor Invalid. Anything else is wrapped with op and
// keeps its kind (Internal unless it has one). a is what the write asked,
// for the refusals' messages; reads pass the zero asked.
func storeError(op string, err error, a asked) error {
	var le *LicenseError
	var ue *UserLimitError
	switch {
	case errors.As(err, &le):
		return licenseRefused(le.Current, a, err)
	case errors.As(err, &ue):
		return usersRefused(ue.Reserved, a, err)
	case errors.Is(err, ErrShortNameTaken):
		return &fault.Error{Kind: fault.Conflict, Detail: "The short name is already taken.",
			Fields: []fault.FieldError{{Field: FieldServiceShortName, Code: CodeTaken,
				Message: "Another service already uses this short name; short names are unique, whatever their case."}}, Err: err}
	case errors.Is(err, ErrIdempotencyKeyReused):
		return &fault.Error{Kind: fault.Unprocessable, Detail: "This Idempotency-Key was used with a different request.",
			Fields: []fault.FieldError{{Field: FieldIdempotencyKey, Code: CodeIdempotencyKeyReused,
				Message: "Use a new Idempotency-Key for a different request."}}, Err: err}
	case errors.Is(err, ErrNotFound):
		return &fault.Error{Kind: fault.NotFound, Detail: "Not found.", Err: err}
	case errors.Is(err, ErrBadCursor):
		return &fault.Error{Kind: fault.Invalid, Detail: "The cursor is not valid.", Err: err,
			Fields: []fault.FieldError{{Field: FieldCursor, Code: CodeInvalidCursor, Message: "Use the nextCursor of a previous page of the same list."}}}
	}
	return fmt.Errorf("%s: %w", op, err)
}
