package bench

import (
	"reflect"
	"strings"
	"testing"
)

const goTestOutput = `goos: linux
goarch: amd64
pkg: github.com/ocpro/upgrade/internal/store
cpu: AMD EPYC
BenchmarkCreateUpgrade-8   	     312	   3841022 ns/op	         1.000 rtt/op	         2.000 wcu/op	   48211 B/op	     512 allocs/op
BenchmarkSweep/pending=10000/due=1000-8         	       1	1234567890 ns/op	       250.5 rcu/op
--- BENCH: BenchmarkSweep/pending=10000/due=1000-8
    store_test.go:88: seeded 10000 invitations
BenchmarkNoProcs 	 1000	 12 ns/op
PASS
ok  	github.com/ocpro/upgrade/internal/store	12.345s
pkg: github.com/ocpro/upgrade/internal/api
BenchmarkOpen-my-link-2 	 200	 5000 ns/op
--- FAIL: BenchmarkBroken-2
    api_test.go:10: boom
FAIL
FAIL	github.com/ocpro/upgrade/internal/api	0.512s
FAIL	github.com/ocpro/upgrade/internal/mail [build failed]
?   	github.com/ocpro/upgrade/internal/fault	[no test files]
FAIL
`

func TestParseGoBench(t *testing.T) {
	t.Parallel()
	got, failed, err := ParseGoBench(strings.NewReader(goTestOutput))
	if err != nil {
		t.Fatalf("ParseGoBench: %v", err)
	}
	const store, api = "github.com/ocpro/upgrade/internal/store", "github.com/ocpro/upgrade/internal/api"
	want := []GoBenchmark{
		{Package: store, Name: "BenchmarkCreateUpgrade", Procs: 8, Iterations: 312, Metrics: map[string]float64{
			"ns/op": 3841022, "rtt/op": 1, "wcu/op": 2, "B/op": 48211, "allocs/op": 512}},
		{Package: store, Name: "BenchmarkSweep/pending=10000/due=1000", Procs: 8, Iterations: 1, Metrics: map[string]float64{
			"ns/op": 1234567890, "rcu/op": 250.5}},
		{Package: store, Name: "BenchmarkNoProcs", Iterations: 1000, Metrics: map[string]float64{"ns/op": 12}},
		{Package: api, Name: "BenchmarkOpen-my-link", Procs: 2, Iterations: 200, Metrics: map[string]float64{"ns/op": 5000}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("benchmarks:\n got %+v\nwant %+v", got, want)
	}
	wantFailed := []string{api, "github.com/ocpro/upgrade/internal/mail [build failed]"}
	if !reflect.DeepEqual(failed, wantFailed) {
		t.Errorf("failed = %q, want %q", failed, wantFailed)
	}
}

func TestParseBenchLineRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		line string
	}{
		{"name only, as printed before the result", "BenchmarkX-8   \t"},
		{"iterations not a number", "BenchmarkX-8 many 12 ns/op"},
		{"value without unit", "BenchmarkX-8 10 12 ns/op 7"},
		{"value not a number", "BenchmarkX-8 10 twelve ns/op"},
		{"prose starting with Benchmark", "Benchmarks are run below"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if b, ok := parseBenchLine(tt.line); ok {
				t.Errorf("parseBenchLine(%q) = %+v, want rejected", tt.line, b)
			}
		})
	}
}
