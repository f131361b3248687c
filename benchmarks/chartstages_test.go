package benchmarks

import (
	"context"
	"net/http"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/stages"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// corpusInput serves the corpus from an HTTP chart repository (the upstream dependency
// repositories mirrored onto it) and lists every corpus chart with its chart-overrides.
func corpusInput(tb testing.TB) ChartStagesInput {
	tb.Helper()
	srv := chartrepotest.ServeCorpus(tb)
	co, err := config.LoadChartOverrides(chartrepotest.WriteCorpusOverrides(tb, tb.TempDir()))
	ov := co.Values
	if err != nil {
		tb.Fatal(err)
	}
	in := ChartStagesInput{Mirrors: srv.Mirrors(srv.HTTP.URL), HTTPClient: loopbackClient(), WorkDir: tb.TempDir()}
	for _, c := range srv.Charts {
		job := ChartJob{Ref: stages.ChartRef{Repository: srv.HTTP.URL, Name: c.Name, Constraint: c.Version}}
		if v := ov[c.Name]; len(v) > 0 {
			job.Values = []map[string]any{v}
		}
		in.Charts = append(in.Charts, job)
	}
	return in
}

// loopbackClient reaches the test's chart repositories: no proxy, connections kept.
func loopbackClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: tr}
}

// BenchmarkChartStages takes every corpus chart through resolve → fetch (dependencies
// included) → render → extract, one after another (sequential) and NumCPU at a time
// (concurrent), in the same run. Every pass starts cold: a new resolver (index.yaml fetched
// again) and an empty fetch cache. Metrics: charts/s, the concurrent/sequential speedup
// (when both ran) and the peak RSS during the passes.
func BenchmarkChartStages(b *testing.B) {
	in := corpusInput(b)
	ctx := context.Background()
	var seq, conc []PassResult
	var seqRSS, concRSS int64
	run := func(b *testing.B, concurrency int, out *[]PassResult, rss *int64) {
		*out = nil
		debug.FreeOSMemory()
		if err := ResetPeakRSS(); err != nil {
			b.Logf("%v", err)
		}
		if base, err := CurrentRSS(); err == nil {
			b.Logf("RSS before the passes (servers, corpus archives, test binary): %.0f MiB", float64(base)/(1<<20))
		}
		for i := 0; i < b.N; i++ {
			p, err := RunChartStagesPass(ctx, in, concurrency)
			if err != nil {
				b.Fatal(err)
			}
			*out = append(*out, p)
		}
		peak, err := PeakRSS()
		if err != nil {
			b.Fatal(err)
		}
		*rss = peak
		perSec, _ := perSecond(*out)
		b.ReportMetric(perSec, "charts/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
	}
	b.Run("sequential", func(b *testing.B) { run(b, 1, &seq, &seqRSS) })
	b.Run("concurrent", func(b *testing.B) {
		run(b, runtime.NumCPU(), &conc, &concRSS)
		if len(seq) > 0 {
			f := NewChartStagesFigures(runtime.NumCPU(), seq, conc, 0)
			b.ReportMetric(f.Speedup, "speedup-x")
		}
	})
	if len(seq) > 0 && len(conc) > 0 {
		f := NewChartStagesFigures(runtime.NumCPU(), seq, conc, max(seqRSS, concRSS))
		b.Logf("sub-benchmarks above (cold cache each pass, %d images per pass):\n%s", conc[0].Images, f.Markdown())
		// The sub-benchmarks run one after the other; on a shared machine the load can
		// change in between. The same passes alternated give a fairer ratio.
		f, err := MeasureChartStages(ctx, in, len(seq))
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%d sequential and %d concurrent passes alternated:\n%s", len(seq), len(seq), f.Markdown())
	}
}

// TestMeasureChartStages runs the helper over part of the corpus: both ways give the same
// images, and the figures are filled in.
func TestMeasureChartStages(t *testing.T) {
	in := corpusInput(t)
	var subset []ChartJob
	for _, j := range in.Charts {
		switch j.Ref.Name {
		case "kube-prometheus-stack", "karpenter", "traefik":
			subset = append(subset, j)
		}
	}
	if len(subset) != 3 {
		t.Fatalf("corpus subset %v", subset)
	}
	in.Charts = subset
	ctx := context.Background()
	seq, err := RunChartStagesPass(ctx, in, 1)
	if err != nil {
		t.Fatal(err)
	}
	conc, err := RunChartStagesPass(ctx, in, 3)
	if err != nil {
		t.Fatal(err)
	}
	// kube-prometheus-stack 10 (its fetched dependencies included), karpenter 1, traefik 1.
	if seq.Images != 12 || conc.Images != seq.Images || seq.Charts != 3 {
		t.Errorf("sequential %+v, concurrent %+v: want 3 charts and 12 images both ways", seq, conc)
	}
	f, err := MeasureChartStages(ctx, in, 1)
	if err != nil {
		t.Fatal(err)
	}
	if f.Charts != 3 || f.SequentialPerSec <= 0 || f.ConcurrentPerSec <= 0 || f.Speedup <= 0 || f.PeakRSSBytes < 1<<20 {
		t.Errorf("figures %+v", f)
	}
	t.Logf("\n%s", f.Markdown())
}

// BenchmarkChartStagesRewrite measures the chart stages of a whole scan-only run over the
// corpus — resolve, fetch, dependencies, render, extract, rewrite, repack, consumer
// overrides — with the verified rewrite (RewriteChart: both verification renders, probing
// where the key-name plan falls short) against the key-name rewrite with its one render
// that runs did before, passes alternated in the same process. Metrics: CPU per pass of
// each, and their ratio (target ≤ 1.5×).
func BenchmarkChartStagesRewrite(b *testing.B) {
	in := corpusInput(b)
	ctx := context.Background()
	var cpu [2]time.Duration
	var wall [2]time.Duration
	modes := [2]RewriteMode{RewriteKeyNamesOnly, RewriteVerified}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for m, mode := range modes {
			in.Rewrite = mode
			runtime.GC()
			c0, t0 := ProcessCPU(), time.Now()
			if _, err := RunChartStagesPass(ctx, in, 1); err != nil {
				b.Fatalf("mode %d: %v", mode, err)
			}
			cpu[m] += ProcessCPU() - c0
			wall[m] += time.Since(t0)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(cpu[0].Milliseconds())/n, "keynames-cpu-ms/pass")
	b.ReportMetric(float64(cpu[1].Milliseconds())/n, "verified-cpu-ms/pass")
	b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "cpu-ratio-x")
	b.ReportMetric(float64(wall[1])/float64(wall[0]), "wall-ratio-x")
}
