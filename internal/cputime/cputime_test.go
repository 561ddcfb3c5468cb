package cputime

import (
	"runtime"
	"testing"
	"time"
)

// Busy work shows as CPU time, and CPU time never runs backwards. The loop spins until
// the count moves (a clock tick or less on a quiet machine); the wall-clock bound only
// keeps a broken Self from spinning forever, and is no measure of speed.
func TestSelfCountsBusyWork(t *testing.T) {
	if runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("the system does not say")
	}
	before := Self()
	now := before
	for give := time.Now().Add(time.Minute); now == before && time.Now().Before(give); {
		now = Self()
	}
	if now <= before {
		t.Fatalf("a minute of busy work left CPU time at %v (then %v)", before, now)
	}
}
