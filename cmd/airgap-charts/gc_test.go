package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
)

// The binary collects at defaultGCPercent unless GOGC is set, which then decides; without
// GOMEMLIMIT either, nothing is collected before gcFloor, and the first collection hands
// over to defaultGCPercent with no memory limit.
func TestTuneGC(t *testing.T) {
	before, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	defer func() { debug.SetGCPercent(before); debug.SetMemoryLimit(limit) }()
	vars := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}

	<-tuneGC(vars("GOGC", "50"))
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set the target became %d, want it left alone", got)
	}
	<-tuneGC(vars("GOMEMLIMIT", "1GiB"))
	if got, lim := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); got != defaultGCPercent || lim != limit {
		t.Errorf("with GOMEMLIMIT set: target %d, limit %d; want %d and the limit left alone (%d)", got, lim, defaultGCPercent, limit)
	}

	done := tuneGC(vars())
	if got, lim := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1); got != -1 || lim != gcFloor {
		t.Errorf("before the first collection: target %d, limit %d; want -1 (none) and %d", got, lim, gcFloor)
	}
	runtime.GC()
	<-done
	if got, lim := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); got != defaultGCPercent || lim != math.MaxInt64 {
		t.Errorf("after the first collection: target %d, limit %d; want %d and no limit", got, lim, defaultGCPercent)
	}
}
