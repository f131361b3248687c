package main

import "runtime/debug"

// defaultGCPercent is the collector's target for a run unless GOGC says otherwise. A run's
// live heap stays small (tens of MB at hundreds of charts) while it allocates many times
// that in short-lived request, decode and template garbage: collecting when the heap has
// grown by twice the live heap instead of once halves the collections. On a no-op rerun of
// 200 charts that saved 5–25% of the process's CPU in measured pairs, for a peak RSS still
// well under the 150 MB budget (benchmarks/results/RESULTS.md).
const defaultGCPercent = 200

// tuneGC sets the collector's target for the process, unless the environment sets GOGC.
// Only main calls it: tests run the CLI in their own process and keep its setting.
func tuneGC(env func(string) string) {
	if env("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
