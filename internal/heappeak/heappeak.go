// Package heappeak measures the peak live heap of a piece of work, for benchmarks that
// report memory beyond -benchmem's allocation counts.
package heappeak

import (
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// Watch samples the live heap every 2 ms until stop is called; peak returns the largest
// sample so far.
func Watch() (peak func() uint64, stop func()) {
	var max atomic.Uint64
	done := make(chan struct{})
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > max.Load() {
				max.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return max.Load, func() { close(done) }
}
