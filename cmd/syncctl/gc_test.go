package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// serve sets the collector's target to serveGCPercent, and leaves it as GOGC made it
// when the operator set GOGC.
func TestServeTunesTheCollectorUnlessGOGCIsSet(t *testing.T) {
	was := debug.SetGCPercent(100)
	defer debug.SetGCPercent(was)
	if got := tuneServeGC(func(string) string { return "" }); got != serveGCPercent {
		t.Fatalf("without GOGC: %d", got)
	}
	if p := debug.SetGCPercent(100); p != serveGCPercent {
		t.Fatalf("the collector's target is %d, want %d", p, serveGCPercent)
	}
	debug.SetGCPercent(150) // as GOGC=150 would have set it at start
	if got := tuneServeGC(func(k string) string {
		if k == "GOGC" {
			return "150"
		}
		return ""
	}); got != 150 {
		t.Fatalf("with GOGC=150: %d", got)
	}
	if p := debug.SetGCPercent(100); p != 150 {
		t.Fatalf("GOGC=150 was overridden: %d", p)
	}
}

// sync and daemon run under a soft memory limit of syncMemoryLimit and put back the one
// before; a user's GOMEMLIMIT is left as it is.
func TestSyncLimitsItsMemoryUnlessGOMEMLIMITIsSet(t *testing.T) {
	was := debug.SetMemoryLimit(math.MaxInt64)
	defer debug.SetMemoryLimit(was)
	restore := limitSyncMemory(func(string) string { return "" })
	if l := debug.SetMemoryLimit(-1); l != syncMemoryLimit {
		t.Fatalf("during the run the limit is %d, want %d", l, syncMemoryLimit)
	}
	restore()
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Fatalf("after the run the limit is %d, want none", l)
	}
	debug.SetMemoryLimit(100 << 20) // as GOMEMLIMIT=100MiB would have set it at start
	restore = limitSyncMemory(func(k string) string {
		if k == "GOMEMLIMIT" {
			return "100MiB"
		}
		return ""
	})
	if l := debug.SetMemoryLimit(-1); l != 100<<20 {
		t.Fatalf("GOMEMLIMIT was overridden: %d", l)
	}
	restore()
	if l := debug.SetMemoryLimit(-1); l != 100<<20 {
		t.Fatalf("GOMEMLIMIT was overridden after the run: %d", l)
	}
}
