package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// GoBenchmark is one benchmark result line of go test.
type GoBenchmark struct {
	Package string `json:"package"`
	// Name is the benchmark's name without the GOMAXPROCS suffix, sub-benchmarks
	// included: "BenchmarkSweep/pending=10000".
	Name       string `json:"name"`
	Procs      int    `json:"procs,omitempty"`
	Iterations int64  `json:"iterations"`
	// Metrics maps each unit to its value: ns/op, B/op and allocs/op, and
	// whatever the benchmark reported with b.ReportMetric (rtt/op, rcu/op).
	Metrics map[string]float64 `json:"metrics"`
}

// ParseGoBench reads go test -bench output (text, not -json) and returns the
// benchmark results and the packages that failed. Lines it does not
// recognise, such as a benchmark's own logging, are skipped.
func ParseGoBench(r io.Reader) (benchmarks []GoBenchmark, failed []string, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	pkg := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimSpace(strings.TrimPrefix(line, "pkg: "))
		case strings.HasPrefix(line, "FAIL\t"):
			// "FAIL\t<package>\t0.01s" or "FAIL\t<package> [build failed]".
			f := strings.Fields(strings.TrimPrefix(line, "FAIL\t"))
			if len(f) == 0 {
				continue
			}
			name := f[0]
			if len(f) > 1 && strings.HasPrefix(f[1], "[") {
				name += " " + strings.Join(f[1:], " ")
			}
			failed = append(failed, name)
		case strings.HasPrefix(line, "Benchmark"):
			if b, ok := parseBenchLine(line); ok {
				b.Package = pkg
				benchmarks = append(benchmarks, b)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return benchmarks, failed, fmt.Errorf("bench: reading go test output: %w", err)
	}
	return benchmarks, failed, nil
}

// parseBenchLine parses "BenchmarkX-8  1000  1234 ns/op  56 B/op  2.00 rtt/op".
func parseBenchLine(line string) (GoBenchmark, bool) {
	f := strings.Fields(line)
	// A name, the iterations, and value-unit pairs.
	if len(f) < 4 || len(f)%2 != 0 {
		return GoBenchmark{}, false
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return GoBenchmark{}, false
	}
	b := GoBenchmark{Name: f[0], Iterations: n, Metrics: make(map[string]float64, (len(f)-2)/2)}
	// The -N suffix is GOMAXPROCS; a name may itself contain dashes.
	if i := strings.LastIndexByte(f[0], '-'); i > 0 {
		if p, err := strconv.Atoi(f[0][i+1:]); err == nil {
			b.Name, b.Procs = f[0][:i], p
		}
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return GoBenchmark{}, false
		}
		b.Metrics[f[i+1]] = v
	}
	return b, true
}

// RunGoBench runs go test -run '^$' -bench . -benchmem over packages in dir
// and parses what it prints. Output, when not nil, gets a copy of go test's
// output as it comes. A package that fails is listed in the section, not
// returned as an error: one broken package must not hide the others'
// figures.
func RunGoBench(ctx context.Context, dir string, packages []string, output io.Writer) (*GoBenchSection, error) {
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "1", "-timeout", "30m"}, packages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var out bytes.Buffer
	w := io.Writer(&out)
	if output != nil {
		w = io.MultiWriter(&out, output)
	}
	cmd.Stdout, cmd.Stderr = w, w
	runErr := cmd.Run()
	benchmarks, failed, err := ParseGoBench(&out)
	if err != nil {
		return nil, err
	}
	if runErr != nil && len(failed) == 0 {
		// go test failed before any package ran, for example on a bad
		// pattern: that is the harness's problem, not a package's.
		return nil, fmt.Errorf("bench: go %s: %w: %s", strings.Join(args, " "), runErr, tail(out.String(), 400))
	}
	return &GoBenchSection{Packages: packages, Benchmarks: benchmarks, Failures: failed}, nil
}

// tail returns the last n bytes of s, where errors usually are.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
