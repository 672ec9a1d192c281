package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ocpro/upgrade/infra/template"
)

// MinimalPackage is the minimal handler's package, relative to the
// repository root.
const MinimalPackage = "./infra/bench/minimal"

// Target is something the harness builds and measures: a function of
// template.yaml or the minimal handler.
type Target struct {
	// Name is the function's logical id, or MinimalName.
	Name string
	// Package is the Go package, relative to the repository root.
	Package string
}

// Functions returns every function of t as a target, in logical id order,
// each with its package from template.FunctionDir.
func Functions(t *template.Template) []Target {
	ids := make([]string, 0, len(t.Functions))
	for id := range t.Functions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]Target, 0, len(ids))
	for _, id := range ids {
		out = append(out, Target{Name: id, Package: template.FunctionDir(id)})
	}
	return out
}

// errMissing says that a function's package is not in the tree (yet).
var errMissing = errors.New("package not in the tree")

// Build compiles target in root into out with the flags AWS gets (CGO off,
// lambda.norpc, trimmed paths, stripped), for goos/goarch.
//
// It also returns the symbols that the linker marked as calling reflect's
// Method or MethodByName with a name it cannot know, such as the field
// evaluation of text/template. One such call anywhere in a binary makes the
// linker keep every exported method of every type it keeps, which is the
// largest avoidable part of a function's size (infra/bench/README.md).
func Build(ctx context.Context, root string, target Target, goos, goarch, out string) (reflectMethod []string, err error) {
	if !hasGoFiles(filepath.Join(root, target.Package)) {
		return nil, fmt.Errorf("%s: %s: %w", target.Name, target.Package, errMissing)
	}
	// -dumpdep prints the linker's reachability graph while it links, so
	// the check costs no second link. The graph is tens of megabytes for a
	// function; it is scanned as it streams, not kept.
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w -dumpdep",
		"-o", out, target.Package)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", target.Name, err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("building %s: %w", target.Name, err)
	}
	reflectMethod, output := scanDumpDep(pipe)
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("building %s for %s/%s: %w: %s", target.Name, goos, goarch, err, tail(output, 600))
	}
	return reflectMethod, nil
}

// reflectMethodFlag is how -dumpdep marks a symbol that calls reflect's
// Method or MethodByName with a name the linker cannot see. Flags follow
// the name after a space, run together ("<UsedInIface><ReflectMethod>").
const reflectMethodFlag = "<ReflectMethod>"

// scanDumpDep reads the linker's "from -> to" lines and returns, sorted and
// once each, the symbols marked with reflectMethodFlag. Lines that are not
// part of the graph (compiler errors, for instance) are kept, up to a
// bound, for the error message.
func scanDumpDep(r io.Reader) (reflectMethod []string, other string) {
	seen := make(map[string]bool)
	var rest strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		from, to, isEdge := strings.Cut(line, " -> ")
		if !isEdge {
			if rest.Len() < 64*1024 {
				rest.WriteString(line)
				rest.WriteByte('\n')
			}
			continue
		}
		for _, sym := range []string{from, to} {
			if !strings.HasSuffix(sym, reflectMethodFlag) {
				continue
			}
			// Names may hold spaces ("type:struct { ... }") but not
			// " <", which starts the flags.
			if name, _, ok := strings.Cut(sym, " <"); ok {
				seen[name] = true
			}
		}
	}
	// A read error means the linker went away; Wait reports why.
	return slices.Sorted(maps.Keys(seen)), rest.String()
}

func hasGoFiles(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
			return true
		}
	}
	return false
}

// statusOf maps a build error to the status a table shows.
func statusOf(err error) Status {
	switch {
	case err == nil:
		return StatusOK
	case errors.Is(err, errMissing):
		return StatusMissing
	default:
		return StatusFailed
	}
}

// MeasureSizes builds the minimal handler and every function for
// goos/goarch into dir and compares their sizes. Functions that are missing
// or do not build are reported as such; only a minimal handler that does not
// build is an error, since without the floor there is no ratio.
func MeasureSizes(ctx context.Context, root string, functions []Target, goos, goarch, dir string) (*SizeSection, error) {
	s := &SizeSection{GOOS: goos, GOARCH: goarch, Target: SizeTarget}
	minimal := filepath.Join(dir, "minimal", "bootstrap")
	if _, err := Build(ctx, root, Target{Name: MinimalName, Package: MinimalPackage}, goos, goarch, minimal); err != nil {
		return nil, err
	}
	fi, err := os.Stat(minimal)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	s.MinimalBytes = fi.Size()
	for _, f := range functions {
		fs := FunctionSize{Function: f.Name, Package: f.Package}
		bin := filepath.Join(dir, f.Name, "bootstrap")
		reflectMethod, err := Build(ctx, root, f, goos, goarch, bin)
		fs.ReflectMethod = reflectMethod
		if err == nil {
			var fi os.FileInfo
			if fi, err = os.Stat(bin); err == nil {
				fs.Bytes = fi.Size()
				fs.Ratio = Ratio(float64(fs.Bytes), float64(s.MinimalBytes))
			}
		}
		fs.Status = statusOf(err)
		if err != nil && fs.Status == StatusFailed {
			fs.Error = err.Error()
		}
		s.Functions = append(s.Functions, fs)
	}
	return s, nil
}
