package benchmarks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/stages"
)

// RewriteMode says how far a chart-stages pass takes each chart after extract.
type RewriteMode int

const (
	// RewriteNone stops after extract.
	RewriteNone RewriteMode = iota
	// RewriteKeyNamesOnly is the rewrite as it was before verification: the key-name plan,
	// applied, one render to list what stayed public, the repack, the consumer overrides.
	// It is the baseline the verified rewrite is measured against.
	RewriteKeyNamesOnly
	// RewriteVerified is the rewrite a run does: RewriteChart (key-name plan, both
	// verification renders, probing where the plan falls short), the repack, the
	// consumer overrides.
	RewriteVerified
)

// benchLayout is where the chart-stage benchmarks mirror images to.
var benchLayout = registry.MirrorLayout{Registry: "111122223333.dkr.ecr.us-east-1.amazonaws.com", Prefix: "bench"}

func rewriteStages(ctx context.Context, ch *chart.Chart, found []stages.FoundImage, job ChartJob, workDir string) error {
	var mappings []stages.ImageMapping
	for _, f := range found {
		mappings = append(mappings, stages.ImageMapping{Source: f.Ref, Destination: benchLayout.Destination(f.Ref)})
	}
	ro := stages.RenderOptions{Release: "rel", Namespace: "ns", KubeVersion: stages.DefaultKubeVersion, Values: job.Values}
	dir, err := os.MkdirTemp(workDir, "package-")
	if err != nil {
		return err
	}
	var packaged *chart.Chart
	var overrides map[string]any
	switch job.Rewrite {
	case RewriteKeyNamesOnly:
		plan, err := stages.PlanRewrite(ch, mappings)
		if err != nil {
			return err
		}
		if err := stages.ApplyRewrite(ch, plan); err != nil {
			return err
		}
		r, err := stages.Render(ctx, ch, ro)
		if err != nil {
			// The key-name rewrite breaks charts with substitution guards (postgresql): such
			// an addon failed at this point, its render spent.
			return nil
		}
		if _, err := stages.Extract(r, ch); err != nil {
			return err
		}
		packaged, overrides = ch, stages.ConsumerOverrides(ch, plan)
	case RewriteVerified:
		res, err := stages.RewriteChart(ctx, stages.RewriteInput{Chart: ch, Images: mappings, Found: found, Render: ro})
		if err != nil {
			return err
		}
		if len(res.Public) > 0 {
			return fmt.Errorf("%d images still public after the rewrite (first %s)", len(res.Public), res.Public[0].Image)
		}
		packaged, overrides = res.Chart, res.Overrides
	}
	if _, err := stages.PackageChart(packaged, dir); err != nil {
		return err
	}
	return stages.WriteConsumerOverrides(filepath.Join(dir, "values.yaml"), overrides)
}

// ProcessCPU is the CPU time (user and system) the process has used so far.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
