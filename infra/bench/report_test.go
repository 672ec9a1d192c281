package bench

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// sampleReport has a row of every kind: under and over target, missing,
// failed, and benchmarks with and without custom metrics.
func sampleReport() *Report {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	return &Report{
		Started: time.Date(2026, 11, 29, 17, 0, 0, 0, time.UTC),
		Machine: Machine{CPUs: 2, Model: "AMD EPYC", GoVersion: "go1.26.8", OS: "linux", Arch: "amd64"},
		Sizes: &SizeSection{GOOS: "linux", GOARCH: "arm64", Target: SizeTarget, MinimalBytes: 5_832_866, Functions: []FunctionSize{
			{Function: "ConsentCallbackFunction", Package: "./functions/consentcallback", Status: StatusOK, Bytes: 7_000_000, Ratio: 1.2,
				Libraries:  &Libraries{AWS: map[string][]string{"dynamodb": {"GetItem", "PutItem"}}, MSAL: []string{"AcquireTokenByCredential"}},
				FloorBytes: 6_500_000, FloorRatio: 1.11, OverFloor: 1.08},
			{Function: "InvitationEmailFunction", Package: "./functions/invitationemail", Status: StatusMissing},
			{Function: "TokenValidationFunction", Package: "./functions/tokenvalidation", Status: StatusFailed, Error: "building: exit status 1:\nmain.go:3: syntax error | oops"},
			{Function: "UpgradeRequestsFunction", Package: "./functions/upgraderequests", Status: StatusOK, Bytes: 10_813_602, Ratio: 1.85, FloorError: "building libraries' floor: exit status 1",
				ReflectMethod: []string{"text/template.(*state).evalField", "x.(*T|U).M"}},
		}},
		ColdStarts: &ColdStartSection{Target: ColdStartTarget, Starts: 20,
			Minimal: ColdStart{Function: MinimalName, Status: StatusOK, Probe: "GET /__bench/cold-start", Outcome: "statusCode 200",
				Starts: 20, FirstResponse: Summary{Median: ms(4.95), P90: ms(5.44)}},
			Functions: []ColdStart{
				{Function: "ConsentCallbackFunction", Status: StatusOK, Probe: "GET /__bench/cold-start", Outcome: "statusCode 404",
					Starts: 20, FirstResponse: Summary{Median: ms(5.66), P90: ms(5.86)}, Ratio: 1.14,
					Floor: &Summary{Median: ms(5.2), P90: ms(5.5)}, FloorRatio: 1.05, OverFloor: 1.09, FloorInit: &InitCost{Total: ms(2.5)},
					Init: &InitCost{Total: ms(2.95), Largest: []PackageInit{
						{Package: "github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas", Clock: ms(0.7)},
						{Package: "runtime", Clock: ms(0.12)},
					}}},
				{Function: "InvitationEmailFunction", Status: StatusMissing, Probe: "EventBridge Bench Probe"},
				{Function: "UpgradeRequestsFunction", Status: StatusOK, Probe: "GET /__bench/cold-start", Outcome: "statusCode 404",
					Starts: 20, FirstResponse: Summary{Median: ms(9.29), P90: ms(10.05)}, Ratio: 1.88,
					FloorError: "bench: runtime init failed"},
			}},
		GoBenchmarks: &GoBenchSection{Packages: []string{"./internal/..."}, Benchmarks: []GoBenchmark{
			{Package: "github.com/ocpro/upgrade/internal/store", Name: "BenchmarkCreateUpgrade", Procs: 2, Iterations: 300,
				Metrics: map[string]float64{"ns/op": 3841022, "B/op": 48211, "allocs/op": 512, "rtt/op": 2, "rcu/op": 0.5, "wcu/op": 4}},
			{Package: "github.com/ocpro/upgrade/internal/api", Name: "BenchmarkDecode", Procs: 2, Iterations: 1000000,
				Metrics: map[string]float64{"ns/op": 812.5}},
		}, Failures: []string{"github.com/ocpro/upgrade/internal/mail [build failed]"}},
		Gateway: &GatewayOverhead{Iterations: 500, Direct: Summary{Median: 806 * time.Microsecond, P90: 1018 * time.Microsecond},
			Gateway: Summary{Median: 943 * time.Microsecond, P90: 1129 * time.Microsecond}, Ratio: 1.17},
		Notes: []string{"gateway overhead: something\nwent wrong"},
	}
}

func TestMarkdownGolden(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := sampleReport().Markdown(&b); err != nil {
		t.Fatalf("Markdown: %v", err)
	}
	golden := filepath.Join("testdata", "report.md")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("reading golden file (go test -update writes it): %v", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("Markdown differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
}

func TestMarkdownFlags(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := sampleReport().Markdown(&b); err != nil {
		t.Fatalf("Markdown: %v", err)
	}
	md := b.String()
	tests := []struct {
		name, want string
	}{
		{"machine line comes first", "Machine: 2 CPUs, AMD EPYC, go1.26.8 (linux/amd64)"},
		{"size over target is flagged", "| UpgradeRequestsFunction | 10.81 MB | 1.85x | **over** |"},
		{"size under target is ok", "| ConsentCallbackFunction | 7.00 MB | 1.20x | ok |"},
		{"missing function is a row", "| InvitationEmailFunction | – | – | missing |"},
		{"build error stays on one line and escapes pipes", `failed: building: exit status 1: main.go:3: syntax error \| oops`},
		{"cold start over target is flagged", "| UpgradeRequestsFunction | 9.29 ms | 10.05 ms | 1.88x | **over** |"},
		{"custom metrics share a column", "| internal/store | BenchmarkCreateUpgrade | 3841022 | 48211 | 512 | 0.5 rcu/op, 2 rtt/op, 4 wcu/op |"},
		{"absent metrics show a dash", "| internal/api | BenchmarkDecode | 812.5 | – | – | – |"},
		{"failed package is named", "Failed: github.com/ocpro/upgrade/internal/mail [build failed]"},
		{"gateway ratio", "Ratio of medians: 1.17x"},
		{"notes are one line each", "- gateway overhead: something went wrong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(md, tt.want) {
				t.Errorf("Markdown lacks %q:\n%s", tt.want, md)
			}
		})
	}
	if i, j := strings.Index(md, "Machine:"), strings.Index(md, "## "); i < 0 || i > j {
		t.Errorf("the machine line must come before the first section")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	in := sampleReport()
	var b bytes.Buffer
	if err := in.JSON(&b); err != nil {
		t.Fatalf("JSON: %v", err)
	}
	var out Report
	if err := json.Unmarshal(b.Bytes(), &out); err != nil {
		t.Fatalf("decoding the JSON: %v", err)
	}
	if !reflect.DeepEqual(*in, out) {
		t.Errorf("round trip changed the report:\n got %+v\nwant %+v", out, *in)
	}
	if !strings.Contains(b.String(), `"medianNs": 9290000`) {
		t.Errorf("durations must be plain nanoseconds for scripts:\n%s", b.String())
	}
}

func TestMarkdownSkipsSectionsNotRun(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	r := &Report{Machine: Machine{CPUs: 1}}
	if err := r.Markdown(&b); err != nil {
		t.Fatalf("Markdown: %v", err)
	}
	if strings.Contains(b.String(), "## ") {
		t.Errorf("a report without sections rendered one:\n%s", b.String())
	}
}

func TestNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    float64
		want string
	}{
		{"whole", 512, "512"},
		{"large fraction keeps one decimal", 812.54, "812.5"},
		{"small fraction", 0.5, "0.5"},
		{"repeating fraction is cut", 1.0 / 3, "0.333"},
		{"tiny is never in exponent form", 0.00001, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := number(tt.v); got != tt.want {
				t.Errorf("number(%v) = %q, want %q", tt.v, got, tt.want)
			}
		})
	}
}
