package bench

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/ocpro/upgrade/infra/testenv"
)

// TestFunctionBinaries builds every function once, as AWS gets it but for
// this machine, and checks two promises of make bench on the binary:
//
//   - it keeps no method alive by reflection (keepsNoMethodAlive);
//   - its init reaches no network (initDoesNoNetworkIO, initio_test.go).
func TestFunctionBinaries(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	root := testenv.RepoRoot(t)
	tmpl, err := probeTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	functions := Functions(tmpl)
	if len(functions) == 0 {
		t.Fatal("template.yaml has no functions")
	}
	for _, f := range functions {
		t.Run(f.Name, func(t *testing.T) {
			t.Parallel()
			// The host's architecture shares the compile cache with the
			// local stack's bootstraps; the linker decides the same way
			// on every architecture.
			bin := filepath.Join(t.TempDir(), "bootstrap")
			linked, err := Build(t.Context(), root, f, "linux", runtime.GOARCH, bin)
			if err != nil {
				t.Fatal(err)
			}
			t.Run("keeps no method alive", func(t *testing.T) { keepsNoMethodAlive(t, linked) })
			t.Run("init does no network IO", func(t *testing.T) { initDoesNoNetworkIO(t, tmpl, f, bin) })
		})
	}
}

// keepsNoMethodAlive guards the largest size saving there was: no function
// may call reflect's Method or MethodByName with a name the linker cannot
// see, as executing a text/template or html/template does, because the
// linker then keeps every exported method of every type in the binary (the
// mail and page functions were 2.6x and 2.7x the minimal handler with
// templates, about 1.5x without). Pages and mails are templ files compiled
// to Go for this reason.
func keepsNoMethodAlive(t *testing.T, linked Linked) {
	if syms := linked.ReflectMethod; len(syms) > 0 {
		t.Errorf("the binary keeps every exported method because of %s: render with templ or plain Go instead of text/template or html/template", strings.Join(syms, ", "))
	}
}

// TestBuildFindsReflectMethod is the guard's positive control: if a new Go
// release printed -dumpdep differently, TestFunctionBinaries
// would pass without looking.
func TestBuildFindsReflectMethod(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	root := t.TempDir()
	for name, body := range map[string]string{
		"go.mod": "module example.com/tmpl\n\ngo 1.26\n",
		"main.go": `package main

import (
	"os"
	"text/template"
)

func main() {
	template.Must(template.New("").Parse("{{.}}\n")).Execute(os.Stdout, os.Args)
}
`,
	} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	linked, err := Build(t.Context(), root, Target{Name: "tmpl", Package: "."}, "linux", runtime.GOARCH, filepath.Join(t.TempDir(), "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(linked.ReflectMethod, "text/template.(*state).evalField") {
		t.Errorf("Build found %q, want text/template.(*state).evalField among them", linked.ReflectMethod)
	}
}
