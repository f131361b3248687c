package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/bundle"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// TestBundleReceiptDelta: a first night exports two charts and imports them, writing a
// receipt; the second night adds a chart and exports against the receipt. The second
// bundle carries only the new chart's image blobs (and every chart archive, which the
// import rewrites), yet describes the whole run: its import publishes all three charts.
// The same bundle refused for another destination names the bundle manifest.
func TestBundleReceiptDelta(t *testing.T) {
	w := newE2EWorld(t, bundleCharts)
	ctx := context.Background()
	night1 := w.options("unused.invalid", t.TempDir())
	night1.Addons = night1.Addons[:2]
	dir1 := filepath.Join(t.TempDir(), "night1")
	if _, err := Export(ctx, night1, ExportOptions{Dir: dir1}, e2eLogger(t)); err != nil {
		t.Fatal(err)
	}
	dst := registrytest.New(t)
	receipt := filepath.Join(t.TempDir(), "receipt.json")
	opts := bundleImportOptions(dst.Host, t.TempDir())
	ir, err := Import(ctx, opts, ImportOptions{From: dir1, ReceiptOut: receipt}, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	checkAddonsSucceeded(t, ir.Report)

	dir2 := filepath.Join(t.TempDir(), "night2")
	w.src.Reset()
	res := exportBundle(t, w, dir2, ExportOptions{Receipt: receipt})
	m := res.Manifest
	// Blobs the far side lacks: the new chart's images (those the first two do not share).
	held := map[string]bool{}
	for _, a := range night1.Addons {
		for _, ref := range w.expected[a.Chart] {
			held[ref.Name()+":"+ref.Tag] = true
		}
	}
	newImages := map[string]bool{}
	for _, ref := range w.expected[w.names[2]] {
		if k := ref.Name() + ":" + ref.Tag; !held[k] {
			newImages[k] = true
		}
	}
	if len(newImages) == 0 {
		t.Fatal("the added chart brings no new image: the test proves nothing")
	}
	wantBlobs := len(newImages)*(seededBlobs+seededManifests) + 3*len(m.Charts)
	if res.BlobsWritten != wantBlobs {
		t.Errorf("delta bundle wrote %d blobs, want %d (%d new images, %d charts)", res.BlobsWritten, wantBlobs, len(newImages), len(m.Charts))
	}
	if b := completed(w.src, registrytest.BlobGet); b != len(newImages)*seededBlobs {
		t.Errorf("delta export read %d blobs from the source, want %d", b, len(newImages)*seededBlobs)
	}
	if len(m.Addons) != 3 || len(m.Images) != len(w.digests) || m.Receipt == nil {
		t.Fatalf("delta bundle manifest: %d addons, %d images, receipt %v", len(m.Addons), len(m.Images), m.Receipt)
	}
	ir, err = Import(ctx, opts, ImportOptions{From: dir2, ReceiptOut: receipt}, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	checkAddonsSucceeded(t, ir.Report)
	checkImagesMirrored(t, w, ir.Report, destination{registry: dst.Host, serve: dst.Host, prefix: "mirror"})
	checkCharts(t, w, ir.Report, destination{registry: dst.Host, serve: dst.Host, prefix: "mirror"}, opts.OutputDir)

	other := registrytest.New(t)
	_, err = Import(ctx, bundleImportOptions(other.Host, t.TempDir()), ImportOptions{From: dir2}, e2eLogger(t))
	var be *bundle.Error
	if !errors.As(err, &be) || be.File != filepath.Join(dir2, bundle.ManifestFile) || !strings.Contains(err.Error(), "receipt") {
		t.Errorf("import of a delta into another destination: %v", err)
	}
	if n := len(other.Requests()); n != 0 {
		t.Errorf("the refused import sent %d requests to the other destination", n)
	}
	t.Logf("delta: %d blobs written for %d new images, %d left out", res.BlobsWritten, len(newImages), res.BlobsSkipped)
}

// TestBundleImportResume interrupts an import after some uploads, then runs it again:
// across both runs each blob and manifest is pushed once.
func TestBundleImportResume(t *testing.T) {
	w := newE2EWorld(t, bundleCharts)
	dir := filepath.Join(t.TempDir(), "bundle")
	exportBundle(t, w, dir, ExportOptions{})
	dst := registrytest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ends atomic.Int64
	dst.Intercept(func(rw http.ResponseWriter, r *http.Request) bool {
		if k, _ := registrytest.Classify(r); k == registrytest.UploadEnd && ends.Add(1) > 12 {
			cancel()
			http.Error(rw, "gone", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	opts := bundleImportOptions(dst.Host, t.TempDir())
	opts.Retries = -1
	ir, _ := Import(ctx, opts, ImportOptions{From: dir}, e2eLogger(t))
	if ir == nil || ir.Report == nil || !ir.Report.Failed() {
		t.Fatal("the interrupted import did not report failures")
	}
	first := pushes(dst)
	dst.Intercept(nil)
	dst.Reset()
	ir, err := Import(context.Background(), opts, ImportOptions{From: dir}, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	checkAddonsSucceeded(t, ir.Report)
	second := pushes(dst)
	fresh := registrytest.New(t)
	if _, err := Import(context.Background(), bundleImportOptions(fresh.Host, t.TempDir()), ImportOptions{From: dir}, e2eLogger(t)); err != nil {
		t.Fatal(err)
	}
	want := pushes(fresh)
	if first[0]+second[0] != want[0] || first[2]+second[2] != want[2] {
		t.Errorf("pushes: %v before the kill + %v after, %v for one whole import", first, second, want)
	}
	t.Logf("import resume: %v before the kill, %v after, whole %v", first, second, want)
}

// TestBundleBadInput: a directory that is not a bundle, a bundle manifest of a newer
// schema and a part from another bundle are refused with errors naming the file.
func TestBundleBadInput(t *testing.T) {
	ctx := context.Background()
	empty := t.TempDir()
	_, err := Import(ctx, bundleImportOptions("127.0.0.1:1", t.TempDir()), ImportOptions{From: empty}, e2eLogger(t))
	if err == nil || !strings.Contains(err.Error(), filepath.Join(empty, "bundle.json")) || !strings.Contains(err.Error(), "not an airgap-charts bundle") {
		t.Errorf("not a bundle: %v", err)
	}

	w := newE2EWorld(t, bundleCharts[:1])
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	exportBundle(t, w, a, ExportOptions{PartSize: 64 << 10})
	exportBundle(t, w, b, ExportOptions{PartSize: 64 << 10})
	foreign, err := os.ReadFile(filepath.Join(b, bundle.PartFile(1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a, bundle.PartFile(1)), foreign, 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := bundle.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(o.Problems(), "\n"); !strings.Contains(p, "part-0001.tar: from another bundle") {
		t.Errorf("a part from another bundle: %q", p)
	}

	data, err := os.ReadFile(filepath.Join(a, bundle.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	newer := strings.Replace(string(data), fmt.Sprintf(`"schema_version": %d`, bundle.SchemaVersion), `"schema_version": 99`, 1)
	if err := os.WriteFile(filepath.Join(a, bundle.ManifestFile), []byte(newer), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Import(ctx, bundleImportOptions("127.0.0.1:1", t.TempDir()), ImportOptions{From: a}, e2eLogger(t))
	if err == nil || !strings.Contains(err.Error(), filepath.Join(a, "bundle.json")) || !strings.Contains(err.Error(), "schema 99 is newer") {
		t.Errorf("newer schema: %v", err)
	}
}

// TestBundleImageMissingAtSource: an image one chart needs is missing at the source. The
// export says so and fails that addon (exit 1) but writes the bundle; the import imports
// the other charts and fails that one as a sync would, its image not being there.
func TestBundleImageMissingAtSource(t *testing.T) {
	gone := corpusExpectedImages(t, "external-dns")[0]
	w := newE2EWorldWith(t, bundleCharts[:2], e2eSetup{skipSeed: []string{gone.Name() + ":" + gone.Tag}})
	dir := filepath.Join(t.TempDir(), "bundle")
	res, err := Export(context.Background(), w.options("unused.invalid", t.TempDir()), ExportOptions{Dir: dir}, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Failed() {
		t.Fatal("export of a chart whose image is missing did not fail it")
	}
	for _, a := range res.Addons {
		if (a.Chart == "external-dns") != (a.Status != StatusSuccess) {
			t.Errorf("export addon %s: %s %s", a.Addon, a.Status, a.Error)
		}
	}
	dst := registrytest.New(t)
	ir, err := Import(context.Background(), bundleImportOptions(dst.Host, t.TempDir()), ImportOptions{From: dir}, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range ir.Report.Addons {
		ok := a.Status == StatusSuccess
		if ok == (a.Chart == "external-dns") {
			t.Errorf("import addon %s: %s %s", a.Addon, a.Status, a.Error)
		}
		if a.Chart == "external-dns" && !strings.Contains(a.Error+a.Images[0].Error, "not in this bundle") {
			t.Errorf("import of the chart whose image is missing: %s / %s", a.Error, a.Images[0].Error)
		}
	}
}
