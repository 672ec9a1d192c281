package bench

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ocpro/upgrade/infra/testenv"
)

func TestLibrariesString(t *testing.T) {
	t.Parallel()
	if got := (Libraries{}).String(); got != "none" {
		t.Errorf("empty = %q", got)
	}
	l := Libraries{AWS: map[string][]string{"sesv2": {"SendEmail"}, "dynamodb": {"GetItem", "PutItem"}}, MSAL: []string{"AcquireTokenByCredential"}}
	want := "dynamodb (GetItem, PutItem), sesv2 (SendEmail), MSAL confidential client (AcquireTokenByCredential)"
	if got := l.String(); got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

// TestFloorLinksWhatItIsGiven builds a floor and reads its link graph: it
// must reach exactly the operations it was given, so that it measures the
// libraries a function links and not fewer.
func TestFloorLinksWhatItIsGiven(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	want := Libraries{
		AWS:  map[string][]string{"dynamodb": {"GetItem", "TransactWriteItems"}, "eventbridge": {"PutEvents"}},
		MSAL: []string{"AcquireTokenByCredential"},
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "bootstrap")
	linked, err := BuildFloor(t.Context(), testenv.RepoRoot(t), want, "linux", runtime.GOARCH, filepath.Join(dir, "src"), out)
	if err != nil {
		t.Fatal(err)
	}
	got := linked.Libraries.String()
	for _, w := range []string{"GetItem", "TransactWriteItems", "eventbridge (PutEvents)", "MSAL confidential client (AcquireTokenByCredential)"} {
		if !strings.Contains(got, w) {
			t.Errorf("the floor links %s; want %s among them", got, w)
		}
	}
	if strings.Contains(got, "PutItem") || strings.Contains(got, "sesv2") {
		t.Errorf("the floor links %s: more than it was given", got)
	}
	if linked.ReflectMethod != nil {
		t.Errorf("the floor keeps every method because of %v", linked.ReflectMethod)
	}
}
