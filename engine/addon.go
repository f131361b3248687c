package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/stages"
)

// preparedAddon is an addon after extract: its chart, images and their destinations.
type preparedAddon struct {
	// chart is nil when the run cache knew the archive (load loads it if needed).
	chart         *chart.Chart
	name, version string
	load          func(context.Context) error
	layers        []map[string]any
	images        []stages.FoundImage
	mappings      []stages.ImageMapping
	// shared is the rewrite's images: these and those of the other addons releasing the
	// same chart (chartGroup).
	shared []stages.ImageMapping
	// entry is the run cache's record for this run (nil: not cacheable); prev is the last
	// run's package record, whose pushed manifest still holds for the same archive.
	entry *runCacheEntry
	prev  *cachedPackage
	// archive is the packaged chart, handed to the check and the publish as it is.
	archive stages.ChartArchive
	// unpinned maps the pinned references of shared back to their destinations (pin.go).
	unpinned map[registry.ImageRef]registry.ImageRef
}

func (e *runEnv) prepareAddon(ctx context.Context, a config.Addon, rep *AddonReport, log *zap.Logger) (*preparedAddon, error) {
	rep.Stage = "resolve"
	t := time.Now()
	cref, ropts := e.lock.chartRef(a, e.opts.Latest) // under --locked: the locked version
	rc, err := e.resolver.Resolve(ctx, cref, ropts)
	if err != nil {
		return nil, err
	}
	rep.Version = rc.Version
	rep.timing("resolve", t)
	log.Debug("resolved", zap.String("resolved_version", rc.Version))

	rep.Stage = "fetch"
	t = time.Now()
	fc, err := e.fetcher.FetchArchive(ctx, rc)
	if err != nil {
		return nil, err
	}
	rep.ChartDigest = fc.Digest
	rep.timing("fetch", t)
	if err := e.lock.checkChart(a, rep, log); err != nil {
		return nil, err
	}

	layers := addonValues(a, e.opts.Overrides)
	ro := e.renderOptions(a, layers)
	p := &preparedAddon{layers: layers}
	prev := e.cache.take(a, log)
	archiveKey := e.cache.archiveKey(fc.Digest, layers, ro, e.opts.IncludeDeps)
	var images []stages.FoundImage
	if prev.knowsArchive(archiveKey) {
		// The same archive, values and settings as an earlier run, whose chart needed
		// nothing from outside its archive: its dependencies and images without loading it.
		rep.Dependencies = prev.Dependencies
		logDependencies(log, rep.Dependencies)
		p.name, p.version = prev.Chart.Name, prev.Chart.Version
		p.load = func(ctx context.Context) error { return e.loadChart(ctx, p, fc, rep, log) }
		images = prev.foundImages()
		rep.Fallbacks = prev.Fallbacks
		rep.RunCache = RunCacheImages
		p.entry = prev
	} else {
		if err := e.loadChart(ctx, p, fc, rep, log); err != nil {
			return nil, err
		}
		key, err := e.cache.key(p.chart, layers, ro, e.opts.IncludeDeps)
		if err != nil {
			log.Debug("run cache not used for this addon", zap.Error(err))
		}
		if prev != nil && key != "" && prev.Key == key {
			// The same chart, values and settings as last run: its images without a render.
			images = prev.foundImages()
			rep.Fallbacks = prev.Fallbacks
			rep.RunCache = RunCacheImages
			p.entry = prev
		} else {
			if images, err = e.renderAndExtract(ctx, p.chart, ro, rep); err != nil {
				return nil, err
			}
			rep.RunCache = RunCacheMiss
			if key != "" {
				p.entry = &runCacheEntry{Key: key, Images: cacheImages(images), Fallbacks: rep.Fallbacks}
			}
		}
		p.entry.remember(archiveKey, p, rep.Dependencies)
	}
	if prev != nil {
		p.prev = prev.Package
	}
	for _, f := range rep.Fallbacks {
		log.Warn("placeholder value used to render; set it in chart-overrides.yaml", zap.String("fallback", f))
	}
	if len(images) == 0 {
		rep.Warnings = append(rep.Warnings, "the chart rendered no images: a required setting may be missing (see chart-overrides.yaml)")
		log.Warn("the chart rendered no images; a discovery or required setting may be missing")
	}
	p.images = images
	for _, img := range images {
		p.mappings = append(p.mappings, stages.ImageMapping{Source: img.Ref, Destination: e.layout.Destination(img.Ref)})
	}
	return p, nil
}

// renderAndExtract renders the chart and extracts its images.
func (e *runEnv) renderAndExtract(ctx context.Context, ch *chart.Chart, ro stages.RenderOptions, rep *AddonReport) ([]stages.FoundImage, error) {
	rep.Stage = "render"
	t := time.Now()
	rendered, err := stages.Render(ctx, ch, ro)
	if err != nil {
		return nil, err
	}
	rep.Fallbacks = rendered.Fallbacks
	rep.timing("render", t)
	e.renders.Add(1)

	rep.Stage = "extract"
	t = time.Now()
	images, err := stages.Extract(rendered, ch)
	if err != nil {
		return nil, err
	}
	rep.timing("extract", t)
	return images, nil
}

func (e *runEnv) renderOptions(a config.Addon, layers []map[string]any) stages.RenderOptions {
	release := a.Release
	if release == "" {
		release = a.Chart
	}
	return stages.RenderOptions{Release: release, Namespace: a.RenderNamespace(), KubeVersion: e.opts.KubeVersion, Values: layers}
}

// rewriteAndPackage writes private references into the chart, checks by rendering again
// that every image is private, repacks the chart and writes the consumer overrides.
func (e *runEnv) rewriteAndPackage(ctx context.Context, a config.Addon, p *preparedAddon, rep *AddonReport, log *zap.Logger) error {
	t := time.Now()
	dir := chartDir(e.opts, a)
	archive := filepath.Join(dir, fmt.Sprintf("%s-%s.tgz", p.name, p.version))
	valuesPath := overridesPath(e.opts, a)
	restoreMarkedOverrides(valuesPath)
	var pkgKey string
	if p.entry != nil {
		pkgKey = packageKey(p.entry.Key, e.registry, p.shared)
		pkg := p.entry.Package
		if ar, ok := pkg.open(pkgKey, archive, valuesPath); ok && rep.RunCache == RunCacheImages {
			// Last run's rewrite of the same inputs, its files intact: nothing to redo.
			rep.RunCache = RunCacheHit
			rep.PublicImages = append([]PublicImage(nil), pkg.PublicImages...)
			rep.ChartArchive, rep.PackagedDigest, rep.ConsumerOverrides = pkg.Archive, pkg.ArchiveDigest, pkg.Overrides
			if !e.noDestination { // a plan checks the archive against the destination too
				if ar.Metadata != nil {
					p.archive = ar
				} else {
					var err error
					if p.archive, err = stages.OpenChartArchive(pkg.Archive, 0); err != nil {
						return err
					}
					pkg.Metadata = p.archive.Metadata
				}
			}
			rep.timing("package", t)
			return nil
		}
	}
	if p.chart == nil {
		if err := p.load(ctx); err != nil {
			return err
		}
	}
	res, err := stages.RewriteChart(ctx, stages.RewriteInput{Chart: p.chart, Images: p.shared, Found: p.images,
		Render: e.renderOptions(a, p.layers)})
	if err != nil {
		return err
	}
	p.requireUsed(p.unpin(res.Uses))
	for _, pub := range res.Public {
		where := ""
		if w := pub.Where; w.Kind != "" {
			where = fmt.Sprintf("%s/%s %s", w.Kind, w.Name, w.Path)
			if w.Template != "" {
				where += " (" + w.Template + ")"
			}
		}
		rep.PublicImages = append(rep.PublicImages, PublicImage{Image: pub.Image.String(), Render: pub.Render, Where: where, Reason: pub.Reason})
	}
	for _, k := range res.UserKeys {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the addon's values set %s, which the private reference needs changed: "+
			"install with the consumer overrides (%s) after your values", k, valuesPath))
	}
	if res.Probed {
		log.Debug("rewrite planned by probing the render", zap.Int("renders", res.Renders))
	}
	rep.timing("rewrite", t)

	rep.Stage = "package"
	t = time.Now()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	p.archive, err = stages.PackageChart(res.Chart, dir)
	if err != nil {
		return err
	}
	path, digest := p.archive.Path, p.archive.Digest
	rep.ChartArchive = path
	rep.PackagedDigest = digest
	if err := stages.WriteConsumerOverrides(valuesPath, res.Overrides); err != nil {
		return err
	}
	rep.ConsumerOverrides = valuesPath
	rep.timing("package", t)
	if p.entry != nil {
		pkg := &cachedPackage{Key: pkgKey, Archive: path, ArchiveDigest: digest, Overrides: valuesPath,
			OverridesDigest: fileDigest(valuesPath), PublicImages: append([]PublicImage(nil), rep.PublicImages...),
			Metadata: p.archive.Metadata}
		if p.prev != nil && p.prev.ArchiveDigest == digest {
			pkg.ChartRef, pkg.Manifest = p.prev.ChartRef, p.prev.Manifest
		}
		p.entry.Package = pkg
		// Saved now: a run whose images fail still spares the next one the render.
		e.cache.save(a, p.entry, log)
	}
	return nil
}

// chartRef is where an addon's chart lands: oci://{registry}/{namespace?}/{chart}:{version}.
func (e *runEnv) chartRef(a config.Addon, version string) string {
	return e.chartBase(a) + "/" + a.Chart + ":" + version
}

func (e *runEnv) chartBase(a config.Addon) string {
	base := "oci://" + e.registry
	if cp := strings.Trim(e.opts.ChartPrefix, "/"); cp != "" {
		base += "/" + cp
	}
	if ns := strings.Trim(a.OCINamespace, "/"); ns != "" {
		base += "/" + ns
	}
	return base
}

// checkChart asks the destination whether it holds the packaged chart (one request: a
// HEAD when the run cache knows the archive's pushed manifest). A failed check is logged
// and left to the publish, which checks again.
func (e *runEnv) checkChart(ctx context.Context, a config.Addon, p *preparedAddon, rep *AddonReport, log *zap.Logger) *stages.ChartCheck {
	t := time.Now()
	known := ""
	if pkg := p.cachedPackage(); pkg != nil && pkg.ArchiveDigest == rep.PackagedDigest && pkg.ChartRef == e.chartRef(a, rep.Version) {
		known = pkg.Manifest
	}
	if err := e.publishes.Acquire(ctx, 1); err != nil {
		return nil
	}
	if c, ok := e.chartHeads.same(ctx, e.chartRef(a, rep.Version), known, p.archive); ok {
		e.publishes.Release(1)
		rep.timing("check", t)
		return &c
	} else if known != "" && e.chartHeads != nil {
		known = "" // the tag's HEAD was asked: read the manifest
	}
	c, err := e.publisher.Check(ctx, p.archive, e.chartBase(a), known)
	e.publishes.Release(1)
	if err != nil {
		log.Debug("chart check failed; the publish checks again", zap.Error(err))
		return nil
	}
	rep.timing("check", t)
	return &c
}

// requireUsed makes every image whose destination the rewritten chart pulls one the chart
// needs: an image the original render named only in the chart's annotation may be pulled
// once rewritten, and a chart is never published pointing at a reference that is not at
// the destination.
func (p *preparedAddon) requireUsed(uses []registry.ImageRef) {
	used := map[registry.ImageRef]bool{}
	for _, u := range uses {
		used[u] = true
	}
	for i, m := range p.mappings {
		if p.images[i].AnnotationOnly && used[m.Destination] {
			p.images[i].AnnotationOnly = false
			if p.entry != nil && i < len(p.entry.Images) {
				p.entry.Images[i].AnnotationOnly = false
			}
		}
	}
}

func (p *preparedAddon) cachedPackage() *cachedPackage {
	if p.entry == nil {
		return nil
	}
	return p.entry.Package
}

// publish pushes the chart unless the check found it there. Members of a chart group push
// their shared archive once.
func (e *runEnv) publish(ctx context.Context, a config.Addon, g *chartGroup, p *preparedAddon, rep *AddonReport, check *stages.ChartCheck) error {
	t := time.Now()
	ref := e.chartRef(a, rep.Version)
	res, err := g.publishOnce(ctx, rep.PackagedDigest, func(ctx context.Context) (stages.PublishResult, error) {
		return e.publisher.Publish(ctx, p.archive, e.chartBase(a), check)
	})
	if errors.Is(err, stages.ErrArchiveChanged) && p.entry != nil {
		p.entry.Package.forgetStamps()
		e.cache.save(a, p.entry, e.log)
	}
	if err != nil {
		return err
	}
	rep.ChartRef = "oci://" + strings.TrimPrefix(res.Ref, "oci://")
	rep.ChartResult = "pushed"
	switch {
	case res.Skipped:
		rep.ChartResult = "skipped-same-digest"
	case check != nil && check.Exists && !check.Same:
		rep.ChartResult = ChartOverwritten
	}
	if pkg := p.cachedPackage(); pkg != nil && pkg.ArchiveDigest == rep.PackagedDigest {
		pkg.ChartRef, pkg.Manifest = ref, res.Digest
	}
	rep.timing("publish", t)
	return nil
}
