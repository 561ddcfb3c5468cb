// Package cputime reads the CPU time the process has used, for benchmarks that report
// CPU per unit of work beside wall time (the machines are shared; CPU is steadier).
package cputime

import "time"

// Self is the user and system CPU time this process has used so far, or 0 where the
// system does not say (Plan 9, js, wasip1).
func Self() time.Duration { return self() }
