package engine

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/bundle"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// completed counts the requests of kind that succeeded (2xx).
func completed(r *registrytest.Registry, kind registrytest.Kind) int {
	n := 0
	for _, q := range r.Requests() {
		if q.Kind == kind && q.Status >= 200 && q.Status < 300 {
			n++
		}
	}
	return n
}

// pushes counts what a registry received: blob uploads completed, mounts, manifest PUTs.
func pushes(r *registrytest.Registry) [3]int {
	return [3]int{completed(r, registrytest.UploadEnd), completed(r, registrytest.Mount), completed(r, registrytest.ManifestPut)}
}

// flipByte changes one byte of the first blob of a part.
func flipByte(t *testing.T, path string) {
	t.Helper()
	s := bundle.ScanPart(path)
	if s.Err != nil || len(s.Entries) == 0 {
		t.Fatalf("scan %s: %v", path, s.Err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	off := s.Entries[0].Offset + s.Entries[0].Size/2
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestBundlePartsCorruptAndResent cuts a bundle into parts, damages one byte of one part
// and removes another: verify names both, the import imports every image that needs
// neither and lists the others as waiting; re-sending the parts alone completes the
// import, and across both imports nothing is pushed twice.
func TestBundlePartsCorruptAndResent(t *testing.T) {
	w := newE2EWorld(t, bundleCharts)
	dir := filepath.Join(t.TempDir(), "bundle")
	res := exportBundle(t, w, dir, ExportOptions{PartSize: 64 << 10})
	m := res.Manifest
	if len(m.Parts) < 3 {
		t.Fatalf("want at least 3 parts of 64KiB, got %d", len(m.Parts))
	}
	for _, p := range m.Parts {
		if st, err := os.Stat(filepath.Join(dir, p.File)); err != nil || (st.Size() > 64<<10 && !p.Oversized) {
			t.Errorf("part %s: %v, size %d over the part size", p.File, err, st.Size())
		}
	}
	// Keep good copies to re-send.
	spare := t.TempDir()
	corrupt, missing := m.Parts[1], m.Parts[len(m.Parts)-1]
	for _, p := range []bundle.Part{corrupt, missing} {
		data, err := os.ReadFile(filepath.Join(dir, p.File))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(spare, filepath.Base(p.File)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	flipByte(t, filepath.Join(dir, corrupt.File))
	if err := os.Remove(filepath.Join(dir, missing.File)); err != nil {
		t.Fatal(err)
	}

	o, err := bundle.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	problems := strings.Join(o.Problems(), "\n")
	if !strings.Contains(problems, filepath.Base(corrupt.File)+": corrupt") || !strings.Contains(problems, filepath.Base(missing.File)+": missing") {
		t.Errorf("verify problems do not name the corrupt part %s and the missing part %s:\n%s", corrupt.File, missing.File, problems)
	}
	if len(o.Problems()) != 2 {
		t.Errorf("want 2 bad parts, got %v", o.Problems())
	}

	dst := registrytest.New(t)
	opts := bundleImportOptions(dst.Host, t.TempDir())
	ir, err := Import(context.Background(), opts, ImportOptions{From: dir}, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	waiting := map[string]bool{}
	for _, wi := range ir.Waiting {
		waiting[wi.Image] = true
	}
	if len(waiting) == 0 || len(waiting) == len(m.Images) {
		t.Fatalf("want some but not all images waiting, got %d of %d", len(waiting), len(m.Images))
	}
	imported := 0
	for _, a := range ir.Report.Addons {
		for _, img := range a.Images {
			switch {
			case waiting[img.Source]:
				if img.Result != OutcomeFailed || !strings.Contains(img.Reason, "waiting for parts/part-") {
					t.Errorf("waiting image %s: %s, reason %q", img.Source, img.Result, img.Reason)
				}
			case img.Result == OutcomeCopied || img.Result == OutcomeSkippedExisting:
				imported++
			default:
				t.Errorf("image %s needs no bad part but is %s: %s", img.Source, img.Result, img.Error)
			}
		}
	}
	if imported == 0 {
		t.Error("no image imported")
	}
	first := pushes(dst)

	// Re-send the two parts alone.
	for _, p := range []bundle.Part{corrupt, missing} {
		data, _ := os.ReadFile(filepath.Join(spare, filepath.Base(p.File)))
		if err := os.WriteFile(filepath.Join(dir, p.File), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dst.Reset()
	ir, err = Import(context.Background(), opts, ImportOptions{From: dir}, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	checkAddonsSucceeded(t, ir.Report)
	checkImagesMirrored(t, w, ir.Report, destination{registry: dst.Host, serve: dst.Host, prefix: "mirror"})
	second := pushes(dst)

	fresh := registrytest.New(t)
	if _, err := Import(context.Background(), bundleImportOptions(fresh.Host, t.TempDir()), ImportOptions{From: dir}, e2eLogger(t)); err != nil {
		t.Fatal(err)
	}
	want := pushes(fresh)
	for i, what := range []string{"blob uploads", "mounts", "manifest PUTs"} {
		if first[i]+second[i] != want[i] {
			t.Errorf("%s: %d + %d across the two imports, %d for one whole import", what, first[i], second[i], want[i])
		}
	}
	t.Logf("parts: %d; first import %v, second %v, whole %v", len(m.Parts), first, second, want)
}

// TestBundleExportResume interrupts an export in the middle of its second part, then runs
// it again: the rerun fetches only the blobs the first did not write (no blob is read
// twice) and writes the same parts as an export that was never interrupted.
func TestBundleExportResume(t *testing.T) {
	w := newE2EWorld(t, bundleCharts)
	dir := filepath.Join(t.TempDir(), "bundle")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var gets atomic.Int64
	w.src.Intercept(func(rw http.ResponseWriter, r *http.Request) bool {
		if k, _ := registrytest.Classify(r); k == registrytest.BlobGet && gets.Add(1) > 15 {
			cancel() // killed here: this blob is never received
			http.Error(rw, "gone", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	w.src.Reset()
	opts := w.options("unused.invalid", t.TempDir())
	opts.Retries = -1
	if _, err := Export(ctx, opts, ExportOptions{Dir: dir, PartSize: 64 << 10}, e2eLogger(t)); err == nil {
		t.Fatal("interrupted export reported success")
	}
	if _, err := os.Stat(filepath.Join(dir, bundle.ManifestFile)); err == nil {
		t.Fatal("an interrupted export left a bundle manifest, as if complete")
	}
	if _, err := bundle.ReadManifest(dir); err == nil || !strings.Contains(err.Error(), "did not complete") {
		t.Errorf("reading an unfinished bundle: %v", err)
	}
	// What the killed run left whole on disk is never fetched again; the rest is fetched
	// once (a blob whose stream the kill cut is fetched again, rightly).
	whole := wholeBlobs(t, dir)
	w.src.Quiesce() // a GET the killed run had sent is its own, not the rerun's
	firstGets := len(blobGets(w.src))
	w.src.Intercept(nil)
	w.src.Reset()
	res := exportBundle(t, w, dir, ExportOptions{PartSize: 64 << 10})
	again := blobGets(w.src)
	seen := map[string]bool{}
	for _, d := range again {
		if whole[d] {
			t.Errorf("blob %s was whole in the killed run's parts, and fetched again", d)
		}
		if seen[d] {
			t.Errorf("blob %s fetched twice by the rerun", d)
		}
		seen[d] = true
	}
	fromSource := 0
	for d := range whole {
		if isImageBlob(res.Manifest, d) {
			fromSource++
		}
	}
	if fromSource+len(again) != len(w.digests)*seededBlobs {
		t.Errorf("image blobs: %d whole after the kill + %d fetched by the rerun, want %d", fromSource, len(again), len(w.digests)*seededBlobs)
	}
	if res.BlobsKept == 0 {
		t.Error("the rerun kept no blob from the interrupted run")
	}
	clean := exportBundle(t, w, filepath.Join(t.TempDir(), "clean"), ExportOptions{PartSize: 64 << 10})
	if len(clean.Manifest.Parts) != len(res.Manifest.Parts) {
		t.Fatalf("resumed export cut %d parts, a clean one %d", len(res.Manifest.Parts), len(clean.Manifest.Parts))
	}
	for i, p := range res.Manifest.Parts {
		q := clean.Manifest.Parts[i]
		if p.Size != q.Size || p.Blobs != q.Blobs {
			t.Errorf("part %d: resumed %d bytes / %d blobs, clean %d / %d", p.N, p.Size, p.Blobs, q.Size, q.Blobs)
		}
	}
	if o, err := bundle.Open(dir); err != nil || len(o.Problems()) != 0 {
		t.Errorf("resumed bundle does not verify: %v %v", err, o.Problems())
	}
	t.Logf("blob GETs: %d before the kill, %d after; %d blobs kept, %d written", firstGets, len(again), res.BlobsKept, res.BlobsWritten)
}

// blobGets lists the digests of the blob GETs a registry answered.
func blobGets(r *registrytest.Registry) []string {
	var out []string
	for _, q := range r.Requests() {
		if q.Kind == registrytest.BlobGet && q.Status == http.StatusOK {
			out = append(out, q.Path[strings.LastIndex(q.Path, "/")+1:])
		}
	}
	return out
}

// wholeBlobs is every blob whole and verified in a bundle directory's part files, finished
// or partial.
func wholeBlobs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, bundle.PartsDir, "part-*.tar*"))
	out := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, ".sha256") {
			continue
		}
		for _, e := range bundle.ScanPart(f).Entries {
			out[e.Digest] = true
		}
	}
	return out
}

// isImageBlob says whether d is a layer or config of an image of m (not a manifest, not
// a chart's).
func isImageBlob(m *bundle.Manifest, d string) bool {
	b, ok := m.BlobTable()[d]
	if !ok || b.Manifest {
		return false
	}
	for _, img := range m.Images {
		for _, x := range img.Blobs {
			if x == d {
				return true
			}
		}
	}
	return false
}
