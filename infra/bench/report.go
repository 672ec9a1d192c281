// Package bench is the performance harness behind make bench: it measures
// every function of template.yaml against a minimal aws-lambda-go handler
// built and run the same way in the same run (binary size, cold start under
// aws-lambda-rie), collects the go test benchmarks of the store and API code,
// measures the local API Gateway's overhead over a direct invocation, and
// renders one table as Markdown and JSON.
//
// Every figure that carries a target is a ratio of two measurements taken
// in the same run on the same machine: shared machines are too noisy for
// absolute times to mean anything from one run to the next.
//
// DynamoCounter is the piece other packages use: an aws-sdk-go-v2 middleware
// that counts DynamoDB round trips and consumed capacity in their
// benchmarks.
package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The performance targets: a function may be this many times the
// minimal handler.
const (
	SizeTarget      = 1.4
	ColdStartTarget = 1.4
)

// MinimalName names the minimal handler in the tables.
const MinimalName = "minimal handler"

// Status says whether a function could be measured.
type Status string

// The statuses of a measured function.
const (
	StatusOK = Status("ok")
	// StatusMissing: template.yaml declares the function but its package
	// is not in the tree yet.
	StatusMissing = Status("missing")
	// StatusFailed: the package exists but did not build or start.
	StatusFailed = Status("failed")
)

// Report is the outcome of one harness run. A section is nil when it was
// not run.
type Report struct {
	Started time.Time    `json:"started"`
	Machine Machine      `json:"machine"`
	Sizes   *SizeSection `json:"sizes,omitempty"`
	// Libraries is what each library adds (MeasureLibraryCosts).
	Libraries    []LibraryCost     `json:"libraries,omitempty"`
	ColdStarts   *ColdStartSection `json:"coldStarts,omitempty"`
	GoBenchmarks *GoBenchSection   `json:"goBenchmarks,omitempty"`
	Gateway      *GatewayOverhead  `json:"gateway,omitempty"`
	// Notes say which sections failed as a whole, and why.
	Notes []string `json:"notes,omitempty"`
}

// SizeSection compares the stripped binary sizes of the functions with the
// minimal handler's.
type SizeSection struct {
	GOOS         string         `json:"goos"`
	GOARCH       string         `json:"goarch"`
	Target       float64        `json:"target"`
	MinimalBytes int64          `json:"minimalBytes"`
	Functions    []FunctionSize `json:"functions"`
}

// FunctionSize is one function's binary.
type FunctionSize struct {
	Function string `json:"function"`
	Package  string `json:"package"`
	Status   Status `json:"status"`
	Bytes    int64  `json:"bytes,omitempty"`
	// Ratio is Bytes over the minimal handler's bytes.
	Ratio float64 `json:"ratio,omitempty"`
	// ReflectMethod lists the symbols that made the linker keep every
	// exported method (see Build); empty is the goal.
	ReflectMethod []string `json:"reflectMethod,omitempty"`
	// Libraries are the design's libraries the function links, and
	// FloorBytes the size of a floor that links just them (BuildFloor).
	Libraries  *Libraries `json:"libraries,omitempty"`
	FloorBytes int64      `json:"floorBytes,omitempty"`
	// FloorRatio is FloorBytes over the minimal handler's bytes: what the
	// libraries cost. OverFloor is Bytes over FloorBytes: what the
	// function's own code costs on top.
	FloorRatio float64 `json:"floorRatio,omitempty"`
	OverFloor  float64 `json:"overFloor,omitempty"`
	FloorError string  `json:"floorError,omitempty"`
	Error      string  `json:"error,omitempty"`
}

// ColdStartSection compares cold starts under aws-lambda-rie with the
// minimal handler's.
type ColdStartSection struct {
	Target    float64     `json:"target"`
	Starts    int         `json:"starts"`
	Minimal   ColdStart   `json:"minimal"`
	Functions []ColdStart `json:"functions"`
}

// ColdStart is one function's cold starts.
type ColdStart struct {
	Function string `json:"function"`
	Status   Status `json:"status"`
	// Probe describes the event each start was invoked with.
	Probe string `json:"probe,omitempty"`
	// Outcome is what the probe got back on the first start, for example
	// "statusCode 404" or "function error: X".
	Outcome string `json:"outcome,omitempty"`
	Starts  int    `json:"starts"`
	// FirstResponse is the time from the invocation, on which the emulator
	// execs the bootstrap, to the response.
	FirstResponse Summary `json:"firstResponse"`
	// Ratio is this function's median over the minimal handler's median.
	Ratio float64 `json:"ratio,omitempty"`
	// Init is the part of the start spent in Go's package initialisation.
	Init *InitCost `json:"init,omitempty"`
	// Floor is the cold start of the function's libraries' floor, started
	// in the same rounds; FloorRatio is its median over the minimal
	// handler's and OverFloor the function's median over its.
	Floor      *Summary  `json:"floor,omitempty"`
	FloorInit  *InitCost `json:"floorInit,omitempty"`
	FloorRatio float64   `json:"floorRatio,omitempty"`
	OverFloor  float64   `json:"overFloor,omitempty"`
	FloorError string    `json:"floorError,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// Summary is the median and 90th percentile of some samples.
type Summary struct {
	Median time.Duration `json:"medianNs"`
	P90    time.Duration `json:"p90Ns"`
}

// Summarize returns the median and 90th percentile of samples.
func Summarize(samples []time.Duration) Summary {
	return Summary{Median: Median(samples), P90: Percentile(samples, 90)}
}

// GoBenchSection holds the go test benchmarks of the service's packages.
type GoBenchSection struct {
	Packages   []string      `json:"packages"`
	Benchmarks []GoBenchmark `json:"benchmarks"`
	// Failures name the packages whose tests did not build or pass.
	Failures []string `json:"failures,omitempty"`
}

// GatewayOverhead compares the same request sent straight to aws-lambda-rie
// and through the local API Gateway.
type GatewayOverhead struct {
	Iterations int     `json:"iterations"`
	Direct     Summary `json:"direct"`
	Gateway    Summary `json:"gateway"`
	// Ratio is the gateway's median over the direct median.
	Ratio float64 `json:"ratio"`
}

// JSON writes the report as indented JSON. Durations are in nanoseconds.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Markdown writes the report as Markdown tables, machine first.
func (r *Report) Markdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Performance (%s)\n\n", r.Started.UTC().Format(time.RFC3339))
	m := r.Machine
	fmt.Fprintf(&b, "Machine: %d CPUs, %s, %s (%s/%s)\n", m.CPUs, orDash(m.Model), orDash(m.GoVersion), m.OS, m.Arch)
	over := r.keptOver
	if r.Sizes != nil {
		r.Sizes.markdown(&b, over)
	}
	(&libraryCosts{r.Libraries}).markdown(&b)
	if r.ColdStarts != nil {
		r.ColdStarts.markdown(&b, over)
	}
	if r.GoBenchmarks != nil {
		r.GoBenchmarks.markdown(&b)
	}
	if r.Gateway != nil {
		r.Gateway.markdown(&b)
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", oneLine(n))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// keptOver is the verdict cell of a function over a target: "**over**"
// followed by the libraries beyond DynamoDB that it links and what each
// adds to size (size) or to package init.
func (r *Report) keptOver(function string, size bool) string {
	if r.Sizes == nil {
		return ""
	}
	for _, f := range r.Sizes.Functions {
		if f.Function == function {
			return keptOverBy(f.Libraries, r.Libraries, size)
		}
	}
	return ""
}

// overCell is verdict, naming what keeps a function over.
func overCell(ratio, target float64, by string) string {
	v := verdict(ratio, target)
	if ratio > target && by != "" {
		v += ": " + by
	}
	return v
}

func (s *SizeSection) markdown(b *strings.Builder, over func(string, bool) string) {
	fmt.Fprintf(b, "\n## Binary size (%s/%s, stripped, lambda.norpc)\n\n", s.GOOS, s.GOARCH)
	fmt.Fprintf(b, "| Function | Size | Ratio | Target ≤ %.2fx | Libraries' floor | Function over its floor | Keeps every method because of |\n", s.Target)
	b.WriteString("|---|---:|---:|---|---:|---:|---|\n")
	fmt.Fprintf(b, "| %s | %s | 1.00x | floor | – | – | – |\n", MinimalName, megabytes(s.MinimalBytes))
	keptBy := func(fn string, size bool) string {
		if over == nil {
			return ""
		}
		return over(fn, size)
	}
	var libs []string
	for _, f := range s.Functions {
		if f.Status != StatusOK {
			fmt.Fprintf(b, "| %s | – | – | %s | – | – | – |\n", f.Function, statusCell(f.Status, f.Error))
			continue
		}
		floor, overFloor := "–", "–"
		switch {
		case f.FloorError != "":
			floor = statusCell(StatusFailed, f.FloorError)
		case f.FloorBytes > 0:
			floor = fmt.Sprintf("%s, %.2fx", megabytes(f.FloorBytes), f.FloorRatio)
			overFloor = fmt.Sprintf("%.2fx", f.OverFloor)
		}
		fmt.Fprintf(b, "| %s | %s | %.2fx | %s | %s | %s | %s |\n", f.Function, megabytes(f.Bytes), f.Ratio,
			overCell(f.Ratio, s.Target, keptBy(f.Function, true)), floor, overFloor, reflectMethodCell(f.ReflectMethod))
		if f.Libraries != nil {
			libs = append(libs, fmt.Sprintf("- %s: %s\n", f.Function, f.Libraries))
		}
	}
	if len(libs) > 0 {
		b.WriteString("\nA function's floor is the minimal handler plus the libraries it links, with the same operations reachable and none of our code:\n\n")
		for _, l := range libs {
			b.WriteString(l)
		}
	}
}

// reflectMethodCell names what made the linker keep every method, or says
// that nothing did.
func reflectMethodCell(syms []string) string {
	if len(syms) == 0 {
		return "nothing"
	}
	cell := "`" + strings.Join(syms, "`, `") + "`"
	return strings.ReplaceAll(cell, "|", "\\|")
}

func (s *ColdStartSection) markdown(b *strings.Builder, over func(string, bool) string) {
	fmt.Fprintf(b, "\n## Cold start under aws-lambda-rie (%d starts each)\n\n", s.Starts)
	fmt.Fprintf(b, "| Function | Exec → first response, median | p90 | Ratio | Target ≤ %.2fx | Libraries' floor, median | Function over its floor | Go package init, function / floor | Probe → outcome |\n", s.Target)
	b.WriteString("|---|---:|---:|---:|---|---:|---:|---:|---|\n")
	keptBy := func(fn string, size bool) string {
		if over == nil {
			return ""
		}
		return over(fn, size)
	}
	row := func(c ColdStart, ratio, verdictCell string) {
		floor, over, init := "–", "–", initCell(c.Init)
		switch {
		case c.FloorError != "":
			floor = statusCell(StatusFailed, c.FloorError)
		case c.Floor != nil:
			floor = fmt.Sprintf("%s, %.2fx", millis(c.Floor.Median), c.FloorRatio)
			over = fmt.Sprintf("%.2fx", c.OverFloor)
			init += " / " + initCell(c.FloorInit)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s → %s |\n", c.Function,
			millis(c.FirstResponse.Median), millis(c.FirstResponse.P90),
			ratio, verdictCell, floor, over, init, orDash(c.Probe), orDash(c.Outcome))
	}
	floor := s.Minimal
	floor.Function = MinimalName
	row(floor, "1.00x", "floor")
	for _, c := range s.Functions {
		if c.Status != StatusOK {
			fmt.Fprintf(b, "| %s | – | – | – | %s | – | – | – | %s |\n", c.Function, statusCell(c.Status, c.Error), orDash(c.Probe))
			continue
		}
		row(c, fmt.Sprintf("%.2fx", c.Ratio), overCell(c.Ratio, s.Target, keptBy(c.Function, false)))
	}
	var largest []string
	for _, c := range append([]ColdStart{floor}, s.Functions...) {
		if c.Init == nil || len(c.Init.Largest) == 0 {
			continue
		}
		pkgs := make([]string, 0, len(c.Init.Largest))
		for _, p := range c.Init.Largest {
			pkgs = append(pkgs, fmt.Sprintf("`%s` %s", p.Package, millis(p.Clock)))
		}
		largest = append(largest, fmt.Sprintf("- %s: %s\n", c.Function, strings.Join(pkgs, ", ")))
	}
	if len(largest) > 0 {
		b.WriteString("\nLongest package inits (GODEBUG=inittrace=1, median):\n\n")
		for _, l := range largest {
			b.WriteString(l)
		}
	}
}

func initCell(c *InitCost) string {
	if c == nil {
		return "–"
	}
	return millis(c.Total)
}

// The standard metrics get columns of their own; custom ones (rtt/op,
// rcu/op, ...) share the last.
var standardMetrics = []string{"ns/op", "B/op", "allocs/op"}

func (s *GoBenchSection) markdown(b *strings.Builder) {
	fmt.Fprintf(b, "\n## Warm path: go test benchmarks (%s)\n\n", strings.Join(s.Packages, " "))
	if len(s.Benchmarks) == 0 {
		b.WriteString("No benchmarks found.\n")
	} else {
		b.WriteString("| Package | Benchmark | ns/op | B/op | allocs/op | Other metrics |\n|---|---|---:|---:|---:|---|\n")
		for _, gb := range s.Benchmarks {
			cells := make([]string, 0, len(standardMetrics))
			for _, unit := range standardMetrics {
				v, ok := gb.Metrics[unit]
				if !ok {
					cells = append(cells, "–")
					continue
				}
				cells = append(cells, number(v))
			}
			var other []string
			for _, unit := range slices.Sorted(maps.Keys(gb.Metrics)) {
				if !slices.Contains(standardMetrics, unit) {
					other = append(other, number(gb.Metrics[unit])+" "+unit)
				}
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", shortPackage(gb.Package), gb.Name,
				strings.Join(cells, " | "), orDash(strings.Join(other, ", ")))
		}
	}
	for _, f := range s.Failures {
		fmt.Fprintf(b, "\nFailed: %s\n", oneLine(f))
	}
}

func (g *GatewayOverhead) markdown(b *strings.Builder) {
	fmt.Fprintf(b, "\n## Local gateway overhead (minimal handler, %d requests each)\n\n", g.Iterations)
	b.WriteString("| Path | Median | p90 |\n|---|---:|---:|\n")
	fmt.Fprintf(b, "| straight to aws-lambda-rie | %s | %s |\n", micros(g.Direct.Median), micros(g.Direct.P90))
	fmt.Fprintf(b, "| through the local API Gateway | %s | %s |\n", micros(g.Gateway.Median), micros(g.Gateway.P90))
	fmt.Fprintf(b, "\nRatio of medians: %.2fx\n", g.Ratio)
}

func verdict(ratio, target float64) string {
	if ratio > target {
		return "**over**"
	}
	return "ok"
}

func statusCell(s Status, detail string) string {
	if detail == "" {
		return string(s)
	}
	const maxDetail = 120
	detail = oneLine(detail)
	if len(detail) > maxDetail {
		detail = detail[:maxDetail] + "…"
	}
	return string(s) + ": " + detail
}

// oneLine keeps a table cell or list item on one line and free of the
// characters that would break the table.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return oneLine(s)
}

func megabytes(n int64) string { return fmt.Sprintf("%.2f MB", float64(n)/1e6) }

func millis(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func micros(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

// number prints a metric readably: whole numbers plainly, large fractions
// with one decimal, small ones with up to three decimals (never in exponent
// form, which a table reader would misread).
func number(v float64) string {
	switch {
	case v == float64(int64(v)):
		return fmt.Sprintf("%d", int64(v))
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.1f", v)
	default:
		return strings.TrimRight(strings.TrimRight(strconv.FormatFloat(v, 'f', 3, 64), "0"), ".")
	}
}

// shortPackage drops the module path, which every package shares.
func shortPackage(p string) string {
	if i := strings.Index(p, "/internal/"); i >= 0 {
		return p[i+1:]
	}
	if i := strings.Index(p, "/functions/"); i >= 0 {
		return p[i+1:]
	}
	return p
}
