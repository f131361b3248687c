package engine

import "github.com/airgap-charts/airgap-charts/registry"

// prewarm queues, before any addon starts, the lookups the jobs of a rerun will ask, for
// every image of the last lock's entries written for the inputs their addon has now: the
// destination tag (the caching preflight), the source tag (the lock's check) and, when
// referrers cross, the listing of the source repository. An addon then finds its images'
// answers made, or on their way, instead of asking them only once its chart stages are
// done. Every answer is asked in this run, so a moved tag is seen as without it; an image
// the charts no longer render (same inputs, so only a republished chart can do that)
// costs its lookups once, uselessly. A plan is left alone: it asks only what it needs.
//
// The queueing runs beside the addons (Close waits for it): reading the lock's references
// again is work the addons need not wait for.
func (p *Pool) prewarm(l *lockRun, platform registry.Platform) {
	if p.opts.ScanOnly || l == nil || l.prior == nil {
		return
	}
	p.prewarming.Add(1)
	go func() {
		defer p.prewarming.Done()
		p.prewarmLock(l, platform)
	}()
}

func (p *Pool) prewarmLock(l *lockRun, platform registry.Platform) {
	seen := map[string]bool{}
	for _, a := range l.prior.Addons {
		if in, run := l.inputs[a.Name]; !run || a.Inputs != in {
			continue // not in this run, or made from other inputs: its addon asks for itself
		}
		for _, img := range a.Images {
			k := img.Source + "|" + img.Destination
			if seen[k] {
				continue
			}
			seen[k] = true
			src, err := registry.ParseImageRef(img.Source)
			if err != nil {
				continue
			}
			dst, err := registry.ParseImageRef(img.Destination)
			if err != nil {
				continue
			}
			job := ImageJob{Source: src, Destination: dst, Platform: platform}
			if job.Source.String() != img.Source || job.Destination.String() != img.Destination {
				continue // would not be the job's key: the job asks for itself
			}
			p.warm(job)
		}
	}
}
