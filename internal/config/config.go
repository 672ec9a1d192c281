// Package config reads the settings a function gets from template.yaml
// through its environment.
//
// Every variable is defined once, in vars.go: its name, the Go type it
// becomes, and its one rule (required, or what an empty value means, and how
// the text is parsed and checked). A function reads the variables it needs
// through one Reader, which collects every missing or malformed value, so
// that a broken deployment is reported in one error and fixed in one go, not
// one variable per start.
package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Var is the definition of one environment variable that becomes a T.
type Var[T any] struct {
	// Name is the environment variable, as template.yaml sets it.
	Name string
	// Required says that an empty value is an error; otherwise parse
	// decides what an empty value means.
	Required bool
	parse    func(string) (T, error)
}

// Read returns the variable's value from r. A missing or malformed value
// yields the zero T and is recorded in r, whose Err reports it.
func (v Var[T]) Read(r *Reader) T {
	var zero T
	s := r.getenv(v.Name)
	if s == "" && v.Required {
		r.missing = append(r.missing, v.Name)
		return zero
	}
	t, err := v.parse(s)
	if err != nil {
		r.malformed = append(r.malformed, fmt.Errorf("%s: %w", v.Name, err))
		return zero
	}
	return t
}

// Reader reads variables through getenv (os.Getenv in main) and keeps
// every problem it meets until Err.
type Reader struct {
	getenv    func(string) string
	missing   []string
	malformed []error
}

// NewReader returns a Reader over getenv.
func NewReader(getenv func(string) string) *Reader {
	return &Reader{getenv: getenv}
}

// Err returns nil when every variable read so far was present and well
// formed, or else one error naming every missing variable and every
// malformed one.
func (r *Reader) Err() error {
	var problems []string
	if len(r.missing) > 0 {
		missing := append([]string(nil), r.missing...)
		sort.Strings(missing)
		problems = append(problems, "not set: "+strings.Join(missing, ", "))
	}
	for _, err := range r.malformed {
		problems = append(problems, err.Error())
	}
	if len(problems) == 0 {
		return nil
	}
	// One line, so that the start failure is one log record.
	return errors.New(strings.Join(problems, "; "))
}
