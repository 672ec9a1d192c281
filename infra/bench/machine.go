package bench

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Machine says where a report was measured.
type Machine struct {
	CPUs      int    `json:"cpus"`
	Model     string `json:"model"`
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

// DescribeMachine reads the CPU count, the CPU model from /proc/cpuinfo and
// the version of the go command that builds the functions (which may differ
// from the one that built the harness). What it cannot read stays empty.
func DescribeMachine(ctx context.Context) Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		m.Model = cpuModel(f)
		f.Close()
	}
	if out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		if v := strings.TrimSpace(string(out)); v != "" {
			m.GoVersion = v
		}
	}
	return m
}

// cpuModel returns the first "model name" of a /proc/cpuinfo. ARM kernels
// often have none; there the "Hardware" or "CPU part" line is the best
// there is.
func cpuModel(r io.Reader) string {
	fallback := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch key {
		case "model name":
			return value
		case "Hardware":
			fallback = value
		case "CPU part":
			if fallback == "" {
				fallback = "CPU part " + value
			}
		}
	}
	return fallback
}
