package engine

import (
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/stages"
)

// PlaceholderRegistry is the destination host a plan without a destination writes in
// rewritten charts and the report (AWS's own placeholder for an ECR registry).
const PlaceholderRegistry = "aws_account_id.dkr.ecr.region.amazonaws.com"

// imageDrift leaves the addon DRIFT, its chart unpublished, when an image it needs is
// drift (its destination tag holds another digest; not overwritten). It reports whether
// it did.
func (e *runEnv) imageDrift(a config.Addon, rep *AddonReport, images *addonImages, log *zap.Logger) bool {
	if len(images.drift) == 0 {
		return false
	}
	rep.Status, rep.Stage = StatusDrift, "images"
	rep.ChartResult, rep.ChartRef = ChartBlocked, e.plannedChartRef(a, rep.Version)
	verb := "not published"
	if e.opts.ScanOnly {
		verb = "would not be published"
	}
	rep.Error = fmt.Sprintf("addon %s (%s): images: chart %s: %d images drift (their destination tags hold other digests than the source's: %s); "+
		"rerun with --overwrite-existing to replace them", a.Name(), a.Source, verb, len(images.drift), strings.Join(images.drift, ", "))
	log.Warn("addon drift: chart not published", zap.Strings("drift_images", images.drift))
	return true
}

// chartDrift leaves the addon DRIFT when the chart's destination tag holds another chart
// (another --target-prefix's rewrite, say) and --overwrite-existing was not given. It
// reports whether it did.
func (e *runEnv) chartDrift(a config.Addon, rep *AddonReport, check *stages.ChartCheck, log *zap.Logger) bool {
	if check == nil || !check.Exists || check.Same {
		return false
	}
	if e.opts.OverwriteDigest {
		log.Warn("chart drift: the chart tag holds another chart; overwriting it (--overwrite-existing)",
			zap.String("chart_ref", check.Ref), zap.String("destination_manifest", check.Manifest))
		return false
	}
	if e.lock.acceptsChart(a, rep) {
		log.Warn("chart republished since the lock: replacing the chart tag's earlier rewrite (--update-lock)",
			zap.String("chart_ref", check.Ref), zap.String("destination_manifest", check.Manifest))
		return false
	}
	rep.Status, rep.Stage = StatusDrift, "publish"
	rep.ChartResult, rep.ChartRef = ChartDrift, e.plannedChartRef(a, rep.Version)
	verb := "not overwritten"
	if e.opts.ScanOnly {
		verb = "would not be overwritten"
	}
	rep.Error = fmt.Sprintf("addon %s (%s): publish: chart tag %s holds another chart (manifest %s) than this run's (archive %s), %s: "+
		"give --chart-prefix to put this run's charts under a path of their own, or --overwrite-existing to replace it",
		a.Name(), a.Source, check.Ref, check.Manifest, check.ArchiveDigest, verb)
	log.Warn("chart drift: chart not published", zap.String("chart_ref", check.Ref), zap.String("destination_manifest", check.Manifest))
	return true
}

// planChart gives a plan's chart result: planned (destination unknown), present, drift or
// publish. It reports whether the addon ended DRIFT.
func (e *runEnv) planChart(a config.Addon, rep *AddonReport, check *stages.ChartCheck, log *zap.Logger) bool {
	rep.ChartRef = e.chartRef(a, rep.Version)
	switch {
	case e.noDestination:
		rep.ChartResult = ChartPlanned
	case check == nil:
		rep.ChartResult = ChartPublish // the check failed (logged): a sync checks again
	case check.Same:
		rep.ChartResult = ChartPresent
	case e.chartDrift(a, rep, check, log):
		return true
	default:
		rep.ChartResult = ChartPublish
	}
	return false
}

// waitsFor names the images a chart waits for that failed, for its error.
func (ai *addonImages) waitsFor() string {
	if len(ai.failedNames) == 0 {
		return ""
	}
	names := ai.failedNames
	more := ""
	if len(names) > 5 {
		names, more = names[:5], fmt.Sprintf(" and %d more", len(ai.failedNames)-5)
	}
	return ", it waits for " + strings.Join(names, ", ") + more
}

// plannedChartRef is, for a plan, where the chart would land, so its table can name it; a
// sync names only the references it published ("").
func (e *runEnv) plannedChartRef(a config.Addon, version string) string {
	if !e.opts.ScanOnly {
		return ""
	}
	return e.chartRef(a, version)
}
