package console

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/ocpro/upgrade/internal/mail"
)

// The console's Welcome mail preview defangs the operator's text as the
// mail does (host names as contoso[.]com, schemes as https[:]//), so that
// the preview shows the mail as sent. src/defang.cases.json is the table
// both sides are held to: the console's unit tests run it through
// src/preview.ts, and this test through internal/mail.
func TestConsoleDefangsAsTheMailDoes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("src/defang.cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases struct {
		Defang []struct{ Input, Output string }       `json:"defang"`
		Around []struct{ Input, Link, Output string } `json:"around"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases.Defang {
		if got := mail.Defang(c.Input); got != c.Output {
			t.Errorf("Defang(%q) = %q, the console's table says %q", c.Input, got, c.Output)
		}
	}
	for _, c := range cases.Around {
		if got := mail.DefangAround(c.Input, c.Link); got != c.Output {
			t.Errorf("DefangAround(%q, %q) = %q, the console's table says %q", c.Input, c.Link, got, c.Output)
		}
	}
	if len(cases.Defang) < 10 || len(cases.Around) < 2 {
		t.Fatalf("the table is too small to mean anything: %d and %d cases", len(cases.Defang), len(cases.Around))
	}
}
