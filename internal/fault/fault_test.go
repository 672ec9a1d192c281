package fault_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ocpro/upgrade/internal/fault"
)

func TestKindOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want fault.Kind
	}{
		{"plain error is internal", errors.New("boom"), fault.Internal},
		{"nil is internal", nil, fault.Internal},
		{"not found", fault.NotFoundf("customer %q", "x"), fault.NotFound},
		{"wrapped conflict", fmt.Errorf("create: %w", fault.Field(fault.Conflict, "serviceShortName", "taken", "taken")), fault.Conflict},
		{"invalid fields", fault.InvalidFields(fault.FieldError{Field: "a", Code: "required"}), fault.Invalid},
		{"transient", fault.Transient(errors.New("throttled"), "try again"), fault.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := fault.KindOf(tt.err); got != tt.want {
				t.Errorf("KindOf() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestInvalidFieldsEmptyIsNil(t *testing.T) {
	t.Parallel()
	if err := fault.InvalidFields(); err != nil {
		t.Fatalf("InvalidFields() = %v, want nil", err)
	}
}

func TestAccessorsSeeThroughWrapping(t *testing.T) {
	t.Parallel()
	cause := errors.New("secret internal detail")
	err := fmt.Errorf("op: %w", &fault.Error{Kind: fault.TooManyRequests, Detail: "wait", RetryAfter: time.Minute, Err: cause,
		Fields: []fault.FieldError{{Field: "f", Code: "c", Message: "m"}}})
	if got := fault.RetryAfterOf(err); got != time.Minute {
		t.Errorf("RetryAfterOf = %v", got)
	}
	if got := fault.DetailOf(err); got != "wait" {
		t.Errorf("DetailOf = %q", got)
	}
	if got := fault.FieldsOf(err); len(got) != 1 || got[0].Code != "c" {
		t.Errorf("FieldsOf = %v", got)
	}
	if !errors.Is(err, cause) {
		t.Error("cause is not reachable with errors.Is")
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	if got := fault.Conflict.String(); got != "conflict" {
		t.Errorf("Conflict.String() = %q", got)
	}
	if got := fault.Kind(99).String(); got != "kind(99)" {
		t.Errorf("Kind(99).String() = %q", got)
	}
}
