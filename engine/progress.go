package engine

import "sync"

// Progress receives the run's progress events (progress bars on a terminal). Calls come
// from many goroutines; implementations must be safe for concurrent use. A nil Progress
// in Options means none.
type Progress interface {
	// AddonsPlanned is called once with the number of addons.
	AddonsPlanned(n int)
	// AddonFinished is called once per addon.
	AddonFinished(addon string, ok bool)
	// ImageQueued is called once per distinct image job.
	ImageQueued()
	// ImageFinished is called once per distinct image job with the bytes it moved.
	ImageFinished(bytes int64, ok bool)
}

// progressTracker turns per-addon waits into once-per-job events.
type progressTracker struct {
	p        Progress
	mu       sync.Mutex
	queued   map[string]bool
	finished map[string]bool
}

func newProgressTracker(p Progress) *progressTracker {
	return &progressTracker{p: p, queued: map[string]bool{}, finished: map[string]bool{}}
}

func (t *progressTracker) queued1(job ImageJob) {
	if t.p == nil {
		return
	}
	t.mu.Lock()
	first := !t.queued[job.key()]
	t.queued[job.key()] = true
	t.mu.Unlock()
	if first {
		t.p.ImageQueued()
	}
}

func (t *progressTracker) finished1(res JobResult) {
	if t.p == nil {
		return
	}
	t.mu.Lock()
	first := !t.finished[res.Job.key()]
	t.finished[res.Job.key()] = true
	t.mu.Unlock()
	if first {
		t.p.ImageFinished(res.Bytes, !res.Outcome.failed())
	}
}

func (t *progressTracker) addons(n int) {
	if t.p != nil {
		t.p.AddonsPlanned(n)
	}
}

func (t *progressTracker) addonDone(name string, ok bool) {
	if t.p != nil {
		t.p.AddonFinished(name, ok)
	}
}
