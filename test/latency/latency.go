// Package latency summarises the latencies the load tools measure.
package latency

import (
	"slices"
	"time"
)

// Percentile returns the p-th percentile of d (nearest rank), rounded to the
// microsecond; 0 for no samples. d is not modified.
func Percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, len(s)*p/100)].Round(time.Microsecond)
}
