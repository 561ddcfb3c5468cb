//go:build race

package race

// Enabled: this binary runs under the race detector.
const Enabled = true
