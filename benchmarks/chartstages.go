// Package benchmarks measures airgap-charts against its workloads and peer tools.
package benchmarks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/airgap-charts/airgap-charts/stages"
)

// ChartJob is one chart to take through the chart stages, with its value layers (addon
// values, then chart-overrides).
type ChartJob struct {
	Ref    stages.ChartRef
	Values []map[string]any
	// Rewrite is the pass's RewriteMode.
	Rewrite RewriteMode
}

// ChartStagesInput is a chart set and where to fetch it from.
type ChartStagesInput struct {
	Charts []ChartJob
	// Mirrors are repository mirrors (dependencies' upstream repositories → the server).
	Mirrors map[string]string
	// HTTPClient reaches the repositories; nil: a default client.
	HTTPClient *http.Client
	// WorkDir holds one fresh chart cache per pass (removed after the pass).
	WorkDir string
	// Rewrite takes each chart on through the rewrite as a run does (RewriteNone: stop
	// after extract).
	Rewrite RewriteMode
}

// PassResult is one pass over the chart set.
type PassResult struct {
	Charts, Images int
	Elapsed        time.Duration
}

// RunChartStagesPass resolves, fetches (dependencies included), renders and extracts every
// chart, concurrency charts at a time (1: one after another), with a new resolver and an
// empty fetch cache: every index.yaml, tag list and archive is downloaded again, so each
// pass is cold. The first chart error ends the pass.
func RunChartStagesPass(ctx context.Context, in ChartStagesInput, concurrency int) (PassResult, error) {
	if concurrency < 1 {
		concurrency = 1
	}
	cache, err := os.MkdirTemp(in.WorkDir, "chart-cache-")
	if err != nil {
		return PassResult{}, fmt.Errorf("chart stages: cache directory: %w", err)
	}
	defer os.RemoveAll(cache)
	start := time.Now()
	r, err := stages.NewResolver(stages.ResolverOptions{HTTPClient: in.HTTPClient, RepoMirrors: in.Mirrors})
	if err != nil {
		return PassResult{}, err
	}
	f, err := stages.NewFetcher(stages.FetcherOptions{CacheDir: cache, HTTPClient: in.HTTPClient})
	if err != nil {
		return PassResult{}, err
	}
	var images atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, job := range in.Charts {
		g.Go(func() error {
			job.Rewrite = in.Rewrite
			n, err := chartStages(ctx, r, f, job, cache)
			if err != nil {
				return fmt.Errorf("chart %q from %s: %w", job.Ref.Name, job.Ref.Repository, err)
			}
			images.Add(int64(n))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return PassResult{}, err
	}
	return PassResult{Charts: len(in.Charts), Images: int(images.Load()), Elapsed: time.Since(start)}, nil
}

func chartStages(ctx context.Context, r *stages.Resolver, f *stages.Fetcher, job ChartJob, workDir string) (int, error) {
	rc, err := r.Resolve(ctx, job.Ref, stages.ResolveOptions{})
	if err != nil {
		return 0, err
	}
	fc, err := f.Fetch(ctx, rc)
	if err != nil {
		return 0, err
	}
	merged := stages.MergeValues(job.Values...)
	if _, err := stages.ResolveDependencies(ctx, fc.Chart, stages.DependencyOptions{Include: true, Resolver: r, Fetcher: f, Values: merged}); err != nil {
		return 0, err
	}
	rendered, err := stages.Render(ctx, fc.Chart, stages.RenderOptions{Release: "rel", Namespace: "ns", KubeVersion: stages.DefaultKubeVersion, Values: job.Values})
	if err != nil {
		return 0, err
	}
	found, err := stages.Extract(rendered, fc.Chart)
	if err != nil || job.Rewrite == RewriteNone {
		return len(found), err
	}
	return len(found), rewriteStages(ctx, fc.Chart, found, job, workDir)
}

// ChartStagesFigures compare the chart set done one after another with the same set done
// Concurrency charts at a time, in the same run.
type ChartStagesFigures struct {
	Charts, Concurrency int
	// SequentialPerSec and ConcurrentPerSec are charts per second; Speedup their ratio.
	SequentialPerSec, ConcurrentPerSec, Speedup float64
	// PeakRSSBytes is the process's peak resident set (VmHWM) over the passes measured.
	PeakRSSBytes int64
}

// NewChartStagesFigures computes the figures from the passes of each kind.
func NewChartStagesFigures(concurrency int, sequential, concurrent []PassResult, peakRSS int64) ChartStagesFigures {
	f := ChartStagesFigures{Concurrency: concurrency, PeakRSSBytes: peakRSS}
	f.SequentialPerSec, f.Charts = perSecond(sequential)
	f.ConcurrentPerSec, _ = perSecond(concurrent)
	if f.SequentialPerSec > 0 {
		f.Speedup = f.ConcurrentPerSec / f.SequentialPerSec
	}
	return f
}

func perSecond(passes []PassResult) (float64, int) {
	var charts int
	var d time.Duration
	for _, p := range passes {
		charts += p.Charts
		d += p.Elapsed
	}
	if d <= 0 || len(passes) == 0 {
		return 0, 0
	}
	return float64(charts) / d.Seconds(), passes[0].Charts
}

// MeasureChartStages runs passes sequential and concurrent passes (NumCPU at a time),
// alternating so both see the same machine load, and computes the figures; the peak RSS
// covers these passes where it can be reset (Linux), the whole process otherwise.
func MeasureChartStages(ctx context.Context, in ChartStagesInput, passes int) (ChartStagesFigures, error) {
	if passes < 1 {
		passes = 1
	}
	conc := runtime.NumCPU()
	_ = ResetPeakRSS() // best effort: without it the figure covers the whole process
	var seq, par []PassResult
	for range passes {
		s, err := RunChartStagesPass(ctx, in, 1)
		if err != nil {
			return ChartStagesFigures{}, err
		}
		c, err := RunChartStagesPass(ctx, in, conc)
		if err != nil {
			return ChartStagesFigures{}, err
		}
		seq, par = append(seq, s), append(par, c)
	}
	rss, err := PeakRSS()
	if err != nil {
		return ChartStagesFigures{}, err
	}
	return NewChartStagesFigures(conc, seq, par, rss), nil
}

// Markdown is a table for RESULTS.md.
func (f ChartStagesFigures) Markdown() string {
	return fmt.Sprintf("| charts | concurrency | sequential charts/s | concurrent charts/s | speedup | peak RSS |\n"+
		"|---|---|---|---|---|---|\n| %d | %d | %.2f | %.2f | %.2f× | %.0f MiB |\n",
		f.Charts, f.Concurrency, f.SequentialPerSec, f.ConcurrentPerSec, f.Speedup, float64(f.PeakRSSBytes)/(1<<20))
}

// PeakRSS is the process's peak resident set size, VmHWM in /proc/self/status (Linux).
func PeakRSS() (int64, error) { return procStatusBytes("VmHWM") }

// CurrentRSS is the process's resident set size now, VmRSS in /proc/self/status (Linux).
func CurrentRSS() (int64, error) { return procStatusBytes("VmRSS") }

func procStatusBytes(field string) (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/self/status %s %q: %w", field, v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// ResetPeakRSS restarts the peak resident set count (Linux: "5" to /proc/self/clear_refs),
// so that PeakRSS measures what follows; on other systems it says it cannot.
func ResetPeakRSS() error {
	err := os.WriteFile(filepath.Join("/proc", "self", "clear_refs"), []byte("5"), 0)
	if err != nil {
		return errors.Join(errors.New("peak RSS cannot be reset; it covers the whole process"), err)
	}
	return nil
}
