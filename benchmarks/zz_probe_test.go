package benchmarks

import (
	"context"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/stages"
)

func TestZZPerChart(t *testing.T) {
	in := corpusInput(t)
	ctx := context.Background()
	r, _ := stages.NewResolver(stages.ResolverOptions{HTTPClient: in.HTTPClient, RepoMirrors: in.Mirrors})
	f, _ := stages.NewFetcher(stages.FetcherOptions{CacheDir: t.TempDir(), HTTPClient: in.HTTPClient})
	for _, job := range in.Charts {
		c0 := ProcessCPU()
		rc, err := r.Resolve(ctx, job.Ref, stages.ResolveOptions{})
		if err != nil { t.Fatal(err) }
		fc, err := f.Fetch(ctx, rc)
		if err != nil { t.Fatal(err) }
		merged := stages.MergeValues(job.Values...)
		stages.ResolveDependencies(ctx, fc.Chart, stages.DependencyOptions{Include: true, Resolver: r, Fetcher: f, Values: merged})
		c1 := ProcessCPU()
		ro := stages.RenderOptions{Release: "rel", Namespace: "ns", KubeVersion: "1.33.0", Values: job.Values}
		rendered, err := stages.Render(ctx, fc.Chart, ro)
		if err != nil { t.Fatal(err) }
		c2 := ProcessCPU()
		found, _ := stages.Extract(rendered, fc.Chart)
		c3 := ProcessCPU()
		var mappings []stages.ImageMapping
		for _, f := range found {
			mappings = append(mappings, stages.ImageMapping{Source: f.Ref, Destination: benchLayout.Destination(f.Ref)})
		}
		res, err := stages.RewriteChart(ctx, stages.RewriteInput{Chart: fc.Chart, Images: mappings, Found: found, Render: ro})
		if err != nil { t.Fatal(err) }
		c4 := ProcessCPU()
		dir := t.TempDir()
		stages.PackageChart(res.Chart, dir)
		c5 := ProcessCPU()
		ms := func(d time.Duration) int64 { return d.Milliseconds() }
		t.Logf("%-30s fetch+deps %4d render %4d extract %4d rewrite %4d (renders %d probed %v) package %4d", job.Ref.Name, ms(c1-c0), ms(c2-c1), ms(c3-c2), ms(c4-c3), res.Renders, res.Probed, ms(c5-c4))
	}
}
