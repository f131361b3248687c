package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/bundle"
	"github.com/airgap-charts/airgap-charts/stages"
)

// ExportOptions says where an export writes its bundle.
type ExportOptions struct {
	// Dir is the bundle directory (created; an unfinished export in it is resumed).
	Dir string
	// PartSize bounds each part file in bytes; 0: one part.
	PartSize int64
	// Receipt is a receipt an import wrote: blobs and manifests it lists are left out.
	Receipt string
}

// ExportResult is what an export did.
type ExportResult struct {
	Manifest *bundle.Manifest
	// Addons are the addons' chart-stage reports (failed ones are not in the bundle).
	Addons []*AddonReport
	// Blobs written now, kept from an earlier run, left out for the receipt.
	BlobsWritten, BlobsKept, BlobsSkipped int
	BytesWritten                          int64
	Duration                              time.Duration
}

// Failed says whether some addon could not be exported.
func (r *ExportResult) Failed() bool {
	for _, a := range r.Addons {
		if a.Status != StatusSuccess {
			return true
		}
	}
	return false
}

// exportDestination stands in for the destination while the chart stages run on the
// connected side: nothing is ever sent to it.
const exportDestination = "bundle.invalid"

// exportWorkDir keeps an export's chart cache and run cache inside the bundle directory
// until the export completes (a rerun resumes from it).
const exportWorkDir = ".export"

// Export runs resolve → fetch → dependencies → render → extract for every addon, then
// writes every chart (its original archive, as a Helm OCI artifact) and every image (as
// opts.Platform chooses, with the referrers opts.Referrers keeps) into an OCI image layout
// whose blobs travel in parts. Nothing is pushed anywhere.
func Export(ctx context.Context, opts Options, eo ExportOptions, log *zap.Logger) (*ExportResult, error) {
	started := time.Now()
	if log == nil {
		log = zap.NewNop()
	}
	if eo.Dir == "" {
		return nil, fmt.Errorf("export: no bundle directory (--to)")
	}
	opts = opts.withDefaults()
	opts.TargetKind, opts.TargetRegistry, opts.TargetPrefix = "oci", exportDestination, ""
	opts.OutputDir = filepath.Join(eo.Dir, exportWorkDir)
	opts.ScanOnly, opts.ReportFile = true, ""
	if err := checkNames(opts); err != nil {
		return nil, err
	}
	if msg := registry.CheckReferrerMode(opts.Referrers); msg != "" {
		return nil, fmt.Errorf("--referrers %s", msg)
	}
	var receipt *bundle.Receipt
	if eo.Receipt != "" {
		r, err := bundle.ReadReceipt(eo.Receipt)
		if err != nil {
			return nil, err
		}
		receipt = r
	}
	if err := os.MkdirAll(opts.OutputDir, 0o755); err != nil {
		return nil, fmt.Errorf("bundle directory %s: %w", eo.Dir, err)
	}
	lock, err := lockOutputDir(opts.OutputDir)
	if err != nil {
		return nil, err
	}
	defer lock.release()
	id, err := exportID(eo.Dir)
	if err != nil {
		return nil, err
	}
	env, err := newRunEnv(ctx, opts, log)
	if err != nil {
		return nil, err
	}
	defer env.close()

	res := &ExportResult{}
	addons, charts, err := env.exportCharts(ctx, res, log)
	if err != nil {
		return res, err
	}
	m := &bundle.Manifest{Schema: bundle.SchemaVersion, ID: id, Tool: registry.Build().Version, Created: time.Now().UTC(),
		Platform: opts.Platform.String(), IncludeDeps: opts.IncludeDeps, KubeVersion: opts.KubeVersion,
		AllowPublicImages: opts.AllowPublicImages, Addons: addons, PartSize: eo.PartSize}
	fillExportPolicy(m, opts)
	if err := fillExportOverrides(m, opts); err != nil {
		return res, err
	}
	if receipt != nil {
		m.Receipt = &bundle.ReceiptRef{File: filepath.Base(eo.Receipt), ID: receipt.ID, Destination: receipt.Destination}
	}
	lw := &layoutWrite{env: env, m: m, dir: eo.Dir, receipt: receipt, log: log}
	missing, err := lw.planImages(ctx)
	if err != nil {
		return res, err
	}
	failImages(res, m, missing, log)
	if err := lw.addCharts(charts); err != nil {
		return res, err
	}
	if err := lw.writeParts(ctx, eo.PartSize, res); err != nil {
		return res, err
	}
	if err := lw.writeIndex(); err != nil {
		return res, err
	}
	if err := bundle.WriteManifest(eo.Dir, m); err != nil {
		return res, fmt.Errorf("bundle manifest %s: %w", filepath.Join(eo.Dir, bundle.ManifestFile), err)
	}
	res.Manifest = m
	res.Duration = time.Since(started)
	lock.release()
	_ = os.RemoveAll(opts.OutputDir) // complete: the work state is not part of the bundle
	return res, nil
}

// exportID keeps the bundle's identity across reruns into the same directory, and takes a
// finished bundle manifest out of the way while its parts may change.
func exportID(dir string) (string, error) {
	idFile := filepath.Join(dir, exportWorkDir, "bundle-id")
	if data, err := os.ReadFile(idFile); err == nil && len(strings.TrimSpace(string(data))) > 0 {
		_ = os.Remove(filepath.Join(dir, bundle.ManifestFile))
		return strings.TrimSpace(string(data)), nil
	}
	id := bundle.NewID()
	if m, err := bundle.ReadManifest(dir); err == nil {
		id = m.ID
	}
	if err := config.WriteFileAtomic(idFile, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("bundle directory %s: %w", dir, err)
	}
	_ = os.Remove(filepath.Join(dir, bundle.ManifestFile))
	return id, nil
}

// fillExportPolicy records the platform and referrer choices the import repeats.
func fillExportPolicy(m *bundle.Manifest, opts Options) {
	if opts.Platform.SkipsMissing() {
		m.PlatformMissing = registry.PlatformMissingSkip
	}
	ro := exportReferrerOptions(opts)
	m.Referrers, m.ReferrerTypes = ro.Mode, ro.Types
}

func fillExportOverrides(m *bundle.Manifest, opts Options) error {
	if len(opts.Overrides) > 0 {
		m.Overrides = map[string]json.RawMessage{}
		for chart, v := range opts.Overrides {
			data, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("overrides of chart %s: %w", chart, err)
			}
			m.Overrides[chart] = data
		}
	}
	if len(opts.PublicImages) > 0 {
		data, err := json.Marshal(opts.PublicImages)
		if err != nil {
			return fmt.Errorf("public_images: %w", err)
		}
		m.PublicImages = data
	}
	return nil
}

// exportChart is one chart archive to store.
type exportChart struct {
	bundle.Chart
	archive string
	meta    []byte // the Helm config: Chart.yaml as JSON
}

// exportCharts runs every addon's chart stages; it returns the bundle's addons, in input
// order, and the chart archives they need (their own and their fetched dependencies').
func (e *runEnv) exportCharts(ctx context.Context, res *ExportResult, log *zap.Logger) ([]bundle.Addon, []exportChart, error) {
	n := len(e.opts.Addons)
	reports := make([]*AddonReport, n)
	addons := make([]*bundle.Addon, n)
	charts := make([][]exportChart, n)
	var g errgroup.Group
	g.SetLimit(e.opts.ChartConcurrency)
	for i, a := range e.opts.Addons {
		g.Go(func() error {
			rep := &AddonReport{Addon: a.Name(), Chart: a.Chart, Release: a.Release, Repository: a.Repository, Status: StatusError}
			started := time.Now()
			ba, cs, err := e.exportAddon(ctx, a, rep, log)
			rep.Duration = Duration(time.Since(started))
			reports[i] = rep
			if err != nil {
				rep.Error = fmt.Sprintf("addon %s (%s): %s: %v", a.Name(), a.Source, rep.Stage, err)
				log.Error("addon failed", zap.String("addon", a.Name()), zap.String("stage", rep.Stage), zap.Error(err))
				return nil
			}
			rep.Status, rep.Stage = StatusSuccess, ""
			addons[i], charts[i] = ba, cs
			return nil
		})
	}
	_ = g.Wait()
	res.Addons = reports
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var out []bundle.Addon
	var all []exportChart
	seen := map[string]bool{}
	for i := range addons {
		if addons[i] == nil {
			continue
		}
		out = append(out, *addons[i])
		for _, c := range charts[i] {
			key := bundle.RepoKey(c.Repository) + "|" + c.Name + "|" + c.Version
			if !seen[key] {
				seen[key] = true
				all = append(all, c)
			}
		}
	}
	return out, all, nil
}

func (e *runEnv) exportAddon(ctx context.Context, a config.Addon, rep *AddonReport, log *zap.Logger) (*bundle.Addon, []exportChart, error) {
	alog := log.With(zap.String("addon", a.Name()), zap.String("chart", a.Chart))
	p, err := e.prepareAddon(ctx, a, rep, alog)
	if err != nil {
		return nil, nil, err
	}
	rep.Stage = "fetch"
	own, err := e.exportArchive(ctx, stages.ChartRef{Repository: a.Repository, OCINamespace: a.OCINamespace, Name: a.Chart, Constraint: rep.Version})
	if err != nil {
		return nil, nil, err
	}
	charts := []exportChart{own}
	rep.Stage = "dependencies"
	var depRepos []string
	for _, d := range rep.Dependencies {
		if d.Repository != "" {
			depRepos = appendOnce(depRepos, bundle.RepoKey(d.Repository))
		}
		if d.State != stages.DepFetched {
			continue
		}
		c, err := e.exportArchive(ctx, stages.ChartRef{Repository: d.Repository, Name: d.Name, Constraint: d.Version})
		if err != nil {
			return nil, nil, fmt.Errorf("dependency %s: %w", d.Name, err)
		}
		charts = append(charts, c)
	}
	ba := &bundle.Addon{Name: a.Name(), Chart: a.Chart, Repository: a.Repository, OCINamespace: a.OCINamespace,
		Version: rep.Version, Release: a.Release, Namespace: a.Namespace, ChartDigest: rep.ChartDigest, DependencyRepos: depRepos}
	if len(a.Values) > 0 {
		if ba.Values, err = json.Marshal(a.Values); err != nil {
			return nil, nil, fmt.Errorf("values: %w", err)
		}
	}
	for _, img := range p.images {
		ba.Images = append(ba.Images, img.Ref.String())
		if !img.AnnotationOnly {
			ba.Required = append(ba.Required, img.Ref.String())
		}
	}
	if p.entry != nil {
		entry := *p.entry
		entry.Format, entry.Addon, entry.Package = runCacheFormat, a.Name(), nil
		if ba.RunCache, err = json.Marshal(entry); err != nil {
			return nil, nil, fmt.Errorf("run cache record: %w", err)
		}
	}
	return ba, charts, nil
}

// exportArchive resolves ref (an exact version) and fetches its archive: both answered
// from the run's caches for a chart the stages already fetched.
func (e *runEnv) exportArchive(ctx context.Context, ref stages.ChartRef) (exportChart, error) {
	rc, err := e.resolver.Resolve(ctx, ref, stages.ResolveOptions{})
	if err != nil {
		return exportChart{}, err
	}
	fc, err := e.fetcher.Fetch(ctx, rc)
	if err != nil {
		return exportChart{}, err
	}
	st, err := os.Stat(fc.ArchivePath)
	if err != nil {
		return exportChart{}, err
	}
	meta, err := json.Marshal(fc.Chart.Metadata)
	if err != nil {
		return exportChart{}, fmt.Errorf("chart %s metadata: %w", ref.Name, err)
	}
	return exportChart{Chart: bundle.Chart{Name: fc.Chart.Name(), Version: rc.Version, Repository: ref.Repository,
		Digest: fc.Digest, Size: st.Size()}, archive: fc.ArchivePath, meta: meta}, nil
}

// failImages marks failed the addons an image they need could not be read for: the
// addon stays in the bundle (its import fails as a sync's would, the image not being
// there); an image named only by a chart's annotation is a warning.
func failImages(res *ExportResult, m *bundle.Manifest, missing map[string]error, log *zap.Logger) {
	if len(missing) == 0 {
		return
	}
	byName := map[string]*AddonReport{}
	for _, r := range res.Addons {
		byName[r.Addon] = r
	}
	for _, a := range m.Addons {
		rep := byName[a.Name]
		required := map[string]bool{}
		for _, r := range a.Required {
			required[r] = true
		}
		for _, ref := range a.Images {
			err, ok := missing[ref]
			if !ok {
				continue
			}
			if !required[ref] {
				log.Warn("image named only by the chart's annotation could not be read; not in the bundle",
					zap.String("addon", a.Name), zap.String("image", ref), zap.Error(err))
				continue
			}
			if rep != nil && rep.Status == StatusSuccess {
				rep.Status, rep.Stage = StatusError, "images"
				rep.Error = fmt.Sprintf("addon %s: images: %v", a.Name, err)
			}
			log.Error("image could not be read; not in the bundle", zap.String("addon", a.Name), zap.String("image", ref), zap.Error(err))
		}
	}
}
