package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/stages"
)

// addonImages is an addon's image jobs in the pool. Every way out of runAddon after they
// were submitted collects them once, so that the report lists every image with its result,
// copied or not, even when the addon fails at a later stage.
type addonImages struct {
	images    []stages.FoundImage
	pending   []*Pending
	collected bool
	// failed counts the failed images the chart needs (annotation-only ones excluded);
	// failedNames and drift name them, and the drift ones the chart needs.
	failed      int
	failedNames []string
	drift       []string
}

// submit queues one job per image.
func (e *runEnv) submitImages(pool *Pool, p *preparedAddon) *addonImages {
	ai := &addonImages{images: p.images, pending: make([]*Pending, len(p.mappings))}
	for i, m := range p.mappings {
		ai.pending[i] = pool.Submit(ImageJob{Source: m.Source, Destination: m.Destination, Platform: e.opts.Platform})
	}
	return ai
}

// collect waits for every job (until ctx ends) and records each result in rep. An
// annotation-only image that failed is a warning: the render does not use it. It does
// nothing when called again.
func (ai *addonImages) collect(ctx context.Context, e *runEnv, rep *AddonReport, log *zap.Logger) {
	if ai == nil || ai.collected {
		return
	}
	ai.collected = true
	rep.Images = slices.Grow(rep.Images, len(ai.pending))
	for i, p := range ai.pending {
		res := p.Wait(ctx)
		img := ai.images[i]
		rep.addImage(img, res)
		if res.Outcome == OutcomeDrift && !img.AnnotationOnly {
			ai.drift = append(ai.drift, res.Job.Source.String())
		}
		noteDrift(rep, res, log)
		if len(res.MissingPlatforms) > 0 {
			msg := fmt.Sprintf("image %s lacks %s, left out (--platform-missing skip)", res.Job.Source, strings.Join(res.MissingPlatforms, ", "))
			rep.Warnings = append(rep.Warnings, msg)
			log.Warn("image lacks requested platforms, left out", zap.String("image", res.Job.Source.String()), zap.Strings("platforms", res.MissingPlatforms))
		}
		if !res.Outcome.failed() {
			continue
		}
		if img.AnnotationOnly && ctx.Err() == nil {
			msg := fmt.Sprintf("image %s, listed only in the chart's artifacthub.io/images annotation (the render does not use it), was not mirrored: %v", res.Job.Source, res.Err)
			rep.Warnings = append(rep.Warnings, msg)
			log.Warn("annotation-only image not mirrored; the chart does not need it", zap.String("image", res.Job.Source.String()), zap.Error(res.Err))
			continue
		}
		ai.failed++
		ai.failedNames = append(ai.failedNames, res.Job.Source.String())
		log.Error("image failed", zap.String("image", res.Job.Source.String()), zap.Error(res.Err))
	}
}

// required says, per mapping, whether some image of the addon
// that needs it is used by the render (not annotation-only).
func requiredImages(p *preparedAddon) map[stages.ImageMapping]bool {
	out := map[stages.ImageMapping]bool{}
	for i, m := range p.mappings {
		if !p.images[i].AnnotationOnly {
			out[m] = true
		}
	}
	return out
}
