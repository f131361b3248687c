package stages

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/registry"
)

// RewriteInput is a chart to rewrite for the destination and how its addon renders it.
type RewriteInput struct {
	// Chart is the chart as fetched, dependencies in place. It is not modified.
	Chart *chart.Chart
	// Images are the chart's images and their destinations (with those of the other
	// releases of the same chart, which share the packaged chart).
	Images []ImageMapping
	// Found are the images the addon's render found, with their locations; probing the
	// empty values of a chart needs the locations.
	Found []FoundImage
	// Render is the addon's render: release, namespace, Kubernetes version and the value
	// layers (addon values, then chart-overrides).
	Render RenderOptions
}

// RewriteResult is a chart rewritten for the destination and verified by rendering it.
type RewriteResult struct {
	// Chart is the rewritten copy, to package.
	Chart *chart.Chart
	Plan  *RewritePlan
	// Overrides are the consumer overrides: the values that point the original chart at
	// the destination.
	Overrides map[string]any
	// UserKeys are value paths the addon's values or chart-overrides set themselves and
	// the rewrite had to change. A chart's defaults never win over values given at
	// install, so these are private only with the consumer overrides given too.
	UserKeys []string
	// Public lists every image a verification render still pulls from outside the
	// destination: empty means both renders are private.
	Public []PublicRef
	// Uses are the destination references the verification renders pull: the chart must
	// not be published unless each of them is at the destination (an image the original
	// render named only in the chart's annotation may be pulled once rewritten).
	Uses []registry.ImageRef
	// Probed is true when the plan came from probing the render (the key-name plan fell
	// short).
	Probed bool
	// Renders is how many renders the rewrite and its verification cost.
	Renders int
}

// PublicRef is an image a verification render still pulls from outside the destination.
type PublicRef struct {
	Image registry.ImageRef
	// Render is RenderPackaged or RenderConsumer.
	Render string
	Where  Location
	Reason string
}

// The two verification renders.
const (
	// RenderPackaged is the rewritten chart with the addon's values and chart-overrides.
	RenderPackaged = "packaged"
	// RenderConsumer is the original chart with the consumer overrides on top.
	RenderConsumer = "consumer-overrides"
)

// RewriteChart rewrites a copy of in.Chart so that it pulls every image from its
// destination, and verifies it: it renders (a) the rewritten chart with the addon's
// values and (b) the original chart with the consumer overrides on top of them, and
// lists every image either still pulls from elsewhere. The key-name plan (PlanRewrite)
// is tried first; when its renders are not private, the chart is probed (probe_plan.go)
// and the plan that leaves fewer public images wins. A render the rewrite breaks is an
// error; a probe render that fails is not.
func RewriteChart(ctx context.Context, in RewriteInput) (*RewriteResult, error) {
	if in.Chart == nil || in.Chart.Metadata == nil {
		return nil, fmt.Errorf("rewrite: no chart")
	}
	v := newVerifier(in)
	fast, fastErr := v.attempt(ctx, func(work *chart.Chart) (*RewritePlan, error) {
		return PlanRewrite(work, in.Images)
	})
	if fastErr == nil && len(fast.Public) == 0 {
		return fast, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	effective, err := v.effectiveValues()
	if err != nil {
		return nil, err
	}
	probe := probeEdits(ctx, in.Chart, in.Render, effective, v.user, in.Images, in.Found)
	for mi, why := range probe.reasons {
		v.reasons[in.Images[mi].Source] = why
	}
	probed, probeErr := v.attempt(ctx, func(work *chart.Chart) (*RewritePlan, error) {
		return planFromProbe(work, probe, in.Images)
	})
	renders := probe.renders
	if base, ok := v.probeUnpinned(ctx, probe, probed, probeErr); ok {
		probed, probeErr = base.res, nil
		renders += base.renders
	}
	for _, r := range []*RewriteResult{fast, probed} {
		if r != nil {
			renders += r.Renders
		}
	}
	var best *RewriteResult
	switch {
	case probeErr != nil && fastErr != nil:
		return nil, fastErr
	case probeErr != nil:
		best = fast
	case fastErr != nil || publicScore(probed, in.Images) <= publicScore(fast, in.Images):
		best = probed
		best.Probed = true
	default:
		best = fast
	}
	best.Renders = renders
	best = v.pinTags(ctx, best)
	// Reasons are known only now for the key-name plan's public images too.
	for i := range best.Public {
		best.Public[i].Reason = v.reason(best.Public[i].Image)
	}
	return best, nil
}

// planFromProbe turns probing's leaf values into edits of work's values files (the layer
// whose value is in effect, keys added where no layer writes one), and hard-coded
// references of the images probing could not reach into template edits.
func planFromProbe(work *chart.Chart, probe *probeOutcome, images []ImageMapping) (*RewritePlan, error) {
	var left []ImageMapping
	for mi := range probe.reasons {
		left = append(left, images[mi])
	}
	sort.Slice(left, func(i, j int) bool { return left[i].Source.String() < left[j].Source.String() })
	p := &planner{root: work, mappings: left, matched: make([]bool, len(left)), edits: map[string]int{}}
	for _, m := range left {
		p.literals = append(p.literals, imageLiterals(m))
	}
	instances := chartInstances(work)
	leafIDs := make([]int, 0, len(probe.assign))
	for id := range probe.assign {
		leafIDs = append(leafIDs, id)
	}
	sort.Ints(leafIDs)
	for _, id := range leafIDs {
		p.setTop(instances, probe.leaves[id].Path, probe.assign[id])
	}
	p.planTemplateLiterals(work, "")
	if len(p.errs) > 0 {
		return nil, fmt.Errorf("plan rewrite of chart %s: %s", work.Name(), strings.Join(p.errs, "; "))
	}
	return &RewritePlan{ValueEdits: p.valueEdits, TemplateEdits: p.templateEdits}, nil
}

// setTop plans a value named by its path from the top of the effective values.
func (p *planner) setTop(instances []chartInstance, path []string, v any) {
	best := instances[0]
	if len(path) > 0 && path[0] != "global" {
		for _, in := range instances {
			if len(in.keys) > len(best.keys) && len(in.keys) < len(path) && hasPrefix(path, in.keys) {
				best = in
			}
		}
	}
	p.setValue(best, path[len(best.keys):], v)
}

func hasPrefix(path, prefix []string) bool {
	if len(prefix) > len(path) {
		return false
	}
	for i := range prefix {
		if path[i] != prefix[i] {
			return false
		}
	}
	return true
}

// cloneChart copies c deeply enough that a rewrite of the copy (values, values files,
// templates) leaves c as it was.
func cloneChart(c *chart.Chart) *chart.Chart {
	out := copyChart(c)
	cloneFiles(out)
	return out
}

func cloneFiles(c *chart.Chart) {
	c.Templates = copyFiles(c.Templates)
	c.Files = copyFiles(c.Files)
	c.Raw = copyFiles(c.Raw)
	for _, d := range c.Dependencies() {
		cloneFiles(d)
	}
}

func copyFiles(in []*chart.File) []*chart.File {
	if in == nil {
		return nil
	}
	out := make([]*chart.File, len(in))
	for i, f := range in {
		cp := *f
		out[i] = &cp
	}
	return out
}
