package engine

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry/bundle"
	"github.com/airgap-charts/airgap-charts/registry/ecrsim"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// bundleCharts are corpus charts for the bundle tests: one with HTTP dependencies fetched
// from their repositories (prometheus), one needing render values (external-dns).
var bundleCharts = []string{"alertmanager", "external-dns", "prometheus"}

// importOptions is an import of a bundle into dest: the destination flags of a sync only.
func bundleImportOptions(dest, out string) Options {
	return Options{TargetRegistry: dest, TargetPrefix: "mirror", TargetKind: "oci", SkipExisting: true,
		Concurrency: 8, ChartConcurrency: 2, InsecureRegistry: []string{dest},
		OutputDir: out, ReportFile: filepath.Join(out, "report.json")}
}

// exportBundle exports w's charts into dir.
func exportBundle(t *testing.T, w *e2eWorld, dir string, eo ExportOptions) *ExportResult {
	t.Helper()
	eo.Dir = dir
	res, err := Export(context.Background(), w.options("unused.invalid", t.TempDir()), eo, e2eLogger(t))
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if res.Failed() {
		for _, a := range res.Addons {
			t.Errorf("export addon %s: %s %s", a.Addon, a.Status, a.Error)
		}
		t.FailNow()
	}
	return res
}

// TestBundleExportImport exports the charts from in-process source registries and an HTTP
// chart repository, then imports the bundle into a distribution registry and into the ECR
// simulator. The import reads nothing from the sources; every image lands at its mirrored
// path with the source digest, every chart is pushed and renders private both ways, and
// the report equals a direct sync's apart from timings and the destination host.
func TestBundleExportImport(t *testing.T) {
	w := newE2EWorld(t, bundleCharts)
	dir := filepath.Join(t.TempDir(), "bundle")
	w.src.Reset()
	res := exportBundle(t, w, dir, ExportOptions{})
	src := w.src.Counts()
	m := res.Manifest
	if len(m.Parts) != 1 || len(m.Images) != len(w.digests) {
		t.Fatalf("bundle: %d parts, %d images; want 1 part, %d images", len(m.Parts), len(m.Images), len(w.digests))
	}
	// Each source blob read once: GETs = distinct blobs; no manifest read twice.
	if b, mf := src[registrytest.BlobGet], src[registrytest.ManifestGet]; b != len(w.digests)*seededBlobs || mf != len(w.digests)*seededManifests {
		t.Errorf("export read %d blobs and %d manifests from the source, want %d and %d", b, mf, len(w.digests)*seededBlobs, len(w.digests)*seededManifests)
	}
	if st := bundle.ScanPart(filepath.Join(dir, m.Parts[0].File)); st.Err != nil || st.SHA256 != m.Parts[0].SHA256 {
		t.Fatalf("part 1 does not verify: %v", st.Err)
	}
	// Every repository a dependency names is served from the bundle: the import never
	// looks for a chart elsewhere, even a disabled dependency's.
	o, err := bundle.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := bundle.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	mirrors := srv.RepoMirrors("127.0.0.1:1")
	for _, a := range res.Addons {
		for _, d := range a.Dependencies {
			if _, ok := mirrors[bundle.RepoKey(d.Repository)]; d.Repository != "" && !ok {
				t.Errorf("dependency %s of %s: repository %s not served from the bundle", d.Name, a.Addon, d.Repository)
			}
		}
	}
	t.Logf("export: %d charts, %d images, %d blobs written (%d bytes); source %v", len(m.Charts), len(m.Images), res.BlobsWritten, res.BytesWritten, src)

	t.Run("oci", func(t *testing.T) {
		dst := registrytest.New(t)
		opts := bundleImportOptions(dst.Host, t.TempDir())
		w.src.Reset()
		w.charts.Reset()
		w.deps.Reset()
		ir, err := Import(context.Background(), opts, ImportOptions{From: dir, ReceiptOut: filepath.Join(t.TempDir(), "receipt.json")}, e2eLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(w.src.Requests()) + w.charts.ArchiveRequests() + w.charts.Count("/index.yaml") + w.deps.Count("/index.yaml"); n != 0 {
			t.Errorf("import reached the sources (%d requests): %v", n, w.src.Counts())
		}
		rep := ir.Report
		d := destination{registry: dst.Host, serve: dst.Host, prefix: "mirror"}
		checkAddonsSucceeded(t, rep)
		checkImagesMirrored(t, w, rep, d)
		checkCharts(t, w, rep, d, opts.OutputDir)
		checkReportFile(t, w, rep, opts.ReportFile)
		if len(ir.Waiting) != 0 {
			t.Errorf("images waiting with every part present: %v", ir.Waiting)
		}
		// The export's render records spared the import the render that finds the images
		// (the rewrite renders), and are in the output directory for the next run.
		cache := newRunCache(opts.OutputDir, nil)
		for i, a := range rep.Addons {
			if a.RunCache != RunCacheImages {
				t.Errorf("import, %s: run cache %q, want %q (the bundle's render record)", a.Addon, a.RunCache, RunCacheImages)
			}
			if e, _ := cache.readFile(importedAddon(t, opts, dir, i)); e == nil || e.Package == nil {
				t.Errorf("import, %s: no run cache entry with the package written", a.Addon)
			}
		}

		// The same input synced directly.
		direct, _, srep := directSync(t, w, nil)
		compareReports(t, srep, direct.Host, rep, dst.Host)

		// A second import of the same bundle copies nothing.
		dst.Reset()
		again, err := Import(context.Background(), opts, ImportOptions{From: dir}, e2eLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		checkNothingCopied(t, again.Report)
		for _, a := range again.Report.Addons {
			if a.RunCache != RunCacheHit {
				t.Errorf("second import, %s: run cache %q, want %q", a.Addon, a.RunCache, RunCacheHit)
			}
		}
		if n := writes(dst.Counts()); n != 0 {
			t.Errorf("second import wrote to the destination: %v", dst.Counts())
		}
		t.Logf("warm import: destination %v", dst.Counts())
	})

	t.Run("ecr", func(t *testing.T) {
		sim := ecrsim.New(t)
		cfg := sim.AWSConfig()
		opts := bundleImportOptions(sim.Host, t.TempDir())
		opts.TargetKind = "ecr"
		opts.ECR = ECROptions{CreateRepositories: true, Endpoint: sim.URL, AWSConfig: &cfg, PutImageRate: 1000, LayerUploadRate: 1000}
		w.src.Reset()
		ir, err := Import(context.Background(), opts, ImportOptions{From: dir}, e2eLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(w.src.Requests()); n != 0 {
			t.Errorf("import reached the source registry: %v", w.src.Counts())
		}
		d := destination{registry: sim.Host, serve: sim.Backend.Host, prefix: "mirror"}
		checkAddonsSucceeded(t, ir.Report)
		checkImagesMirrored(t, w, ir.Report, d)
		checkCharts(t, w, ir.Report, d, opts.OutputDir)
	})
}

// importedAddon is the i-th addon an import of the bundle in dir runs, as it names it.
func importedAddon(t *testing.T, opts Options, dir string, i int) config.Addon {
	t.Helper()
	m, err := bundle.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := importOptions(&opts, m, dir); err != nil {
		t.Fatal(err)
	}
	return opts.Addons[i]
}

// compareReports fails where two runs' reports differ beyond timings and the destination.
func compareReports(t *testing.T, a *Report, hostA string, b *Report, hostB string) {
	t.Helper()
	if len(a.Addons) != len(b.Addons) {
		t.Fatalf("reports: %d and %d addons", len(a.Addons), len(b.Addons))
	}
	norm := func(s, host string) string { return strings.ReplaceAll(s, host, "DEST") }
	for i := range a.Addons {
		x, y := a.Addons[i], b.Addons[i]
		if x.Addon != y.Addon || x.Status != y.Status || x.Version != y.Version || x.ChartDigest != y.ChartDigest ||
			x.ChartResult != y.ChartResult || norm(x.ChartRef, hostA) != norm(y.ChartRef, hostB) || x.Repository != y.Repository ||
			len(x.Images) != len(y.Images) || len(x.Dependencies) != len(y.Dependencies) || len(x.PublicImages) != len(y.PublicImages) {
			t.Errorf("addon %d differs:\n sync   %s %s %s %s %s %s (%d images, %d deps)\n import %s %s %s %s %s %s (%d images, %d deps)", i,
				x.Addon, x.Status, x.Version, x.ChartDigest, x.ChartResult, x.Repository, len(x.Images), len(x.Dependencies),
				y.Addon, y.Status, y.Version, y.ChartDigest, y.ChartResult, y.Repository, len(y.Images), len(y.Dependencies))
			continue
		}
		for j := range x.Images {
			p, q := x.Images[j], y.Images[j]
			if p.Source != q.Source || norm(p.Destination, hostA) != norm(q.Destination, hostB) || p.SourceDigest != q.SourceDigest ||
				p.DestDigest != q.DestDigest || p.Result != q.Result || p.Bytes != q.Bytes || len(p.Where) != len(q.Where) {
				t.Errorf("addon %s image %d differs:\n sync   %+v\n import %+v", x.Addon, j, p, q)
			}
		}
	}
	// Referrers travel, but the bundle answers the referrers API where a source may not:
	// the discovery requests differ, what is found and copied does not.
	ta, tb := a.Totals, b.Totals
	ta.ReferrerRequests, tb.ReferrerRequests = 0, 0
	if ta != tb {
		t.Errorf("totals differ: sync %+v, import %+v", ta, tb)
	}
}
