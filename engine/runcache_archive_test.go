package engine

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/stages"
)

// A run cache hit takes the archive's metadata from the entry, not from loading the chart
// again: when the destination lost a chart, the rerun pushes it as the first run did (the
// same manifest digest), and an archive changed on disk is not used as the entry's.
func TestRunCacheHitPushesTheSameChart(t *testing.T) {
	rw := newRunCacheWorld(t)
	a := rw.cold.Addons[0]
	ref, desc := deleteChart(t, a.ChartRef)
	rep, _ := rw.rerun(t, rw.opts)
	b := rep.Addons[0]
	checkCacheUse(t, b, RunCacheHit)
	if b.ChartResult != "pushed" {
		t.Fatalf("%s: chart %s, want pushed (the destination lost it)", b.Addon, b.ChartResult)
	}
	again, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != desc.Digest {
		t.Errorf("the rerun pushed %s as %s, the first run as %s", ref, again.Digest, desc.Digest)
	}

	pkg := rw.cachedPackage(t, b.Addon)
	open := func() (stages.ChartArchive, bool) { return pkg.open(pkg.Key, pkg.Archive, pkg.Overrides) }
	if ar, ok := open(); !ok || ar.Metadata == nil || ar.Metadata.Version != b.Version || ar.Digest != b.PackagedDigest || len(ar.Data) == 0 {
		t.Fatalf("open the cached archive: ok %t, %+v", ok, ar.Metadata)
	}
	if _, ok := pkg.open("sha256:other", pkg.Archive, pkg.Overrides); ok {
		t.Error("a package made for other inputs was used")
	}
	meta := pkg.Metadata
	pkg.Metadata = nil
	if ar, ok := open(); !ok || ar.Metadata != nil {
		t.Errorf("an entry without metadata: ok %t, metadata %+v; want the archive, for the caller to load", ok, ar.Metadata)
	}
	pkg.Metadata = meta
	if err := os.WriteFile(pkg.Archive, []byte("not the archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := open(); ok {
		t.Error("an archive changed on disk was taken as the entry's")
	}
}

// deleteChart deletes the manifest chartRef (oci://…) names from its registry, as a
// destination that lost the chart would, and returns its reference and what it was.
func deleteChart(t *testing.T, chartRef string) (name.Reference, *v1.Descriptor) {
	t.Helper()
	ref, err := name.ParseReference(strings.TrimPrefix(chartRef, "oci://"), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Delete(ref.Context().Digest(desc.Digest.String())); err != nil {
		t.Fatalf("delete %s: %v", ref, err)
	}
	return ref, desc
}

// cachedPackage is the run cache's package record of the addon named addon.
func (rw *runCacheWorld) cachedPackage(t *testing.T, addon string) *cachedPackage {
	t.Helper()
	c := newRunCache(rw.opts.OutputDir, zap.NewNop())
	for _, a := range rw.opts.Addons {
		if a.Name() != addon {
			continue
		}
		e := c.load(a, zap.NewNop())
		if e == nil || e.Package == nil {
			t.Fatalf("%s: no run cache package entry", addon)
		}
		return e.Package
	}
	t.Fatalf("no addon %s", addon)
	return nil
}

// A hit whose files keep the stamps recorded when they were last digested reads neither:
// an archive changed on disk under its old stamp is not noticed while the destination holds
// the chart; the push the destination's loss calls for reads the bytes, finds them changed
// and fails the addon, and the next run digests the files again and packages it afresh.
func TestRunCacheStampsSpareReadsUntilAPushNeedsTheBytes(t *testing.T) {
	rw := newRunCacheWorld(t)
	a := rw.cold.Addons[0]
	past := time.Now().Add(-time.Hour)
	settle := func() {
		for _, p := range []string{a.ChartArchive, a.ConsumerOverrides} {
			if err := os.Chtimes(p, past, past); err != nil {
				t.Fatal(err)
			}
		}
	}
	settle()
	if pkg := rw.cachedPackage(t, a.Addon); pkg.ArchiveStamp != nil {
		t.Fatalf("a stamp was recorded for a file modified %v ago", time.Since(past))
	}
	rep, _ := rw.rerun(t, rw.opts) // reads and digests, records the stamps
	checkCacheUse(t, rep.Addons[0], RunCacheHit)
	pkg := rw.cachedPackage(t, a.Addon)
	if pkg.ArchiveStamp == nil || pkg.OverridesStamp == nil {
		t.Fatalf("no stamps recorded after the files were digested: %+v", pkg)
	}
	if ar, ok := pkg.open(pkg.Key, pkg.Archive, pkg.Overrides); !ok || len(ar.Data) != 0 || ar.Metadata == nil {
		t.Fatalf("open with the stamps unchanged: ok %t, %d bytes read; want none", ok, len(ar.Data))
	}

	orig, err := os.ReadFile(a.ChartArchive)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.ChartArchive, make([]byte, len(orig)), 0o644); err != nil {
		t.Fatal(err)
	}
	settle() // the same size and time: the stamp cannot tell
	rep, _ = rw.rerun(t, rw.opts)
	checkCacheUse(t, rep.Addons[0], RunCacheHit)
	if got := rep.Addons[0].ChartResult; got != "skipped-same-digest" {
		t.Fatalf("chart %s, want skipped: the destination holds it", got)
	}

	ref, _ := deleteChart(t, a.ChartRef)
	failed, err := runChecked(t, context.Background(), rw.opts, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	b := failed.Addons[0]
	if b.Status == StatusSuccess || !strings.Contains(b.Error, "changed on disk") {
		t.Fatalf("push of a changed archive: status %s, error %q", b.Status, b.Error)
	}
	if _, err := remote.Head(ref); err == nil {
		t.Fatal("a chart was pushed from an archive that changed on disk")
	}

	rep, _ = rw.rerun(t, rw.opts)
	c := rep.Addons[0]
	checkCacheUse(t, c, RunCacheImages)
	if c.ChartResult != "pushed" || c.PackagedDigest != a.PackagedDigest || fileDigest(a.ChartArchive) != a.PackagedDigest {
		t.Errorf("the run after: chart %s, packaged %s, file %s; want pushed, %s", c.ChartResult, c.PackagedDigest, fileDigest(a.ChartArchive), a.PackagedDigest)
	}
}
