package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PackageInit is the time one package's init took, the median of several
// runs.
type PackageInit struct {
	Package string        `json:"package"`
	Clock   time.Duration `json:"clockNs"`
}

// InitCost is how long Go's package initialisation took before main: the
// part of a cold start that no code of ours runs and that only linking
// fewer packages can shorten.
type InitCost struct {
	// Total is the median over runs of the summed init clock.
	Total time.Duration `json:"totalNs"`
	// Largest are the packages with the longest median init, longest
	// first.
	Largest []PackageInit `json:"largest,omitempty"`
}

// largestInits is how many packages InitCost.Largest names.
const largestInits = 3

// MeasureInit runs bootstrap runs times with GODEBUG=inittrace=1 and an
// otherwise empty environment, so that main finds no Lambda runtime and
// exits straight after init, and reads the runtime's per-package trace.
func MeasureInit(ctx context.Context, bootstrap string, runs int) (InitCost, error) {
	if runs < 1 {
		return InitCost{}, fmt.Errorf("bench: %d init runs asked for; need at least 1", runs)
	}
	var totals []time.Duration
	perPackage := make(map[string][]time.Duration)
	for range runs {
		trace, err := initTrace(ctx, bootstrap)
		if err != nil {
			return InitCost{}, err
		}
		var total time.Duration
		for _, p := range trace {
			total += p.Clock
			perPackage[p.Package] = append(perPackage[p.Package], p.Clock)
		}
		totals = append(totals, total)
	}
	cost := InitCost{Total: Median(totals)}
	for pkg, clocks := range perPackage {
		cost.Largest = append(cost.Largest, PackageInit{Package: pkg, Clock: Median(clocks)})
	}
	slices.SortFunc(cost.Largest, func(a, b PackageInit) int {
		return cmp.Or(cmp.Compare(b.Clock, a.Clock), strings.Compare(a.Package, b.Package))
	})
	cost.Largest = cost.Largest[:min(largestInits, len(cost.Largest))]
	return cost, nil
}

// MeasurePackageInits runs bootstrap runs times like MeasureInit and
// returns every package's median init clock.
func MeasurePackageInits(ctx context.Context, bootstrap string, runs int) (map[string]time.Duration, error) {
	if runs < 1 {
		return nil, fmt.Errorf("bench: %d init runs asked for; need at least 1", runs)
	}
	perPackage := make(map[string][]time.Duration)
	for range runs {
		trace, err := initTrace(ctx, bootstrap)
		if err != nil {
			return nil, err
		}
		for _, p := range trace {
			perPackage[p.Package] = append(perPackage[p.Package], p.Clock)
		}
	}
	out := make(map[string]time.Duration, len(perPackage))
	for pkg, clocks := range perPackage {
		out[pkg] = Median(clocks)
	}
	return out, nil
}

// addedInit is the init that the packages of with that without lacks
// take: what linking a library adds, free of the noise that the packages
// both share would bring into a difference of totals.
func addedInit(with, without map[string]time.Duration) time.Duration {
	var d time.Duration
	for pkg, clock := range with {
		if _, ok := without[pkg]; !ok {
			d += clock
		}
	}
	return d
}

// initTrace runs bootstrap once and returns its init trace.
func initTrace(ctx context.Context, bootstrap string) ([]PackageInit, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bootstrap)
	cmd.Env = []string{"GODEBUG=inittrace=1"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// Without a runtime API main fails, which is the point: the exit
	// status says nothing about init.
	_ = cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("bench: %s did not exit after init: %w", bootstrap, ctx.Err())
	}
	trace := parseInitTrace(&stderr)
	if len(trace) == 0 {
		return nil, fmt.Errorf("bench: %s printed no init trace: %s", bootstrap, tail(stderr.String(), 300))
	}
	return trace, nil
}

// parseInitTrace reads the runtime's lines of the form
//
//	init net/http @5.5 ms, 0.051 ms clock, 4712 bytes, 49 allocs
//
// and skips everything else.
func parseInitTrace(r io.Reader) []PackageInit {
	var out []PackageInit
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 7 || f[0] != "init" || !strings.HasPrefix(f[2], "@") || f[5] != "ms" || f[6] != "clock," {
			continue
		}
		ms, err := strconv.ParseFloat(f[4], 64)
		if err != nil || ms < 0 {
			continue
		}
		out = append(out, PackageInit{Package: f[1], Clock: time.Duration(ms * float64(time.Millisecond))})
	}
	return out
}
