package bench

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseInitTrace(t *testing.T) {
	t.Parallel()
	in := strings.NewReader(`init runtime @0.037 ms, 0.12 ms clock, 0 bytes, 0 allocs
init github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas @2.3 ms, 0.70 ms clock, 586696 bytes, 3151 allocs
init broken @1 ms, x ms clock, 0 bytes, 0 allocs
2026/11/29 19:00:00 expected AWS Lambda environment variables [_LAMBDA_SERVER_PORT AWS_LAMBDA_RUNTIME_API] are not defined
init short line
`)
	got := parseInitTrace(in)
	want := []PackageInit{
		{Package: "runtime", Clock: 120 * time.Microsecond},
		{Package: "github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas", Clock: 700 * time.Microsecond},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseInitTrace = %+v, want %+v", got, want)
	}
}

func TestMeasureInitOfMinimalHandler(t *testing.T) {
	t.Parallel()
	cost, err := MeasureInit(t.Context(), hostMinimal(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	if cost.Total <= 0 || len(cost.Largest) == 0 || len(cost.Largest) > largestInits {
		t.Fatalf("MeasureInit = %+v, want a positive total and 1 to %d packages", cost, largestInits)
	}
	for i := 1; i < len(cost.Largest); i++ {
		if cost.Largest[i].Clock > cost.Largest[i-1].Clock {
			t.Errorf("Largest not longest first: %+v", cost.Largest)
		}
	}
	if _, err := MeasureInit(t.Context(), hostMinimal(t), 0); err == nil {
		t.Error("MeasureInit with 0 runs did not fail")
	}
}

func TestAddedInitCountsOnlyTheNewPackages(t *testing.T) {
	t.Parallel()
	with := map[string]time.Duration{"runtime": 3 * time.Millisecond, "kms/schemas": 2 * time.Millisecond, "kms": time.Millisecond}
	without := map[string]time.Duration{"runtime": time.Millisecond}
	if got := addedInit(with, without); got != 3*time.Millisecond {
		t.Errorf("addedInit = %v, want 3ms (the shared runtime's noise left out)", got)
	}
}
