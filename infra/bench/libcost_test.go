package bench

import (
	"strings"
	"testing"
	"time"
)

// A function over a target is named with the libraries beyond DynamoDB it
// links and what each adds, largest first; one within target is not.
func TestKeptOverNamesTheLibraries(t *testing.T) {
	t.Parallel()
	fns := []FunctionSize{
		{Function: "A", Libraries: &Libraries{AWS: map[string][]string{"dynamodb": {"GetItem"}, "kms": {"Decrypt"}}, MSAL: []string{"AcquireTokenByCredential"}}},
		{Function: "B", Libraries: &Libraries{AWS: map[string][]string{"dynamodb": {"PutItem"}}}},
	}
	ops, users := librariesOf(fns)
	if got := strings.Join(ops["dynamodb"], ","); got != "GetItem,PutItem" {
		t.Errorf("dynamodb's operations = %s, want the union", got)
	}
	if got := strings.Join(users["MSAL"], ","); got != "A" {
		t.Errorf("MSAL's functions = %s", got)
	}
	costs := []LibraryCost{
		{Library: "dynamodb", Bytes: 1_600_000, Init: 4 * time.Millisecond},
		{Library: "kms", Bytes: 400_000, Init: 2 * time.Millisecond},
		{Library: "MSAL", Bytes: 900_000, Init: time.Millisecond},
	}
	r := &Report{Sizes: &SizeSection{Target: SizeTarget, MinimalBytes: 1_000_000, Functions: []FunctionSize{
		{Function: "A", Status: StatusOK, Bytes: 3_000_000, Ratio: 3, Libraries: fns[0].Libraries},
		{Function: "B", Status: StatusOK, Bytes: 1_100_000, Ratio: 1.1, Libraries: fns[1].Libraries},
	}}, Libraries: costs}
	var b strings.Builder
	if err := r.Markdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"**over**: MSAL +0.90 MB, kms +0.40 MB", "## What each library adds", "| kms | "} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
	if got := keptOverBy(fns[0].Libraries, costs, false); got != "kms +2.00 ms init, MSAL +1.00 ms init" {
		t.Errorf("init cell = %q", got)
	}
	if strings.Contains(md, "| B | 1.10 MB | 1.10x | **over**") {
		t.Error("B is within target and marked over")
	}
}
