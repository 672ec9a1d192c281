package bench

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0 ≤ p ≤ 100) of samples by linear
// interpolation between the closest ranks, the definition most spreadsheet
// and statistics tools use. It returns 0 for no samples and leaves samples
// unchanged.
func Percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	p = math.Max(0, math.Min(100, p))
	rank := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	frac := rank - float64(lo)
	return s[lo] + time.Duration(math.Round(frac*float64(s[hi]-s[lo])))
}

// Median returns the 50th percentile of samples.
func Median(samples []time.Duration) time.Duration { return Percentile(samples, 50) }

// Ratio returns a/b, or 0 when b is not positive, so that a missing floor
// shows as "no ratio" rather than as infinity.
func Ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}
