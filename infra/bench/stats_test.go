package bench

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"no samples", nil, 50, 0},
		{"one sample", ms(7), 90, 7 * time.Millisecond},
		{"odd count median", ms(9, 1, 5), 50, 5 * time.Millisecond},
		{"even count median interpolates", ms(4, 1, 3, 2), 50, 2500 * time.Microsecond},
		{"p90 of ten interpolates", ms(10, 1, 2, 3, 4, 5, 6, 7, 8, 9), 90, 9100 * time.Microsecond},
		{"p0 is the minimum", ms(3, 1, 2), 0, time.Millisecond},
		{"p100 is the maximum", ms(3, 1, 2), 100, 3 * time.Millisecond},
		{"p above 100 is clamped", ms(3, 1, 2), 150, 3 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Percentile(tt.samples, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.samples, tt.p, got, tt.want)
			}
		})
	}
}

func TestPercentileLeavesSamplesUnsorted(t *testing.T) {
	t.Parallel()
	s := []time.Duration{3, 1, 2}
	Median(s)
	if s[0] != 3 || s[1] != 1 || s[2] != 2 {
		t.Errorf("Median reordered its input: %v", s)
	}
}

func TestRatio(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b float64
		want float64
	}{
		{"plain", 3, 2, 1.5},
		{"zero floor has no ratio", 3, 0, 0},
		{"negative floor has no ratio", 3, -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Ratio(tt.a, tt.b); got != tt.want {
				t.Errorf("Ratio(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}
