package engine

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
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
	ref, err := name.ParseReference(strings.TrimPrefix(a.ChartRef, "oci://"), name.Insecure)
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
