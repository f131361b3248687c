package benchmarks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/airgap-charts/airgap-charts/stages"
)

// fleetChartsInput serves the charts of a generated fleet (n charts, their images never
// pushed: the chart stages only read references) from an HTTP chart repository.
func fleetChartsInput(tb testing.TB, n int) ChartStagesInput {
	tb.Helper()
	f, err := NewFleet(FleetOptions{Seed: 1, Charts: n, Images: n * 5 / 2, BaseLayers: 1, BaseLayerSize: 64, UniqueLayerSize: 64})
	if err != nil {
		tb.Fatal(err)
	}
	repo, err := f.ServeCharts(filepath.Join(tb.TempDir(), "repo"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(repo.Close)
	in := ChartStagesInput{HTTPClient: loopbackClient(), WorkDir: tb.TempDir()}
	for _, c := range f.Charts {
		in.Charts = append(in.Charts, ChartJob{Ref: stages.ChartRef{Repository: repo.URL, Name: c.Name, Constraint: c.Version}})
	}
	return in
}

// chartSets are the two chart sets the chart-stage comparisons run on.
func chartSets(tb testing.TB) map[string]func() ChartStagesInput {
	return map[string]func() ChartStagesInput{
		"corpus":   func() ChartStagesInput { return corpusInput(tb) },
		"fleet200": func() ChartStagesInput { return fleetChartsInput(tb, 200) },
	}
}

// helmBinDir is where the helm peer is built (once per version), beside the other peers.
func helmBinDir(tb testing.TB) string {
	d, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "airgap-bench-bin")
	}
	return filepath.Join(d, "airgap-bench", "bin")
}

// BenchmarkChartStagesVsHelm compares the chart stages of a run (resolve, fetch,
// dependencies, render, extract, verified rewrite with every render it needs, repack,
// consumer overrides; cold cache; NumCPU charts at a time) with `helm template` of each
// chart in sequence (the Helm CLI built from the module proxy at this module's Helm
// version, given each chart with its dependencies in place), passes alternated. Metrics:
// wall and CPU per pass of each, and ours/helm (targets: wall ≤ 0.5×, CPU ≤ 1.0×).
// -benchtime=Nx sets the passes.
func BenchmarkChartStagesVsHelm(b *testing.B) {
	ctx := context.Background()
	h, err := BuildHelm(ctx, helmBinDir(b))
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	for _, set := range []string{"corpus", "fleet200"} {
		b.Run(set, func(b *testing.B) {
			in := chartSets(b)[set]()
			in.Rewrite = RewriteVerified
			charts, err := PrepareHelmCharts(ctx, in, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			c, err := CompareWithHelm(ctx, in, h, charts, b.N)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(ms(c.OursWall), "ours-wall-ms")
			b.ReportMetric(ms(c.HelmWall), "helm-wall-ms")
			b.ReportMetric(ms(c.OursCPU), "ours-cpu-ms")
			b.ReportMetric(ms(c.HelmCPU), "helm-cpu-ms")
			b.ReportMetric(c.WallRatio(), "wall-x")
			b.ReportMetric(c.CPURatio(), "cpu-x")
			var lines []string
			for _, t := range HelmTargets(set, c) {
				lines = append(lines, t.Target+": "+t.Measured+" — "+t.Verdict)
			}
			fmt.Printf("%s: %d images per pass\n%s%s\n", set, c.Images, c.Markdown(set), strings.Join(lines, "\n"))
		})
	}
}

// BenchmarkChartStagesPipeline is ours' side of the comparison alone, one chart after
// another (a clean CPU profile: go test -bench ChartStagesPipeline -cpuprofile). Metrics:
// wall and CPU per pass.
func BenchmarkChartStagesPipeline(b *testing.B) {
	ctx := context.Background()
	for _, set := range []string{"corpus", "fleet200"} {
		b.Run(set, func(b *testing.B) {
			in := chartSets(b)[set]()
			in.Rewrite = RewriteVerified
			var cpu, wall time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				runtime.GC()
				c0, t0 := ProcessCPU(), time.Now()
				if _, err := RunChartStagesPass(ctx, in, 1); err != nil {
					b.Fatal(err)
				}
				cpu += ProcessCPU() - c0
				wall += time.Since(t0)
			}
			b.ReportMetric(ms(cpu)/float64(b.N), "cpu-ms/pass")
			b.ReportMetric(ms(wall)/float64(b.N), "wall-ms/pass")
		})
	}
}

// TestPrepareHelmCharts checks what the helm peer is given: each archive loads as Helm
// loads it, with its dependencies under charts/, and the values file holds the layers.
func TestPrepareHelmCharts(t *testing.T) {
	in := fleetChartsInput(t, 3)
	in.Charts[0].Values = []map[string]any{{"extra": map[string]any{"a": 1}}}
	charts, err := PrepareHelmCharts(context.Background(), in, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) != 3 {
		t.Fatalf("got %d charts, want 3", len(charts))
	}
	for i, c := range charts {
		ch, err := loader.Load(c.Archive)
		if err != nil {
			t.Fatalf("%s: %v", c.Archive, err)
		}
		if ch.Name() != in.Charts[i].Ref.Name || len(ch.Templates) == 0 {
			t.Errorf("%s: chart %q with %d templates", c.Archive, ch.Name(), len(ch.Templates))
		}
		if (c.Values != "") != (i == 0) {
			t.Errorf("chart %d: values file %q", i, c.Values)
		}
	}
	raw, err := os.ReadFile(charts[0].Values)
	if err != nil || !strings.Contains(string(raw), "a: 1") {
		t.Errorf("values file: %q, %v", raw, err)
	}
	corpus := corpusInput(t)
	var kps []ChartJob
	for _, j := range corpus.Charts {
		if j.Ref.Name == "kube-prometheus-stack" {
			kps = append(kps, j)
		}
	}
	corpus.Charts = kps
	charts, err = PrepareHelmCharts(context.Background(), corpus, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.Load(charts[0].Archive)
	if err != nil {
		t.Fatal(err)
	}
	var deps []string
	for _, d := range ch.Dependencies() {
		deps = append(deps, d.Name())
	}
	if len(deps) < 3 {
		t.Errorf("kube-prometheus-stack packaged for helm with dependencies %v, want its fetched ones too", deps)
	}
}

// TestHelmTargets reads the verdicts off made-up comparisons on either side of the limits.
func TestHelmTargets(t *testing.T) {
	c := HelmComparison{OursWall: 400 * time.Millisecond, HelmWall: time.Second, OursCPU: 1200 * time.Millisecond, HelmCPU: time.Second}
	lines := HelmTargets("corpus", c)
	if len(lines) != 2 || lines[0].Verdict != "met" || !strings.HasPrefix(lines[1].Verdict, "MISSED by 20%") {
		t.Fatalf("targets %+v: want wall 0.40× met and CPU 1.20× missed by 20%%", lines)
	}
	if !strings.Contains(lines[0].Measured, "400 vs 1000 ms = 0.40×") {
		t.Errorf("measured %q", lines[0].Measured)
	}
}
