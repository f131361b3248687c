package engine

import (
	"path/filepath"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry"
)

// TestE2EPinDigests: with --pin-digests the chart pushed (rendered with the addon's
// values) and the original chart with the consumer overrides pull every image, in each
// value shape (registry/repository/tag split, repository+tag, a whole reference, a digest
// field), by the digest its destination tag holds and nothing else. A second run, served
// from the run cache, publishes the same archive.
func TestE2EPinDigests(t *testing.T) {
	w := newLockWorld(t)
	opts := w.options(t)
	opts.PinDigests = true
	_, a := w.run(t, opts)
	if a.Status != StatusSuccess {
		t.Fatalf("run: %s at %s: %s (public: %+v)", a.Status, a.Stage, a.Error, a.PublicImages)
	}
	want := map[string]registry.ImageRef{} // destination name → pinned reference
	for _, img := range a.Images {
		dst := mustRef(t, img.Destination)
		if img.DestDigest == "" || img.DestDigest != w.digests[img.Source] {
			t.Errorf("%s: destination digest %q, want the seeded %s", img.Source, img.DestDigest, w.digests[img.Source])
		}
		dst.Digest = img.DestDigest
		want[dst.Name()] = dst
	}
	check := func(label string, images []registry.ImageRef) {
		t.Helper()
		if len(images) != len(lockImages) {
			t.Errorf("%s renders %d images, want %d: %v", label, len(images), len(lockImages), images)
		}
		for _, ref := range images {
			pinned, ok := want[ref.Name()]
			switch {
			case !ok:
				t.Errorf("%s pulls %s: not a destination of the run", label, ref)
			case ref.Digest != pinned.Digest:
				t.Errorf("%s pulls %s, not pinned to %s", label, ref, pinned.Digest)
			case ref.Tag != "" && ref.Tag != pinned.Tag:
				t.Errorf("%s pulls %s, want tag %s", label, ref, pinned.Tag)
			}
		}
	}
	if mirrored := pullChart(t, w.dst.Host, "locky", "1.0.0"); mirrored != nil {
		check("the pushed chart", renderImages(t, mirrored, "locky"))
	}
	ov := readOverrides(t, filepath.Join(opts.OutputDir, "locky", "values.yaml"))
	check("the original chart + consumer overrides", renderImages(t, lockChart("1.0.0", ""), "locky", ov))

	// Again, unchanged: the same pinned archive.
	_, b := w.run(t, opts)
	if b.Status != StatusSuccess || b.PackagedDigest != a.PackagedDigest {
		t.Errorf("second run: %s, packaged %s, first %s (%s)", b.Status, b.PackagedDigest, a.PackagedDigest, b.Error)
	}
	// Without --pin-digests the same sources give another archive: tags only. The chart
	// tag then holds another chart (the pinned one): drift, replaced only when asked.
	opts.PinDigests = false
	_, c := w.run(t, opts)
	if c.Status != StatusDrift || c.PackagedDigest == a.PackagedDigest {
		t.Errorf("unpinned run: %s, packaged %s equals the pinned one (%s), want DRIFT with another archive", c.Status, c.PackagedDigest, c.Error)
	}
	opts.OverwriteDigest = true
	if _, c = w.run(t, opts); c.Status != StatusSuccess || c.ChartResult != ChartOverwritten {
		t.Errorf("unpinned run with --overwrite-existing: %s, chart %s (%s)", c.Status, c.ChartResult, c.Error)
	}
}
