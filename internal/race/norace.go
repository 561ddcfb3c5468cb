//go:build !race

// Package race says whether the race detector is on. It slows tests some fivefold to
// tenfold, so the tests whose worth is their scale (thousands of files or records, a
// model's hundreds of sequences) run smaller under it: the race detector needs the
// concurrency, not the size, and CI runs them at full size without it too.
package race

// Enabled: this binary runs under the race detector.
const Enabled = false
