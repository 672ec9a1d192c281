package bench

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// baseLibrary is the library every function links, since every state is
// in DynamoDB: the other libraries are measured on top of it.
const baseLibrary = "dynamodb"

// msalLibrary names MSAL's confidential client among the libraries.
const msalLibrary = "MSAL"

// LibraryCost is what one library adds to a binary, measured in the run:
// DynamoDB over the minimal handler, every other library over the minimal
// handler with DynamoDB, each with the operations the functions reach of
// it. It is how the tables name what keeps a function over its target.
type LibraryCost struct {
	Library    string   `json:"library"`
	Operations []string `json:"operations"`
	Functions  []string `json:"functions"`
	// Over names what the cost is measured over.
	Over string `json:"over"`
	// Bytes is the size it adds (stripped, the size section's platform);
	// Init the Go package init it adds: the summed median init of the
	// packages the floor with it has and the one without lacks (this
	// machine).
	Bytes     int64         `json:"bytes"`
	Init      time.Duration `json:"initNs,omitempty"`
	Error     string        `json:"error,omitempty"`
	InitError string        `json:"initError,omitempty"`
}

// librariesOf returns, per library, the union of the operations the
// functions reach and the functions that link it.
func librariesOf(fns []FunctionSize) (ops map[string][]string, users map[string][]string) {
	set := map[string]map[string]bool{}
	users = map[string][]string{}
	add := func(lib, fn string, names []string) {
		if set[lib] == nil {
			set[lib] = map[string]bool{}
		}
		for _, n := range names {
			set[lib][n] = true
		}
		users[lib] = append(users[lib], fn)
	}
	for _, f := range fns {
		if f.Libraries == nil {
			continue
		}
		for svc, names := range f.Libraries.AWS {
			add(svc, f.Function, names)
		}
		if len(f.Libraries.MSAL) > 0 {
			add(msalLibrary, f.Function, f.Libraries.MSAL)
		}
	}
	ops = map[string][]string{}
	for lib, names := range set {
		ops[lib] = slices.Sorted(maps.Keys(names))
	}
	return ops, users
}

// withLibrary returns base plus lib with ops.
func withLibrary(base Libraries, lib string, ops []string) Libraries {
	out := Libraries{AWS: maps.Clone(base.AWS), MSAL: slices.Clone(base.MSAL)}
	if lib == msalLibrary {
		out.MSAL = ops
		return out
	}
	if out.AWS == nil {
		out.AWS = map[string][]string{}
	}
	out.AWS[lib] = ops
	return out
}

// MeasureLibraryCosts builds, for the size section's platform and (when
// hostDir is not empty) this machine's, a floor of DynamoDB alone and one
// of DynamoDB with each other library the functions link, and reports what
// each adds in size and in package init (runs traced runs each).
// minimalHost is the minimal handler built for this machine.
func MeasureLibraryCosts(ctx context.Context, root string, sizes *SizeSection, dir, hostGOARCH, hostDir, minimalHost string, runs int) []LibraryCost {
	ops, users := librariesOf(sizes.Functions)
	if len(ops) == 0 {
		return nil
	}
	var base Libraries
	if _, ok := ops[baseLibrary]; ok {
		base = withLibrary(Libraries{}, baseLibrary, ops[baseLibrary])
	}
	type built struct {
		bytes int64
		init  map[string]time.Duration
		err   error
		ierr  error
	}
	measure := func(name string, l Libraries) built {
		var b built
		out := filepath.Join(dir, "libraries", name, "bootstrap")
		if _, b.err = BuildFloor(ctx, root, l, sizes.GOOS, sizes.GOARCH, filepath.Join(dir, "libraries", name, "src"), out); b.err == nil {
			b.bytes, b.err = fileSize(out)
		}
		if hostDir == "" || b.err != nil {
			return b
		}
		hostOut := filepath.Join(hostDir, "libraries", name, "bootstrap")
		if _, b.ierr = BuildFloor(ctx, root, l, "linux", hostGOARCH, filepath.Join(hostDir, "libraries", name, "src"), hostOut); b.ierr == nil {
			b.init, b.ierr = MeasurePackageInits(ctx, hostOut, runs)
		}
		return b
	}
	minimal := built{bytes: sizes.MinimalBytes}
	if hostDir != "" {
		minimal.init, minimal.ierr = MeasurePackageInits(ctx, minimalHost, runs)
	}
	cost := func(lib, over string, with, without built) LibraryCost {
		c := LibraryCost{Library: lib, Operations: ops[lib], Functions: users[lib], Over: over}
		switch {
		case with.err != nil:
			c.Error = with.err.Error()
		case without.err != nil:
			c.Error = without.err.Error()
		default:
			c.Bytes = with.bytes - without.bytes
		}
		switch {
		case hostDir == "":
		case with.ierr != nil:
			c.InitError = with.ierr.Error()
		case without.ierr != nil:
			c.InitError = without.ierr.Error()
		default:
			c.Init = addedInit(with.init, without.init)
		}
		return c
	}
	var costs []LibraryCost
	baseBuilt := minimal
	over := MinimalName
	if len(base.AWS) > 0 {
		baseBuilt = measure(baseLibrary, base)
		costs = append(costs, cost(baseLibrary, MinimalName, baseBuilt, minimal))
		over = MinimalName + " with " + baseLibrary
	}
	for _, lib := range slices.Sorted(maps.Keys(ops)) {
		if lib == baseLibrary {
			continue
		}
		costs = append(costs, cost(lib, over, measure(lib, withLibrary(base, lib, ops[lib])), baseBuilt))
	}
	return costs
}

// keptOverBy names, for a function over a target, the libraries beyond
// DynamoDB it links with what each adds (size or init), largest first.
func keptOverBy(libs *Libraries, costs []LibraryCost, size bool) string {
	if libs == nil || len(costs) == 0 {
		return ""
	}
	linked := map[string]bool{}
	for svc := range libs.AWS {
		linked[svc] = true
	}
	if len(libs.MSAL) > 0 {
		linked[msalLibrary] = true
	}
	var named []LibraryCost
	for _, c := range costs {
		if c.Library != baseLibrary && linked[c.Library] && c.Error == "" {
			named = append(named, c)
		}
	}
	slices.SortFunc(named, func(a, b LibraryCost) int {
		if size {
			return int(b.Bytes - a.Bytes)
		}
		return int(b.Init - a.Init)
	})
	var parts []string
	for _, c := range named {
		if size {
			parts = append(parts, fmt.Sprintf("%s +%s", c.Library, megabytes(c.Bytes)))
		} else if c.InitError == "" {
			parts = append(parts, fmt.Sprintf("%s +%s init", c.Library, millis(c.Init)))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ", ")
}

func (s *libraryCosts) markdown(b *strings.Builder) {
	if len(s.costs) == 0 {
		return
	}
	b.WriteString("\n## What each library adds\n\n")
	b.WriteString("| Library | Over | Size added | Go package init added | Operations reached | Functions |\n|---|---|---:|---:|---|---|\n")
	for _, c := range s.costs {
		size, init := megabytes(c.Bytes), millis(c.Init)
		if c.Error != "" {
			size = statusCell(StatusFailed, c.Error)
		}
		if c.InitError != "" {
			init = statusCell(StatusFailed, c.InitError)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", c.Library, c.Over, size, init,
			strings.Join(c.Operations, ", "), strings.Join(c.Functions, ", "))
	}
	b.WriteString("\nEach figure compares a floor with the library to the same floor without it, built and traced in this run: the size difference, and the summed median init of the packages only the floor with it has. A function over a target names, next to its verdict, the libraries beyond DynamoDB it links with what each adds.\n")
}

// libraryCosts renders LibraryCosts.
type libraryCosts struct{ costs []LibraryCost }
