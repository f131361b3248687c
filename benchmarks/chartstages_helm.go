package benchmarks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"

	"github.com/airgap-charts/airgap-charts/stages"
)

// PrepareHelmCharts writes, for every chart of in, the archive `helm template` is given:
// the chart as fetched with its dependencies in place under charts/ (as `helm dependency
// build` leaves it), and a values file holding the chart's value layers merged. It is done
// once, outside any timing.
func PrepareHelmCharts(ctx context.Context, in ChartStagesInput, dir string) ([]HelmChart, error) {
	cache, err := os.MkdirTemp(in.WorkDir, "helm-prep-cache-")
	if err != nil {
		return nil, fmt.Errorf("helm inputs: %w", err)
	}
	defer os.RemoveAll(cache)
	r, err := stages.NewResolver(stages.ResolverOptions{HTTPClient: in.HTTPClient, RepoMirrors: in.Mirrors})
	if err != nil {
		return nil, err
	}
	f, err := stages.NewFetcher(stages.FetcherOptions{CacheDir: cache, HTTPClient: in.HTTPClient})
	if err != nil {
		return nil, err
	}
	var out []HelmChart
	for i, job := range in.Charts {
		where := fmt.Sprintf("helm input %q from %s", job.Ref.Name, job.Ref.Repository)
		rc, err := r.Resolve(ctx, job.Ref, stages.ResolveOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		fc, err := f.Fetch(ctx, rc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		merged := stages.MergeValues(job.Values...)
		if _, err := stages.ResolveDependencies(ctx, fc.Chart, stages.DependencyOptions{Include: true, Resolver: r, Fetcher: f, Values: merged}); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		cdir := filepath.Join(dir, fmt.Sprintf("%03d", i))
		if err := os.MkdirAll(cdir, 0o755); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		archive, err := chartutil.Save(fc.Chart, cdir)
		if err != nil {
			return nil, fmt.Errorf("%s: package: %w", where, err)
		}
		hc := HelmChart{Name: job.Ref.Name, Archive: archive}
		if len(merged) > 0 {
			raw, err := yaml.Marshal(merged)
			if err != nil {
				return nil, fmt.Errorf("%s: values: %w", where, err)
			}
			hc.Values = filepath.Join(cdir, "values.yaml")
			if err := os.WriteFile(hc.Values, raw, 0o644); err != nil {
				return nil, fmt.Errorf("%s: values: %w", where, err)
			}
		}
		out = append(out, hc)
	}
	return out, nil
}

// HelmComparison is ours' chart stages (verified rewrite included, NumCPU charts at a
// time, as a run does them) against `helm template` of each chart in sequence, passes
// alternated in the same run.
type HelmComparison struct {
	Charts, Images, Passes, Concurrency int
	// OursWall and OursCPU are per pass (medians); CPU is the process's own user and
	// system time over the pass (the in-process chart repository's serving included).
	OursWall, OursCPU time.Duration
	// HelmWall and HelmCPU are per pass (medians); CPU is the helm processes' time.
	HelmWall, HelmCPU time.Duration
}

// WallRatio and CPURatio are ours over helm's.
func (c HelmComparison) WallRatio() float64 { return ratio(c.OursWall, c.HelmWall) }
func (c HelmComparison) CPURatio() float64  { return ratio(c.OursCPU, c.HelmCPU) }

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// CompareWithHelm alternates passes of ours (in.Rewrite as given; cold cache each pass)
// and of helm template over the prepared charts.
func CompareWithHelm(ctx context.Context, in ChartStagesInput, h *HelmTemplate, charts []HelmChart, passes int) (HelmComparison, error) {
	passes = max(1, passes)
	conc := runtime.NumCPU()
	c := HelmComparison{Charts: len(in.Charts), Passes: passes, Concurrency: conc}
	var ow, oc, hw, hc []time.Duration
	for range passes {
		runtime.GC()
		c0 := ProcessCPU()
		p, err := RunChartStagesPass(ctx, in, conc)
		if err != nil {
			return c, fmt.Errorf("ours: %w", err)
		}
		oc, ow = append(oc, ProcessCPU()-c0), append(ow, p.Elapsed)
		c.Images = p.Images
		hp, err := h.Template(ctx, charts)
		if err != nil {
			return c, err
		}
		hw, hc = append(hw, hp.Wall), append(hc, hp.CPU)
	}
	c.OursWall, c.OursCPU, c.HelmWall, c.HelmCPU = median(ow), median(oc), median(hw), median(hc)
	return c, nil
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// Markdown is one table row for RESULTS.md.
func (c HelmComparison) Markdown(set string) string {
	return fmt.Sprintf("| %s | %d | %d | %d | %.0f / %.0f ms | %.2f× | %.0f / %.0f ms | %.2f× |\n",
		set, c.Charts, c.Concurrency, c.Passes,
		ms(c.OursWall), ms(c.HelmWall), c.WallRatio(), ms(c.OursCPU), ms(c.HelmCPU), c.CPURatio())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
