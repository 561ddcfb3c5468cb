//go:build race

package server_test

// raceEnabled: under the race detector a 10,000-record commit takes seconds; the
// shutdown tests then use smaller batches.
const raceEnabled = true
