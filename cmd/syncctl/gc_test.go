package main

import (
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
