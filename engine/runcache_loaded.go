package engine

import (
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/config"
)

// loadedEntry is one addon's run cache entry, read once per run. The chart prewarm reads
// only the chart tag it records (copied out as the entry is read); the entry itself goes
// to the addon, its only user after that, which logs why the file was ignored if it was.
type loadedEntry struct {
	once     sync.Once
	taken    atomic.Bool
	entry    *runCacheEntry
	problem  entryProblem
	chartRef string // the pushed chart reference and manifest the entry records, if any
	manifest string
}

// read returns a's entry as read this run (reading it on the first call).
func (c *runCache) read(a config.Addon) *loadedEntry {
	v, _ := c.loaded.LoadOrStore(c.path(a), &loadedEntry{})
	l := v.(*loadedEntry)
	l.once.Do(func() {
		l.entry, l.problem = c.readEntry(a)
		if e := l.entry; e != nil && e.Package != nil {
			l.chartRef, l.manifest = e.Package.ChartRef, e.Package.Manifest
		}
	})
	return l
}

// take is a's entry for its addon, the problem with its file logged to log. The entry read
// this run goes to the first taker; another addon of the same file reads its own.
func (c *runCache) take(a config.Addon, log *zap.Logger) *runCacheEntry {
	l := c.read(a)
	if l.taken.Swap(true) {
		return c.load(a, log)
	}
	l.problem.log(log)
	return l.entry
}
