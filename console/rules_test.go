// Package console holds the operator console (TypeScript, built with vite);
// this Go test keeps the console's input rules and the API's in step.
package console

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/ocpro/upgrade/internal/fault"
	"github.com/ocpro/upgrade/internal/upgrade"
)

type ruleCase struct {
	Input, Code, Message string
}

// The console checks short and full names as the user types (guide steps
// 2-3) with the API's codes and messages. src/rules.cases.json is the table
// both sides are held to: the console's unit tests run it through
// src/rules.ts, and this test through the API's own validators, so that a
// changed rule or message on either side fails one of them.
func TestConsoleRulesAreTheAPIs(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("src/rules.cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases struct {
		ShortName []ruleCase `json:"shortName"`
		FullName  []ruleCase `json:"fullName"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	first := func(errs []fault.FieldError) (string, string) {
		if len(errs) == 0 {
			return "", ""
		}
		return errs[0].Code, errs[0].Message
	}
	for _, c := range cases.ShortName {
		if code, msg := first(upgrade.ValidateShortName(c.Input)); code != c.Code || msg != c.Message {
			t.Errorf("short name %q: API says %q %q, the console's table %q %q", c.Input, code, msg, c.Code, c.Message)
		}
	}
	for _, c := range cases.FullName {
		_, errs := upgrade.ValidateFullName(c.Input)
		if code, msg := first(errs); code != c.Code || msg != c.Message {
			t.Errorf("full name %q: API says %q %q, the console's table %q %q", c.Input, code, msg, c.Code, c.Message)
		}
	}
	if len(cases.ShortName) < 10 || len(cases.FullName) < 3 {
		t.Fatalf("the table is too small to mean anything: %d and %d cases", len(cases.ShortName), len(cases.FullName))
	}
}
