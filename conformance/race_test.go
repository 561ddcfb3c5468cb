//go:build race

package conformance_test

// raceEnabled: the race detector slows every request some tenfold; the deviation
// catalogue then runs a sample, and CI runs it whole without the detector.
const raceEnabled = true
