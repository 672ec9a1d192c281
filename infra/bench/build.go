package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// Linked is what the linker's reachability graph says about a binary.
type Linked struct {
	// ReflectMethod lists the symbols that call reflect's Method or
	// MethodByName with a name the linker cannot know, such as the field
	// evaluation of text/template. One such call anywhere in a binary makes
	// the linker keep every exported method of every type it keeps, which
	// is the largest avoidable part of a function's size.
	ReflectMethod []string
	// Libraries are the client operations of the design's libraries that
	// the binary can call; BuildFloor builds them alone.
	Libraries Libraries
}

// Build compiles target in root into out with the flags AWS gets (CGO off,
// lambda.norpc, trimmed paths, stripped), for goos/goarch, and reads the
// linker's reachability graph on the way (see Linked).
func Build(ctx context.Context, root string, target Target, goos, goarch, out string) (Linked, error) {
	if !hasGoFiles(filepath.Join(root, target.Package)) {
		return Linked{}, fmt.Errorf("%s: %s: %w", target.Name, target.Package, errMissing)
	}
	return build(ctx, root, target.Name, target.Package, goos, goarch, out)
}

// build runs go build with the AWS flags in dir.
func build(ctx context.Context, dir, name, pkg, goos, goarch, out string) (Linked, error) {
	// -dumpdep prints the linker's reachability graph while it links, so
	// reading it costs no second link. The graph is tens of megabytes for a
	// function; it is scanned as it streams, not kept.
	// go build leaves an output it finds up to date alone, without
	// linking, and then prints no graph: a binary kept from the last run
	// must not read as one that links no library.
	if err := os.Remove(out); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Linked{}, fmt.Errorf("building %s: %w", name, err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w -dumpdep",
		"-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOWORK=off")
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return Linked{}, fmt.Errorf("building %s: %w", name, err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return Linked{}, fmt.Errorf("building %s: %w", name, err)
	}
	linked, output := scanDumpDep(pipe)
	if err := cmd.Wait(); err != nil {
		return Linked{}, fmt.Errorf("building %s for %s/%s: %w: %s", name, goos, goarch, err, tail(output, 600))
	}
	return linked, nil
}

// reflectMethodFlag is how -dumpdep marks a symbol that calls reflect's
// Method or MethodByName with a name the linker cannot see. Flags follow
// the name after a space, run together ("<UsedInIface><ReflectMethod>").
const reflectMethodFlag = "<ReflectMethod>"

// scanDumpDep reads the linker's "from -> to" lines: the symbols marked
// with reflectMethodFlag, sorted and once each, and the library client
// methods that are reachable. Lines that are not part of the graph
// (compiler errors, for instance) are kept, up to a bound, for the error
// message.
func scanDumpDep(r io.Reader) (linked Linked, other string) {
	reflectMethod := make(map[string]bool)
	libs := newLibrarySet()
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
			// Names may hold spaces ("type:struct { ... }") but not
			// " <", which starts the flags.
			name, flags, _ := strings.Cut(sym, " <")
			if strings.HasSuffix(flags, reflectMethodFlag[1:]) {
				reflectMethod[name] = true
			}
			libs.add(name)
		}
	}
	// A read error means the linker went away; Wait reports why.
	return Linked{ReflectMethod: slices.Sorted(maps.Keys(reflectMethod)), Libraries: libs.libraries()}, rest.String()
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

// FloorBootstrap is where MeasureSizes builds a function's floor, within
// the folder it was given.
func FloorBootstrap(dir, function string) string {
	return filepath.Join(dir, function, "floor", "bootstrap")
}

// measureFloor builds the floor of the libraries a function links into out,
// with its source next to it, and compares the function with it. A floor
// that does not build leaves the function's own figures as they are.
func measureFloor(ctx context.Context, root string, fs *FunctionSize, libs Libraries, minimalBytes int64, goos, goarch, out string) {
	fs.Libraries = &libs
	_, err := BuildFloor(ctx, root, libs, goos, goarch, filepath.Join(filepath.Dir(out), "src"), out)
	if err == nil {
		fs.FloorBytes, err = fileSize(out)
	}
	if err != nil {
		fs.FloorError = err.Error()
		return
	}
	fs.FloorRatio = Ratio(float64(fs.FloorBytes), float64(minimalBytes))
	fs.OverFloor = Ratio(float64(fs.Bytes), float64(fs.FloorBytes))
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	return fi.Size(), nil
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
		linked, err := Build(ctx, root, f, goos, goarch, bin)
		fs.ReflectMethod = linked.ReflectMethod
		if err == nil {
			fs.Bytes, err = fileSize(bin)
			fs.Ratio = Ratio(float64(fs.Bytes), float64(s.MinimalBytes))
		}
		fs.Status = statusOf(err)
		if err != nil && fs.Status == StatusFailed {
			fs.Error = err.Error()
		}
		if err == nil {
			measureFloor(ctx, root, &fs, linked.Libraries, s.MinimalBytes, goos, goarch, FloorBootstrap(dir, f.Name))
		}
		s.Functions = append(s.Functions, fs)
	}
	return s, nil
}
