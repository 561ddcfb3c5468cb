//go:build race

package engine_test

// raceEnabled: the race detector slows the lifecycle model test about fivefold; under it
// a smaller budget runs (CI runs the full budget without it too).
const raceEnabled = true
