package engine

import (
	"context"
	"fmt"
	"github.com/airgap-charts/airgap-charts/registry/once"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/transport"
)

// PoolOptions configures a Pool. Zero values are documented per field.
type PoolOptions struct {
	Concurrency int              // copies at once; 0: registry.DefaultConcurrency (registry.NewBounds)
	Client      *registry.Client // required
	Preflight   Preflight        // nil: Client.OCIPreflight(), one HEAD per destination tag
	Policy      Policy
	// ScanOnly plans: every source is resolved and every destination tag asked (read
	// only), nothing is pushed (plan.go).
	ScanOnly bool
	// NoDestination (with ScanOnly): the destination is unknown, never asked; every job
	// whose source resolves is planned.
	NoDestination bool
	Logger        *zap.Logger // nil: no logs
	// Referrers: what crosses with each image (referrers.go); nil: the image alone.
	Referrers *ReferrerPolicy
	// Sources looks at each source before its job is decided (pool_source.go); nil: none.
	Sources SourceChecker
	// Progress is told of each distinct job once, when it is queued and when it ends;
	// nil: none.
	Progress Progress
}

// Pool runs image jobs, deduplicated, at most Concurrency at once.
type Pool struct {
	ctx  context.Context
	opts PoolOptions
	log  *zap.Logger
	g    errgroup.Group
	// places holds a token per job running among Concurrency (dispatch).
	places chan struct{}

	mu     sync.Mutex
	jobs   map[string]*Pending
	order  []*Pending
	claims map[string]ImageJob // destination repo:tag → first job writing it
	// lastOnTag is the latest job writing each destination repo:tag: jobs sharing a tag
	// run one after the other, so the later one finds the tag written and does not pull
	// the same manifests again.
	lastOnTag map[string]*Pending
	queue     []*Pending
	closed    bool
	// ensured holds one EnsureRepository call per destination repository.
	ensured once.Keyed[string, struct{}]
	wake    chan struct{}
	done    chan struct{} // the dispatcher has handed every job over

	// warming asks for preflight answers at Submit, ahead of a copy slot (at most
	// Bounds.WarmPreflight at once): a warm run's HEADs then overlap instead of waiting
	// behind Concurrency jobs. warmingSource does the same for the source side (the
	// lock's tag check), with a bound of its own: the two sides are other hosts, and
	// neither waits behind the other's lookups. warmingListings takes the referrer tag
	// listings of the source repositories, again with a bound of its own: a rerun asks as
	// nearly as many listings as tag checks, and behind one bound the source side's round trips were the
	// wall of a rerun over a WAN.
	warming, warmingSource, warmingListings *warmer
	// prewarming is the queueing of the last lock's lookups (prewarm.go).
	prewarming sync.WaitGroup

	// resolved is each source's digest (by origin) found by a plan: asked once per run.
	resolved once.Keyed[string, string]
}

// Pending is a submitted job; Wait returns its result.
type Pending struct {
	job   ImageJob
	rival *ImageJob // another source writing the same destination tag
	after *Pending  // the job before this one writing the same destination tag
	done  chan struct{}
	res   JobResult
	// ended tells the pool's Progress of the result; nil: no one to tell.
	ended func(JobResult)
}

// NewPool starts a pool; ctx cancels its jobs. Close it to wait for them.
func NewPool(ctx context.Context, opts PoolOptions) *Pool {
	bounds := registry.NewBounds(opts.Concurrency, 0)
	opts.Concurrency = bounds.CopyWorkers
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if opts.Preflight == nil && opts.Client != nil {
		opts.Preflight = opts.Client.OCIPreflight()
	}
	p := &Pool{
		ctx: ctx, opts: opts, log: log,
		jobs: map[string]*Pending{}, claims: map[string]ImageJob{}, lastOnTag: map[string]*Pending{},
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	p.warming = newWarmer(ctx, bounds.WarmPreflight)
	p.warmingSource = newWarmer(ctx, bounds.WarmPreflight)
	p.warmingListings = newWarmer(ctx, bounds.WarmPreflight)
	p.ensured.RetryWaiters = true
	p.places = make(chan struct{}, opts.Concurrency)
	go p.dispatch()
	return p
}

// Submit queues job and returns at once. A job already submitted (same source,
// destination and platform) returns the same Pending.
func (p *Pool) Submit(job ImageJob) *Pending {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pd, ok := p.jobs[job.key()]; ok {
		return pd
	}
	pd := &Pending{job: job, done: make(chan struct{})}
	if pr := p.opts.Progress; pr != nil {
		pr.ImageQueued()
		pd.ended = func(r JobResult) { pr.ImageFinished(r.Bytes, r.Outcome != OutcomeFailed) }
	}
	if p.closed {
		pd.finish(JobResult{Job: job, Outcome: OutcomeFailed, Err: fmt.Errorf("image %s: pool closed", job.Source)})
		return pd
	}
	if tag := job.destinationTag(); tag != "" {
		if first, ok := p.claims[tag]; ok && first.origin() != job.origin() {
			pd.rival = &first
		} else if !ok {
			p.claims[tag] = job
		}
		pd.after = p.lastOnTag[tag]
		p.lastOnTag[tag] = pd
	}
	p.jobs[job.key()] = pd
	if pd.after == nil {
		p.warm(job)
	}
	p.order = append(p.order, pd)
	p.queue = append(p.queue, pd)
	p.signal()
	return pd
}

// warm asks a caching preflight (registry.OCIPreflight: one HEAD per tag, answers kept
// and shared) about dst now, so the job finds the answer when it gets a slot. Other
// preflights answer from a listing or count their calls, and are left alone.
func (p *Pool) warm(job ImageJob) {
	if sw, ok := p.opts.Sources.(SourceWarmer); ok {
		p.warmingSource.add(func(ctx context.Context) { sw.WarmSource(ctx, p.opts.Client, job) })
	}
	if rp := p.opts.Referrers; rp != nil && rp.Options.Enabled() && !p.opts.ScanOnly && p.opts.Client != nil {
		// the listing the job's referrer discovery reads, once per source repository
		p.warmingListings.add(func(ctx context.Context) { p.opts.Client.WarmReferrerTags(ctx, job.Source) })
	}
	pf, ok := p.opts.Preflight.(*registry.OCIPreflight)
	if !ok || p.opts.NoDestination || job.Destination.Tag == "" {
		return
	}
	p.warming.add(func(ctx context.Context) {
		_, _, _ = pf.TagDigest(ctx, job.Destination) // an error is met again, and reported, by the job
	})
}

func (p *Pool) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// dispatch hands queued jobs to the errgroup; g.Go blocks while Concurrency jobs run,
// which blocks only this goroutine, never a Submit.
func (p *Pool) dispatch() {
	defer close(p.done)
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return
			}
			<-p.wake
			continue
		}
		pd := p.queue[0]
		p.queue = p.queue[1:]
		p.mu.Unlock()
		if err := p.ctx.Err(); err != nil {
			pd.finish(JobResult{Job: pd.job, Outcome: OutcomeFailed, Err: fmt.Errorf("image %s: %w", pd.job.Source, err)})
			continue
		}
		// A place among Concurrency, given back when the job ends, or earlier when one of
		// its requests must wait out a Retry-After or a long backoff (transport.WithYield):
		// the waiting job goes on once its wait ends, and the next job need not wait for it.
		select {
		case p.places <- struct{}{}:
		case <-p.ctx.Done():
			pd.finish(JobResult{Job: pd.job, Outcome: OutcomeFailed, Err: fmt.Errorf("image %s: %w", pd.job.Source, p.ctx.Err())})
			continue
		}
		var leave sync.Once
		release := func() { leave.Do(func() { <-p.places }) }
		p.g.Go(func() error {
			defer release()
			ctx := transport.WithYield(p.ctx, release)
			if pd.after != nil {
				// Dispatched earlier: it holds a place, or gave it up and runs on, or is
				// done: no deadlock.
				select {
				case <-pd.after.done:
				case <-p.ctx.Done():
					pd.finish(JobResult{Job: pd.job, Outcome: OutcomeFailed, Err: fmt.Errorf("image %s: %w", pd.job.Source, p.ctx.Err())})
					return nil
				}
			}
			pd.finish(p.run(ctx, pd))
			return nil
		})
	}
}

func (pd *Pending) finish(r JobResult) {
	pd.res = r
	close(pd.done)
	if pd.ended != nil {
		pd.ended(r)
	}
}

// Wait returns the job's result, or a failed result when ctx ends first.
func (pd *Pending) Wait(ctx context.Context) JobResult {
	select {
	case <-pd.done:
		return pd.res
	case <-ctx.Done():
		return JobResult{Job: pd.job, Outcome: OutcomeFailed, Err: ctx.Err()}
	}
}

// Close stops accepting jobs, waits for every submitted one and returns their results in
// submission order: one per distinct job, the run's unique results (the report's totals
// count these).
func (p *Pool) Close() []JobResult {
	p.mu.Lock()
	p.closed = true
	p.signal()
	p.mu.Unlock()
	<-p.done
	_ = p.g.Wait()
	p.prewarming.Wait()
	p.warming.wait()
	p.warmingSource.wait()
	p.warmingListings.wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]JobResult, len(p.order))
	for i, pd := range p.order {
		out[i] = pd.res
	}
	return out
}

// run decides and performs one job.
func (p *Pool) run(ctx context.Context, pd *Pending) JobResult {
	start := time.Now()
	sig, err := p.verify(ctx, pd.job)
	var sc SourceCheck
	if err == nil {
		sc, err = p.checkSource(ctx, pd.job)
	}
	var res JobResult
	if err != nil {
		res = JobResult{Err: err}
	} else {
		res = p.decide(ctx, pd, sc)
		p.crossReferrers(ctx, pd.job, &res)
	}
	res.TagDigest, res.Moved = sc.TagDigest, sc.Drift
	res.Signature = sig
	res.Job = pd.job
	res.Duration = time.Since(start)
	if res.Err != nil && res.Outcome != OutcomeMissingAtSource {
		res.Outcome = OutcomeFailed
	}
	p.logJob(pd.job, res)
	return res
}

// logJob logs a job's end at debug level. Nothing is built for it at a level that drops
// it: a no-op rerun ends hundreds of jobs.
func (p *Pool) logJob(job ImageJob, res JobResult) {
	msg := "image job done"
	if res.Err != nil {
		msg = "image job failed"
	}
	ce := p.log.Check(zap.DebugLevel, msg)
	if ce == nil {
		return
	}
	fields := []zap.Field{zap.String("image", job.Source.String()), zap.String("destination", job.Destination.String())}
	if res.Err != nil {
		fields = append(fields, zap.Error(res.Err))
	} else {
		fields = append(fields, zap.String("outcome", string(res.Outcome)), zap.Int64("bytes", res.Bytes), zap.Duration("duration", res.Duration))
	}
	ce.Write(fields...)
}

// decide runs pd's job as sc pulls it (its source maybe pinned by the SourceChecker).
func (p *Pool) decide(ctx context.Context, pd *Pending, sc SourceCheck) JobResult {
	c, job := p.opts.Client, sc.Pull
	if p.opts.ScanOnly {
		return p.plan(ctx, pd, sc)
	}
	if pd.rival != nil {
		if err := p.checkCollision(ctx, *pd.rival, job); err != nil {
			return JobResult{Err: err}
		}
	}
	destDigest, exists, err := p.opts.Preflight.TagDigest(ctx, job.Destination)
	if err != nil {
		return JobResult{Err: fmt.Errorf("image %s: preflight %s: %w", job.Source, job.Destination, err)}
	}
	pol := p.opts.Policy
	overwrite, drift := false, ""
	if exists && sc.Replace != "" && destDigest == sc.Replace && job.pinnedDigest() != destDigest {
		// The tag holds what the lock recorded and the move was accepted (--update-lock).
		overwrite, drift = true, driftText(job.pinnedDigest(), destDigest)
		if err := p.deleteTag(ctx, job.Destination); err != nil {
			return JobResult{Err: fmt.Errorf("image %s: delete %s before overwrite: %w", job.Source, job.Destination, err)}
		}
	} else if exists {
		if !pol.VerifyDigest && !pol.Overwrite && pol.SkipExisting {
			if pin := job.pinnedDigest(); pin != "" && pin != destDigest {
				// A digest-pinned source says what the tag must hold: costs no request.
				return p.drifted(job, pin, destDigest)
			}
			return JobResult{Outcome: OutcomeSkippedExisting, SourceDigest: job.pinnedDigest(), DestDigest: destDigest}
		}
		if pol.VerifyDigest || pol.Overwrite {
			sd, err := c.SourceDigest(ctx, job.Source, job.platform())
			if err != nil {
				return JobResult{Err: fmt.Errorf("image %s: %w", job.Source, err)}
			}
			if sd == destDigest {
				return JobResult{Outcome: OutcomeSkippedSameDigest, SourceDigest: sd, DestDigest: destDigest}
			}
			if !pol.Overwrite {
				return p.drifted(job, sd, destDigest)
			}
			overwrite = true
			drift = driftText(sd, destDigest)
			if err := p.deleteTag(ctx, job.Destination); err != nil {
				return JobResult{Err: fmt.Errorf("image %s: delete %s before overwrite: %w", job.Source, job.Destination, err)}
			}
		}
	}
	if err := p.ensureRepository(ctx, job.Destination); err != nil {
		return JobResult{Err: fmt.Errorf("image %s: repository %s: %w", job.Source, job.Destination.Repository, err)}
	}
	var copts []registry.CopyOption
	if mp, ok := p.opts.Preflight.(registry.MountPolicy); ok && !mp.MountsBlobs(ctx) {
		copts = append(copts, registry.WithoutMounts())
	}
	// A tag being replaced, or a repository an earlier run filled, likely holds most of
	// the image's blobs: the destination is asked before each source blob is opened.
	if h, ok := p.opts.Sources.(DestinationHistory); exists || (ok && h.CopiedInto(job.Destination)) {
		copts = append(copts, registry.WithDestinationHeld())
	}
	cr, err := c.Copy(ctx, job.Source, job.Destination, job.platform(), copts...)
	if err != nil {
		if registry.IsImmutableTagConflict(err) {
			return JobResult{Outcome: OutcomeSkippedExisting, DestDigest: destDigest, Bytes: cr.Bytes, Reason: ReasonImmutableTag}
		}
		return JobResult{Err: err, Bytes: cr.Bytes}
	}
	if r, ok := p.opts.Preflight.(registry.TagRecorder); ok {
		r.Record(job.Destination, cr.DestDigest)
	}
	if exists && drift == "" && destDigest != cr.DestDigest {
		drift = driftText(cr.DestDigest, destDigest) // copied again over other content
	}
	out := OutcomeCopied
	if overwrite {
		out = OutcomeOverwritten
	}
	return JobResult{Outcome: out, SourceDigest: cr.SourceDigest, DestDigest: cr.DestDigest, Bytes: cr.Bytes, Drift: drift,
		SourceIndex: cr.SourceIndex, MissingPlatforms: cr.MissingPlatforms, copy: &cr}
}

// deleteTag removes dst's tag where the preflight can (registry.TagDeleter) and tells the preflight.
func (p *Pool) deleteTag(ctx context.Context, dst registry.ImageRef) error {
	d, ok := p.opts.Preflight.(registry.TagDeleter)
	if !ok {
		return nil // the push replaces the tag
	}
	if err := d.DeleteTag(ctx, dst); err != nil {
		return err
	}
	if r, ok := p.opts.Preflight.(registry.TagRecorder); ok {
		r.Forget(dst)
	}
	return nil
}

// ensureRepository calls the preflight's EnsureRepository once per destination
// repository; concurrent jobs of one repository share the one call, and a failure fails
// its job only: the jobs that waited, and later ones, try again.
func (p *Pool) ensureRepository(ctx context.Context, dst registry.ImageRef) error {
	e, ok := p.opts.Preflight.(registry.RepositoryEnsurer)
	if !ok {
		return nil
	}
	_, err := p.ensured.Do(ctx, dst.Name(), func(ctx context.Context) (struct{}, error) {
		return struct{}{}, e.EnsureRepository(ctx, dst.Repository)
	})
	return err
}

// checkCollision fails when two sources landing on the same destination tag differ.
func (p *Pool) checkCollision(ctx context.Context, first, job ImageJob) error {
	c := p.opts.Client
	d1, err := c.SourceDigest(ctx, first.Source, first.platform())
	if err != nil {
		return fmt.Errorf("image %s: check collision with %s on %s: %w", job.Source, first.Source, job.Destination, err)
	}
	d2, err := c.SourceDigest(ctx, job.Source, job.platform())
	if err != nil {
		return fmt.Errorf("image %s: %w", job.Source, err)
	}
	if d1 != d2 {
		return fmt.Errorf("destination collision on %s: %s (%s, %s) and %s (%s, %s) land on the same tag with different digests",
			job.destinationTag(), first.Source, first.platform(), d1, job.Source, job.platform(), d2)
	}
	return nil
}
