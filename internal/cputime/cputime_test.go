package cputime

import (
	"runtime"
	"testing"
	"time"
)

// Busy work shows as CPU time, and CPU time never runs backwards.
func TestSelfCountsBusyWork(t *testing.T) {
	before := Self()
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	after := Self()
	if after < before {
		t.Fatalf("CPU time ran backwards: %v then %v", before, after)
	}
	if after-before < 10*time.Millisecond && runtime.GOOS != "plan9" {
		t.Fatalf("50 ms of busy work counted as %v of CPU (%d loops)", after-before, x)
	}
}
