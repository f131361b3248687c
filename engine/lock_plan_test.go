package engine

import (
	"testing"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// TestPlanWritesTheLock: a plan writes the lock of what it resolved (each image's source
// digest, read by HEAD), and a --locked sync afterwards runs exactly that lock: it
// succeeds, copying those digests, and leaves the lock as the plan wrote it.
func TestPlanWritesTheLock(t *testing.T) {
	w := newLockWorld(t)
	opts := w.options(t)
	opts.ScanOnly = true
	if _, a := w.run(t, opts); a.Status != StatusSuccess {
		t.Fatalf("plan: %s: %s", a.Status, a.Error)
	}
	planned := w.readLock(t)
	l := mustReadLock(t, w.lockFile)
	for img, digest := range w.digests {
		if li := lockedImage(l, img); li == nil || li.Digest != digest {
			t.Errorf("the plan's lock has %+v for %s, want digest %s", li, img, digest)
		}
	}
	opts = w.options(t)
	opts.Locked = true
	_, a := w.run(t, opts)
	if a.Status != StatusSuccess {
		t.Fatalf("--locked sync after the plan: %s: %s", a.Status, a.Error)
	}
	for _, img := range a.Images {
		if img.Result != OutcomeCopied || img.DestDigest != w.digests[img.Source] {
			t.Errorf("%s: %s with %s, want copied with %s", img.Source, img.Result, img.DestDigest, w.digests[img.Source])
		}
	}
	if got := w.readLock(t); string(got) != string(planned) {
		t.Errorf("the --locked sync changed the plan's lock:\n%s\nwas\n%s", got, planned)
	}
}

// TestLockCheckAskedOncePerImage: a rerun with the last lock asks each locked image's
// source tag once (the HEAD is sent ahead of the job's copy slot and kept for it), and a
// warm rerun sends the source nothing else.
func TestLockCheckAskedOncePerImage(t *testing.T) {
	w := newLockWorld(t)
	if _, a := w.run(t, w.options(t)); a.Status != StatusSuccess {
		t.Fatalf("first run: %s: %s", a.Status, a.Error)
	}
	w.src.Reset()
	if _, a := w.run(t, w.options(t)); a.Status != StatusSuccess {
		t.Fatalf("rerun: %s: %s", a.Status, a.Error)
	}
	counts := w.src.Counts()
	if got := counts[registrytest.ManifestHead]; got != len(lockImages) {
		t.Errorf("rerun sent %d source manifest HEADs, want one per locked image (%d); all: %v", got, len(lockImages), counts)
	}
	for kind, n := range counts {
		if kind != registrytest.ManifestHead && n > 0 {
			t.Errorf("rerun sent the source %d %s requests, want none", n, kind)
		}
	}
}

// TestLockedPlanAsksEachSourceOnce: a plan under --locked asks each source tag once, the
// lock's check and the plan's resolution sharing that HEAD.
func TestLockedPlanAsksEachSourceOnce(t *testing.T) {
	w := newLockWorld(t)
	if _, a := w.run(t, w.options(t)); a.Status != StatusSuccess {
		t.Fatalf("first run: %s: %s", a.Status, a.Error)
	}
	w.src.Reset()
	opts := w.options(t)
	opts.ScanOnly, opts.Locked = true, true
	if _, a := w.run(t, opts); a.Status != StatusSuccess {
		t.Fatalf("plan --locked: %s: %s", a.Status, a.Error)
	}
	if got := w.src.Counts()[registrytest.ManifestHead]; got != len(lockImages) {
		t.Errorf("plan --locked sent %d source manifest HEADs, want one per image (%d)", got, len(lockImages))
	}
}

// TestPlanWithPlatformLocksTheChild: a plan with a platform records per image the index
// its tag resolved to and the child it chose; a --locked sync with that platform pulls
// exactly that child (the one the destination then holds) and leaves the plan's lock as
// it was.
func TestPlanWithPlatformLocksTheChild(t *testing.T) {
	w := newLockWorld(t)
	opts := w.options(t)
	opts.ScanOnly = true
	opts.Platform = registry.MustParsePlatform("linux/arm64")
	_, a := w.run(t, opts)
	if a.Status != StatusSuccess {
		t.Fatalf("plan: %s: %s", a.Status, a.Error)
	}
	planned := w.readLock(t)
	l := mustReadLock(t, w.lockFile)
	children := map[string]string{}
	for _, img := range lockImages {
		src := mustRef(t, img).String()
		li, ir := lockedImage(l, src), imageOf(a, src)
		if li == nil || ir == nil || li.Digest != w.digests[img] || li.Platform != "linux/arm64" || li.PlatformDigest == "" ||
			li.PlatformDigest == li.Digest || li.PlatformDigest != ir.SourceDigest {
			t.Fatalf("%s: the plan locked %+v (report %+v), want index %s and the planned child", img, li, ir, w.digests[img])
		}
		children[src] = li.PlatformDigest
	}
	opts = w.options(t)
	opts.Platform, opts.Locked = registry.MustParsePlatform("linux/arm64"), true
	_, a = w.run(t, opts)
	if a.Status != StatusSuccess {
		t.Fatalf("--locked sync after the plan: %s: %s", a.Status, a.Error)
	}
	for _, img := range a.Images {
		if img.Result != OutcomeCopied || img.DestDigest != children[img.Source] {
			t.Errorf("%s: %s with %s, want the locked child %s copied", img.Source, img.Result, img.DestDigest, children[img.Source])
		}
	}
	if got := w.readLock(t); string(got) != string(planned) {
		t.Errorf("the --locked sync changed the plan's lock:\n%s\nwas\n%s", got, planned)
	}
}
