package engine

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

// progressTracker reports addon events; image events come from the pool (PoolOptions.Progress),
// once per distinct job.
type progressTracker struct{ p Progress }

func newProgressTracker(p Progress) *progressTracker { return &progressTracker{p: p} }

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
