package bench

import (
	"strings"
	"testing"
)

func TestCPUModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cpuinfo string
		want    string
	}{
		{"x86", "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n", "AMD EPYC 7B13"},
		{"arm with Hardware", "processor\t: 0\nCPU part\t: 0xd0c\nHardware\t: Graviton\n", "Graviton"},
		{"arm with CPU part only", "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n", "CPU part 0xd0c"},
		{"nothing known", "processor\t: 0\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := cpuModel(strings.NewReader(tt.cpuinfo)); got != tt.want {
				t.Errorf("cpuModel = %q, want %q", got, tt.want)
			}
		})
	}
}
