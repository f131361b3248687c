package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/stages"
)

// runAddon takes one addon through its DAG, one named step after another. It never
// returns an error: the outcome, good or bad, is the report.
func (e *runEnv) runAddon(ctx context.Context, a config.Addon, pool *Pool, slots *semaphore.Weighted) *AddonReport {
	r := &addonRun{e: e, a: a, pool: pool, slot: &chartSlot{sem: slots}, started: time.Now(), group: e.groupOf(a),
		rep: &AddonReport{Addon: a.Name(), Chart: a.Chart, Release: a.Release, Repository: a.Repository, Status: StatusError}}
	r.log = e.log.With(zap.String("addon", a.Name()), zap.String("chart", a.Chart), zap.String("version", a.Version))
	defer r.finish()
	r.run(ctx, []addonStep{
		{name: "start", do: r.start},   // a chart slot
		{do: r.prepare},                // resolve → fetch → dependencies → render → extract; image jobs to the pool
		{name: "rewrite", do: r.share}, // the images of the chart's other releases (chartgroup.go)
		{name: "rewrite", do: r.pin},   // --pin-digests: the digests at the destination
		{do: r.rewrite},                // rewrite → verify renders → repack → consumer overrides
		{name: "images", do: r.awaitImages, timed: "images"},
		{name: "verify", do: r.gate},  // no image left public unless allowed
		{name: "images", do: r.drift}, // no image drift unless overwritten
		{name: "publish", do: r.publish},
	})
	return r.rep
}

// addonRun is one addon's way through runAddon's steps.
type addonRun struct {
	e       *runEnv
	a       config.Addon
	pool    *Pool
	slot    *chartSlot
	group   *chartGroup
	joined  bool // group.add was called: the group counts this addon in
	rep     *AddonReport
	log     *zap.Logger
	started time.Time

	prepared *preparedAddon
	images   *addonImages // the addon's jobs once submitted: every way out records them
	peers    []*Pending
	check    *stages.ChartCheck
}

// addonStep is one step of an addon: do reports whether the addon ended there (INCOMPLETE,
// DRIFT) or an error, which fails it at the step's stage (name; empty: the stage do set).
// timed names the report timing the step records, if any.
type addonStep struct {
	name  string
	do    func(ctx context.Context) (ended bool, err error)
	timed string
}

func (r *addonRun) run(ctx context.Context, steps []addonStep) {
	for _, s := range steps {
		if s.name != "" {
			r.rep.Stage = s.name
		}
		t := time.Now()
		ended, err := s.do(ctx)
		if s.timed != "" {
			r.rep.timing(s.timed, t)
		}
		if err != nil {
			r.slot.yield() // never held while the failure waits for the images
			r.fail(ctx, r.rep.Stage, err)
			return
		}
		if ended {
			return
		}
	}
	r.e.cache.save(r.a, r.prepared.entry, r.log)
	r.rep.Stage, r.rep.Status = "", StatusSuccess
	r.log.Info("addon done", zap.Int("images", len(r.images.pending)), zap.String("chart_ref", r.rep.ChartRef), zap.Duration("took", time.Since(r.started)))
}

// finish runs on every way out: the slot given back, the group left when never joined,
// the report's duration, and no consumer overrides pointing at images never mirrored.
func (r *addonRun) finish() {
	r.slot.yield()
	if !r.joined {
		r.group.leave()
	}
	r.rep.Duration = Duration(time.Since(r.started))
	r.e.markOverridesUnlessSucceeded(r.rep)
}

// fail ends the addon in ERROR at stage, with its images recorded.
func (r *addonRun) fail(ctx context.Context, stage string, err error) {
	a, rep := r.a, r.rep
	r.images.collect(ctx, r.e, rep, r.log)
	rep.Stage = stage
	rep.Error = fmt.Sprintf("addon %s (%s): %s: %v", a.Name(), a.Source, stage, err)
	if stage == "images" && ctx.Err() == nil {
		rep.ChartResult = ChartBlocked
		rep.ChartRef = r.e.plannedChartRef(a, rep.Version)
	}
	if errors.Is(err, context.Canceled) {
		rep.Error = fmt.Sprintf("addon %s: %s: interrupted", a.Name(), stage)
	}
	r.log.Error("addon failed", zap.String("stage", stage), zap.Error(err))
}

func (r *addonRun) start(ctx context.Context) (bool, error) { return false, r.slot.hold(ctx) }

func (r *addonRun) prepare(ctx context.Context) (bool, error) {
	p, err := r.e.prepareAddon(ctx, r.a, r.rep, r.log)
	if err != nil {
		return false, err
	}
	r.prepared = p
	r.log = r.log.With(zap.String("resolved", r.rep.Version))
	r.images = r.e.submitImages(r.pool, p) // as soon as extract is done
	return false, nil
}

// share: addons releasing the same chart rewrite it with all their images; the slot is
// given back while the others are still extracting.
func (r *addonRun) share(ctx context.Context) (bool, error) {
	p := r.prepared
	shared, wait := r.group.add(p.mappings, requiredImages(p))
	r.joined = true
	if wait != nil {
		if err := r.slot.waitFor(ctx, func() {
			select {
			case <-wait:
			case <-ctx.Done():
			}
		}); err != nil {
			return false, err
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		shared = r.group.union()
	}
	p.shared = shared
	r.peers = r.e.submitPeerImages(r.pool, p)
	return false, nil
}

// pin: pinning needs the digests at the destination, so the rewrite waits for the images,
// the slot given back meanwhile.
func (r *addonRun) pin(ctx context.Context) (bool, error) {
	if !r.e.opts.PinDigests || r.e.opts.ScanOnly {
		return false, nil
	}
	defer r.rep.timing("pin", time.Now())
	return false, r.slot.waitFor(ctx, func() { r.e.pinDigests(ctx, r.prepared, r.images, r.peers, r.log) })
}

// rewrite and repack while the images copy; then, the slot given back, ask the
// destination whether it already holds the chart.
func (r *addonRun) rewrite(ctx context.Context) (bool, error) {
	if err := r.e.rewriteAndPackage(ctx, r.a, r.prepared, r.rep, r.log); err != nil {
		return false, err
	}
	if err := r.e.writeVerifyPolicy(r.a, r.prepared, r.rep); err != nil {
		r.rep.Stage = "package"
		return false, err
	}
	r.slot.yield()
	if !r.e.noDestination {
		r.check = r.e.checkChart(ctx, r.a, r.prepared, r.rep, r.log)
	}
	return false, nil
}

// awaitImages waits for this addon's own images and its chart's other releases' ones.
func (r *addonRun) awaitImages(ctx context.Context) (bool, error) {
	r.images.collect(ctx, r.e, r.rep, r.log)
	peerErr := waitPeerImages(ctx, r.group, r.peers)
	// A cancelled run fails every unfinished image with the cancellation: say
	// interrupted, not that images failed.
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if n := r.images.failed; n > 0 {
		return false, fmt.Errorf("%d of %d images failed; chart not published%s (first: %s)", n, len(r.images.pending), r.images.waitsFor(), r.rep.firstImageError())
	}
	if peerErr != nil {
		return false, fmt.Errorf("chart not published: %w", peerErr)
	}
	return false, nil
}

// gate: the chart is published only when no image it pulls stays public, unless allowed.
func (r *addonRun) gate(context.Context) (bool, error) {
	a, rep := r.a, r.rep
	left, first := r.e.gatePublicImages(a, rep, r.log)
	if left == 0 {
		return false, nil
	}
	err := publicImagesError(left, first)
	rep.Status, rep.Stage, rep.ChartResult = StatusIncomplete, "verify", ChartBlocked
	rep.Error = fmt.Sprintf("addon %s (%s): verify: %v", a.Name(), a.Source, err)
	r.log.Error("addon incomplete: images remain public", zap.String("stage", "verify"),
		zap.Int("public_images", left), zap.String("first", first.Image), zap.Error(err))
	return true, nil
}

func (r *addonRun) drift(context.Context) (bool, error) {
	return r.e.imageDrift(r.a, r.rep, r.images, r.log), nil
}

// publish pushes the chart (a plan says what it would do), unless its tag holds another
// chart that may not be replaced.
func (r *addonRun) publish(ctx context.Context) (bool, error) {
	e, a, rep := r.e, r.a, r.rep
	if e.opts.ScanOnly {
		return e.planChart(a, rep, r.check, r.log), nil
	}
	if r.check == nil { // the early check failed: ask again, the publish must know
		c, err := e.publisher.Check(ctx, r.prepared.archive, e.chartBase(a), "")
		if err != nil {
			return false, err
		}
		r.check = &c
	}
	if e.chartDrift(a, rep, r.check, r.log) {
		return true, nil
	}
	if err := e.publishes.Acquire(ctx, 1); err != nil {
		return false, err
	}
	defer e.publishes.Release(1)
	return false, e.publish(ctx, a, r.group, r.prepared, rep, r.check)
}
