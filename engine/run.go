package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/stages"
)

// Run mirrors every addon in opts: one staged DAG per addon, all addons at once (bounded
// by ChartConcurrency), their image jobs deduplicated into one copy pool. It returns an
// error only when the run cannot start (no destination, bad options); per-addon failures
// are in the report, whose Failed method decides the exit code.
func Run(ctx context.Context, opts Options, log *zap.Logger) (*Report, error) {
	opts = opts.withDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	started := time.Now()
	if err := checkNames(opts); err != nil {
		return nil, err
	}
	priorLock, err := readPriorLock(opts)
	if err != nil {
		return nil, err
	}
	switch opts.OnBudget {
	case "", OnBudgetFail, OnBudgetWait:
	default:
		return nil, fmt.Errorf("--on-budget %q: want %s or %s", opts.OnBudget, OnBudgetFail, OnBudgetWait)
	}
	if err := os.MkdirAll(opts.OutputDir, 0o755); err != nil {
		return nil, fmt.Errorf("output dir %s: %w", opts.OutputDir, err)
	}
	lock, err := lockOutputDir(opts.OutputDir)
	if err != nil {
		return nil, err
	}
	defer lock.release()
	if lock.leftover {
		if n := removeStaleTemps(opts.OutputDir); n > 0 {
			log.Info("removed temporary files a killed run left in the output directory", zap.Int("files", n), zap.String("dir", opts.OutputDir))
		}
	}
	referrers, err := newReferrerPolicy(opts)
	if err != nil {
		return nil, err
	}
	env, err := newRunEnv(ctx, opts, log)
	if err != nil {
		return nil, err
	}
	defer env.close()
	env.referrers = referrers
	warnPinScanOnly(opts, log)
	if env.lock, err = newLockRun(opts, priorLock, env.registry, log); err != nil {
		return nil, err
	}
	var sources SourceChecker
	if opts.LockFile != "" {
		sources = env.lock
	}

	pool := NewPool(ctx, PoolOptions{
		Concurrency:   opts.Concurrency,
		Client:        env.client,
		Preflight:     env.preflight,
		Policy:        Policy{SkipExisting: opts.SkipExisting, VerifyDigest: opts.VerifyDigest, Overwrite: opts.OverwriteDigest},
		ScanOnly:      opts.ScanOnly,
		NoDestination: env.noDestination,
		Logger:        log,
		Referrers:     referrers,
		Sources:       sources,
		Progress:      opts.Progress,
	})
	if sources != nil {
		pool.prewarm(env.lock, opts.Platform)
	}
	if !env.noDestination && !opts.ScanOnly {
		env.chartHeads = newChartHeads(ctx, env.client, registry.NewBounds(opts.Concurrency, opts.ChartConcurrency).Publishes)
		env.chartHeads.prewarm(env.cache, opts.Addons)
	}

	env.progress.addons(len(opts.Addons))
	reports := make([]*AddonReport, len(opts.Addons))
	// Chart stages hold a slot of this semaphore; an addon gives its slot back while it
	// waits for its images, so waiting never starves the chart stages of other addons.
	// Publishes have their own (runEnv.publishes), so they never queue behind them.
	bounds := registry.NewBounds(opts.Concurrency, opts.ChartConcurrency)
	slots := semaphore.NewWeighted(int64(bounds.Addons))
	// Addons start in launch order, at most AddonsInFlight (or the largest chart group, all of
	// whose members must be in flight at once) at a time, each worker taking the next one:
	// a worker's stack, grown by the chart stages and the lookups of one addon, serves the
	// next, instead of a fresh goroutine growing it again for every addon.
	var g errgroup.Group
	order, largestGroup := launchOrder(opts.Addons)
	var next atomic.Int64
	for range min(max(bounds.AddonsInFlight, largestGroup), len(order)) {
		g.Go(func() error {
			for n := next.Add(1) - 1; n < int64(len(order)); n = next.Add(1) - 1 {
				i := order[n]
				addon := opts.Addons[i]
				reports[i] = env.runAddon(ctx, addon, pool, slots)
				env.progress.addonDone(addon.Name(), reports[i].Status == StatusSuccess)
			}
			return nil
		})
	}
	_ = g.Wait()
	env.chartHeads.wait()
	jobs := pool.Close()
	referrers.save(log)

	pruned := recordOutputs(opts, reports, log)
	rep := newReport(reports, env.registry, opts, time.Since(started))
	rep.DestinationUnknown = env.noDestination
	rep.addJobs(jobs)
	rep.lock = env.lock.build(rep)
	rep.Pruned = pruned
	rep.PullsRefused = env.client.RefusedPulls()
	for host, n := range rep.PullsRefused {
		log.Error("pull budget spent: the run stopped pulling before the registry refused it",
			zap.String("host", host), zap.Int("more_pulls_needed_at_least", n))
	}
	// The report and the lock are written side by side: neither reads the other.
	var reportErr error
	var written sync.WaitGroup
	if opts.ReportFile != "" {
		written.Add(1)
		go func() {
			defer written.Done()
			reportErr = rep.WriteJSON(opts.ReportFile)
		}()
	}
	// A plan writes the lock too (what it resolved: a --locked sync then runs exactly
	// that), unless it had no destination to fingerprint it with.
	var lockErr error
	if opts.LockFile != "" && !(opts.ScanOnly && env.noDestination) {
		if lockErr = WriteLock(opts.LockFile, rep.lock); lockErr == nil {
			log.Info("lock written", zap.String("lock", opts.LockFile), zap.Int("addons", len(rep.lock.Addons)))
		}
	}
	written.Wait()
	if reportErr != nil {
		return rep, reportErr
	}
	return rep, lockErr
}

// checkNames refuses, before anything is done, names that would reach a registry or Helm
// invalid (the CLI checks them as inputs are read; a library caller may not have).
func checkNames(opts Options) error {
	if msg := config.CheckRepositoryPath("target prefix", opts.TargetPrefix); msg != "" {
		return fmt.Errorf("%s", msg)
	}
	if msg := config.CheckRepositoryPath("chart prefix", strings.Trim(opts.ChartPrefix, "/")); msg != "" {
		return fmt.Errorf("%s", msg)
	}
	for _, a := range opts.Addons {
		if msg := config.CheckRepositoryPath("oci_namespace", a.OCINamespace); msg != "" {
			return fmt.Errorf("%s: addon %q: %s", a.Source, a.Name(), msg)
		}
		if msg := config.CheckRelease(a.Release); a.Release != "" && msg != "" {
			return fmt.Errorf("%s: addon %q: %s", a.Source, a.Name(), msg)
		}
	}
	return nil
}

func (o Options) withDefaults() Options {
	b := registry.NewBounds(o.Concurrency, o.ChartConcurrency)
	o.Concurrency, o.ChartConcurrency = b.CopyWorkers, b.Addons
	if o.OutputDir == "" {
		o.OutputDir = "helm-charts"
	}
	if o.KubeVersion == "" {
		o.KubeVersion = DefaultKubeVersion
	}
	if o.TargetKind == "" {
		o.TargetKind = "auto"
	}
	return o
}

// DefaultKubeVersion is the Kubernetes version charts are rendered for when none is given.
const DefaultKubeVersion = stages.DefaultKubeVersion

// addonValues is the addon's values with chart-overrides.yaml layered on top.
func addonValues(a config.Addon, ov config.Overrides) []map[string]any {
	var layers []map[string]any
	if len(a.Values) > 0 {
		layers = append(layers, a.Values)
	}
	if v, ok := ov[a.Chart]; ok && len(v) > 0 {
		layers = append(layers, v)
	}
	return layers
}

// chartDir is where an addon's local artifacts go: {output}/{chart}.
func chartDir(opts Options, a config.Addon) string { return filepath.Join(opts.OutputDir, a.Chart) }
