package main

import (
	"math"
	"runtime"
	"runtime/debug"
)

// defaultGCPercent is the collector's target for a run unless GOGC says otherwise. A run's
// live heap stays small (tens of MB at hundreds of charts) while it allocates many times
// that in short-lived request, decode and template garbage: collecting when the heap has
// grown by twice the live heap instead of once halves the collections. On a no-op rerun of
// 200 charts that saved 5–25% of the process's CPU in measured pairs, for a peak RSS still
// well under the 150 MB budget (benchmarks/results/RESULTS.md).
const defaultGCPercent = 200

// gcFloor is the memory a run may take before its first collection. Go's first target is 4
// MB times GOGC/100, so a run that allocates some tens of MB in all (a no-op rerun of 200
// charts: about 25 MB) collected three or four times a heap that was mostly still live,
// 25–30 ms of CPU; with the floor it collects when it has taken gcFloor, and from then on
// at defaultGCPercent, as before.
const gcFloor = 64 << 20

// tuneGC sets the collector's target for the process, unless the environment sets GOGC
// (which then decides). Unless GOMEMLIMIT is set too, the first collection waits for
// gcFloor; the channel is closed once the proportional target has taken over. Only main
// calls it: tests run the CLI in their own process and keep its setting.
func tuneGC(env func(string) string) <-chan struct{} {
	proportional := make(chan struct{})
	switch {
	case env("GOGC") != "":
		close(proportional)
	case env("GOMEMLIMIT") != "":
		debug.SetGCPercent(defaultGCPercent)
		close(proportional)
	default:
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(gcFloor)
		afterFirstCollection(func() {
			debug.SetGCPercent(defaultGCPercent)
			debug.SetMemoryLimit(math.MaxInt64)
			close(proportional)
		})
	}
	return proportional
}

// afterFirstCollection runs f once the collector has run: the cleanup of an object nothing
// references runs after the first collection that finds it so.
func afterFirstCollection(f func()) {
	sentinel := new(struct {
		_ *int // holds a pointer: never batched with other small objects
		_ [16]byte
	})
	runtime.AddCleanup(sentinel, func(struct{}) { f() }, struct{}{})
}
