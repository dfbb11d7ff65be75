package storetest

import (
	"sync"
	"testing"
	"time"
)

// Writers splits b.N operations over n goroutines released together and reports
// the rate as ops/s, the figure the append targets are stated in. Store
// benchmarks of every adapter and layer use it, so their figures compare.
func Writers(b *testing.B, n int, op func(writer, i int)) {
	b.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	per := (b.N + n - 1) / n
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range per {
				op(w, i)
			}
		}()
	}
	b.ResetTimer()
	t0 := time.Now()
	close(start)
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(per*n)/time.Since(t0).Seconds(), "ops/s")
}
