package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/airgap-charts/airgap-charts/registry/once"

	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/stages"
)

// lockRun is a run's use of its lock: the last lock (what --locked runs, and what a moved
// source tag is compared with) and the fingerprint of this run's inputs.
type lockRun struct {
	path           string
	prior          *Lock
	locked, update bool
	scanOnly       bool
	// inputs fingerprints each addon of the run (lockInputs); others are the addons of
	// the inputs the run's filters left out, whose entries the lock keeps as they were.
	inputs map[string]string
	others map[string]bool
	// images holds the prior lock's images by source|destination (any addon).
	images map[string]*LockImage
	// copiedInto holds, per destination repository (registry/repository), the
	// destinations the prior lock names in it (CopiedInto).
	copiedInto map[string][]string
	// heads are the source tags' digests asked this run (one HEAD each, a failure asked
	// again), warmed ahead of the jobs (WarmSource).
	heads once.Keyed[string, string]
}

// readPriorLock reads opts.LockFile before the run starts: a lock from a newer schema, or
// under --locked a missing one, is an error naming the file.
func readPriorLock(opts Options) (*Lock, error) {
	if opts.LockFile == "" {
		if opts.Locked {
			return nil, &config.InputError{Msg: "--locked needs a lock file (--lock FILE)"}
		}
		return nil, nil
	}
	prior, err := ReadLock(opts.LockFile)
	if err != nil {
		return nil, err
	}
	if prior == nil && opts.Locked && !opts.UpdateLock {
		return nil, (&LockError{Path: opts.LockFile, Msg: "--locked: no lock here; run a sync without --locked first to write one"}).inputError()
	}
	return prior, nil
}

// newLockRun checks prior (read by readPriorLock) against this run's inputs, addon by
// addon: under --locked an addon without an entry made from its current inputs is an
// error naming the file and the addons, unless --update-lock.
func newLockRun(opts Options, prior *Lock, targetRegistry string, log *zap.Logger) (*lockRun, error) {
	l := &lockRun{path: opts.LockFile, locked: opts.Locked, update: opts.UpdateLock, scanOnly: opts.ScanOnly,
		inputs: lockInputs(opts, targetRegistry), others: map[string]bool{}, images: map[string]*LockImage{}, copiedInto: map[string][]string{}}
	for _, name := range opts.InputAddons {
		if _, run := l.inputs[name]; !run {
			l.others[name] = true
		}
	}
	if prior == nil && opts.Locked {
		l.locked = false // --update-lock and no lock yet: resolve afresh
	}
	var stale, missing []string
	if prior != nil {
		for _, a := range opts.Addons {
			switch e := prior.addon(a.Name()); {
			case e == nil:
				missing = append(missing, a.Name())
			case e.Inputs != l.inputs[a.Name()]:
				stale = append(stale, a.Name())
			}
		}
	}
	switch {
	case len(stale)+len(missing) > 0 && opts.Locked && !opts.UpdateLock:
		msg := "--locked: "
		if len(stale) > 0 {
			msg += fmt.Sprintf("the lock's entries for %s were written for other inputs (the addon, its values or overrides, "+
				"the destination or render settings changed)", strings.Join(stale, ", "))
			if len(missing) > 0 {
				msg += "; "
			}
		}
		if len(missing) > 0 {
			msg += fmt.Sprintf("the lock has no entry for %s", strings.Join(missing, ", "))
		}
		return nil, (&LockError{Path: opts.LockFile, Msg: msg + "; run with --update-lock, or without --locked, to write them"}).inputError()
	case len(stale) > 0:
		log.Warn("the lock's entries for these addons were written for other inputs; they are rewritten for these",
			zap.String("lock", opts.LockFile), zap.Strings("addons", stale))
	}
	l.prior = prior
	if prior != nil {
		for i := range prior.Addons {
			for j := range prior.Addons[i].Images {
				img := &prior.Addons[i].Images[j]
				l.images[img.Source+"|"+img.Destination] = img
				if d, err := registry.ParseImageRef(img.Destination); err == nil {
					repo := d.Registry + "/" + d.Repository
					l.copiedInto[repo] = append(l.copiedInto[repo], img.Destination)
				}
			}
		}
	}
	return l, nil
}

// chartRef is what to resolve for a: under --locked the locked version, exactly.
func (l *lockRun) chartRef(a config.Addon, latest bool) (stages.ChartRef, stages.ResolveOptions) {
	ref := stages.ChartRef{Repository: a.Repository, OCINamespace: a.OCINamespace, Name: a.Chart, Constraint: a.Version}
	ro := stages.ResolveOptions{Latest: latest || a.Version == ""}
	if e := l.lockedAddon(a); e != nil {
		ref.Constraint, ro.Latest = e.Version, false
	}
	return ref, ro
}

// acceptsChart reports whether a's chart was republished since the lock and --update-lock
// accepts it: the chart tag holding the rewrite of the locked archive may then be replaced.
func (l *lockRun) acceptsChart(a config.Addon, rep *AddonReport) bool {
	if l == nil || !l.update {
		return false
	}
	e := l.prior.addon(a.Name())
	return e != nil && e.Version == rep.Version && e.Digest != "" && e.Digest != rep.ChartDigest
}

// lockedAddon is a's entry a --locked run runs: nil without --locked, or when the entry
// was made from other inputs (--update-lock: a resolves afresh).
func (l *lockRun) lockedAddon(a config.Addon) *LockAddon {
	if l == nil || !l.locked {
		return nil
	}
	if e := l.prior.addon(a.Name()); e != nil && e.Inputs == l.inputs[a.Name()] {
		return e
	}
	return nil
}

// checkChart compares the fetched archive with the lock: a chart republished under the
// locked version fails a --locked run (unless --update-lock) and is a warning otherwise.
func (l *lockRun) checkChart(a config.Addon, rep *AddonReport, log *zap.Logger) error {
	if l == nil {
		return nil
	}
	if l.locked && l.prior.addon(a.Name()) == nil && !l.update {
		return fmt.Errorf("--locked: addon %s is not in the lock %s", a.Name(), l.path)
	}
	e := l.prior.addon(a.Name())
	if e == nil || e.Version != rep.Version || e.Digest == "" || e.Digest == rep.ChartDigest {
		return nil
	}
	moved := fmt.Sprintf("chart %s %s was republished since the lock %s: archive digest was %s, now %s", a.Chart, rep.Version, l.path, e.Digest, rep.ChartDigest)
	if l.locked && !l.update {
		return fmt.Errorf("%s (--update-lock accepts it)", moved)
	}
	rep.Warnings = append(rep.Warnings, moved)
	log.Warn("chart republished since the lock", zap.String("was", e.Digest), zap.String("now", rep.ChartDigest), zap.String("lock", l.path))
	return nil
}

// CheckSource is the pool's look at a job's source before it is decided. It asks the
// source what the tag holds (one HEAD) when the run is locked, when the last lock has the
// image (so that a moved tag is never silent), or when a platform is chosen (the lock
// records the index the child came from, a plan's too); the job then pulls that very
// digest. Under
// --locked a tag that moved since the lock fails the job, unless --update-lock.
func (l *lockRun) CheckSource(ctx context.Context, c *registry.Client, job ImageJob) (SourceCheck, error) {
	out := SourceCheck{Pull: job}
	prev := l.images[job.Source.String()+"|"+job.Destination.String()]
	if l.scanOnly && !l.locked && job.platform().Auto() {
		return out, nil // the plan's own HEAD resolves the tag (plan.go)
	}
	if !l.locked && prev == nil && job.platform().Auto() {
		return out, nil // the copy, or the destination, says what was copied
	}
	if l.locked && prev == nil && !l.update {
		return out, fmt.Errorf("image %s: --locked: not in the lock %s (the chart renders an image the lock does not list)", job.Source, l.path)
	}
	cur := job.Source.Digest
	if cur == "" {
		d, err := l.tagDigest(ctx, c, job.Source)
		if err != nil {
			return out, fmt.Errorf("image %s: %w", job.Source, err)
		}
		cur = d
	}
	out.TagDigest = cur
	out.Pull.Source.Digest = cur
	if prev != nil && prev.Digest != "" && prev.Digest != cur {
		out.Drift = fmt.Sprintf("source tag moved since the lock: was %s, now %s", prev.Digest, cur)
		if l.locked && !l.update {
			return out, fmt.Errorf("image %s: %s (lock %s; --update-lock accepts it)", job.Source, out.Drift, l.path)
		}
		if l.update {
			out.Replace = prev.Digest // accepted: the tag holding the locked digest is ours to move
		}
	}
	return out, nil
}

// noteDrift makes a moved source a warning of the addon.
func noteDrift(rep *AddonReport, res JobResult, log *zap.Logger) {
	if res.Moved == "" || res.Outcome.failed() {
		return
	}
	rep.Warnings = append(rep.Warnings, fmt.Sprintf("image %s: %s", res.Job.Source, res.Moved))
	log.Warn("source tag moved since the lock", zap.String("image", res.Job.Source.String()), zap.String("drift", res.Moved))
}

// asks reports whether CheckSource asks job's source tag.
func (l *lockRun) asks(job ImageJob) bool {
	if job.Source.Digest != "" || (l.scanOnly && !l.locked && job.platform().Auto()) {
		return false
	}
	prev := l.images[job.Source.String()+"|"+job.Destination.String()]
	return l.locked || prev != nil || !job.platform().Auto()
}

// tagDigest is what src's tag holds, asked once per run.
func (l *lockRun) tagDigest(ctx context.Context, c *registry.Client, src registry.ImageRef) (string, error) {
	return l.heads.Do(ctx, src.String(), func(ctx context.Context) (string, error) {
		return c.SourceDigest(ctx, src, registry.PlatformAuto)
	})
}

// WarmSource implements SourceWarmer: the HEAD CheckSource will send, sent now.
func (l *lockRun) WarmSource(ctx context.Context, c *registry.Client, job ImageJob) {
	if l.asks(job) {
		_, _ = l.tagDigest(ctx, c, job.Source)
	}
}

// CopiedInto says whether the prior lock names another image in dst's repository: the
// night before filled it, so it likely holds most blobs of the image now copied there (a
// new version sharing its layers). dst's own entry does not count: a tag the lock names
// and the destination lacks was never copied (the lock of a plan, or of a failed copy).
func (l *lockRun) CopiedInto(dst registry.ImageRef) bool {
	if l == nil {
		return false
	}
	self := dst.String()
	for _, d := range l.copiedInto[dst.Registry+"/"+dst.Repository] {
		if d != self {
			return true
		}
	}
	return false
}
