package bench

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ocpro/upgrade/infra/testenv"
)

// rie returns the installed aws-lambda-rie, or fails the test with the way
// to install it.
func rie(t *testing.T) string {
	t.Helper()
	testenv.Integration(t)
	path := filepath.Join(testenv.CacheDir(t), "bin", "aws-lambda-rie")
	if err := checkExecutable(path); err != nil {
		t.Fatalf("aws-lambda-rie is not installed (make deps builds it): %v", err)
	}
	return path
}

// hostMinimal builds the minimal handler for this machine.
func hostMinimal(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	if _, err := Build(t.Context(), testenv.RepoRoot(t), Target{Name: MinimalName, Package: MinimalPackage}, "linux", runtime.GOARCH, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBuildReportsMissingAndBrokenPackages(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for name, body := range map[string]string{
		"go.mod":                       "module example.com/broken\n\ngo 1.26\n",
		"functions/broken/main.go":     "package main\n\nfunc main() { undefined() }\n",
		"functions/testonly/x_test.go": "package main\n",
	} {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		pkg     string
		want    Status
		missing bool
	}{
		{"no folder", "./functions/absent", StatusMissing, true},
		{"only tests", "./functions/testonly", StatusMissing, true},
		{"does not compile", "./functions/broken", StatusFailed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Build(t.Context(), root, Target{Name: "X", Package: tt.pkg}, "linux", "arm64", filepath.Join(t.TempDir(), "bootstrap"))
			if got := statusOf(err); got != tt.want {
				t.Errorf("status = %q (err %v), want %q", got, err, tt.want)
			}
			if errors.Is(err, errMissing) != tt.missing {
				t.Errorf("errors.Is(err, errMissing) = %v, want %v", !tt.missing, tt.missing)
			}
		})
	}
}

func TestMeasureColdStarts(t *testing.T) {
	t.Parallel()
	rie := rie(t)
	minimal := hostMinimal(t)
	// A bootstrap that exits at once is a runtime whose init fails.
	exits := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(exits, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	floor := Probed{Name: MinimalName, Bootstrap: minimal, Env: ProbeEnv(nil), Probe: HTTPProbe()}
	functions := []Probed{
		{Name: "Same", Bootstrap: minimal, Env: ProbeEnv(nil), Probe: eventProbe()},
		{Name: "Absent", Status: StatusMissing, Probe: HTTPProbe()},
		{Name: "Dies", Bootstrap: exits, Env: ProbeEnv(nil), Probe: HTTPProbe()},
	}
	const starts = 3
	sec, err := MeasureColdStarts(t.Context(), rie, floor, functions, starts, nil)
	if err != nil {
		t.Fatalf("MeasureColdStarts: %v", err)
	}
	if sec.Minimal.Starts != starts || sec.Minimal.FirstResponse.Median <= 0 || sec.Minimal.Outcome != "statusCode 200" {
		t.Errorf("minimal = %+v, want %d timed starts answering statusCode 200", sec.Minimal, starts)
	}
	want := []struct {
		name   string
		status Status
		starts int
	}{
		{"Same", StatusOK, starts},
		{"Absent", StatusMissing, 0},
		{"Dies", StatusFailed, 0},
	}
	if len(sec.Functions) != len(want) {
		t.Fatalf("got %d functions, want %d", len(sec.Functions), len(want))
	}
	for i, w := range want {
		c := sec.Functions[i]
		if c.Function != w.name || c.Status != w.status || c.Starts != w.starts {
			t.Errorf("function %d = %s %s with %d starts (%s), want %s %s with %d", i, c.Function, c.Status, c.Starts, c.Error, w.name, w.status, w.starts)
		}
	}
	if same := sec.Functions[0]; same.Ratio <= 0 || same.Outcome == "" {
		t.Errorf("a measured function needs a ratio and an outcome: %+v", same)
	}
	if dies := sec.Functions[2]; dies.Error == "" {
		t.Errorf("a failed function must say why")
	}
}

func TestMeasureGateway(t *testing.T) {
	t.Parallel()
	o, err := MeasureGateway(t.Context(), rie(t), hostMinimal(t), 5)
	if err != nil {
		t.Fatalf("MeasureGateway: %v", err)
	}
	if o.Iterations != 5 || o.Direct.Median <= 0 || o.Gateway.Median <= 0 || o.Ratio <= 0 {
		t.Errorf("overhead = %+v, want both paths timed and a ratio", o)
	}
}

func TestRunNeedsRootAndBuildDir(t *testing.T) {
	t.Parallel()
	if _, err := Run(t.Context(), Config{}); err == nil {
		t.Error("Run without Root and BuildDir succeeded")
	}
}
