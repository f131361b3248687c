package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// TestLockWrittenAndStable: a sync writes the lock (the resolved version, the archive
// digest, each image's seeded digest and destination); a second sync of the same sources
// writes the very same bytes.
func TestLockWrittenAndStable(t *testing.T) {
	w := newLockWorld(t)
	rep, a := w.run(t, w.options(t))
	if a.Status != StatusSuccess {
		t.Fatalf("first run: %s at %s: %s", a.Status, a.Stage, a.Error)
	}
	first := w.readLock(t)
	l := mustReadLock(t, w.lockFile)
	la := l.addon("locky")
	if rep.Lock() == nil || l.SchemaVersion != LockSchemaVersion || la == nil || !strings.HasPrefix(la.Inputs, "sha256:") {
		t.Fatalf("lock: schema %d, entry %+v", l.SchemaVersion, la)
	}
	if la == nil || la.Version != "1.0.0" || la.Digest != a.ChartDigest || la.Digest == "" || la.Chart != "locky" {
		t.Fatalf("lock addon: %+v (report chart digest %s)", la, a.ChartDigest)
	}
	if len(la.Images) != len(lockImages) {
		t.Fatalf("lock lists %d images, want %d: %+v", len(la.Images), len(lockImages), la.Images)
	}
	for _, img := range lockImages {
		li := lockedImage(l, mustRef(t, img).String())
		ir := imageOf(a, mustRef(t, img).String())
		if li == nil || ir == nil {
			t.Fatalf("%s: lock entry %v, report entry %v", img, li, ir)
		}
		if li.Digest != w.digests[img] || li.Destination != ir.Destination || li.Platform != "" {
			t.Errorf("%s locked as %+v, want digest %s destination %s", img, *li, w.digests[img], ir.Destination)
		}
	}
	if bytes.Contains(first, []byte(w.src.Host)) {
		t.Errorf("the lock names the pull-through mirror %s, not the sources:\n%s", w.src.Host, first)
	}

	_, a2 := w.run(t, w.options(t))
	if a2.Status != StatusSuccess {
		t.Fatalf("second run: %s: %s", a2.Status, a2.Error)
	}
	if second := w.readLock(t); !bytes.Equal(first, second) {
		t.Errorf("two runs of the same sources wrote different locks:\n%s\n---\n%s", first, second)
	}
	for _, img := range a2.Images {
		if img.Drift != "" {
			t.Errorf("%s: drift %q on an unchanged source", img.Source, img.Drift)
		}
	}
}

// TestLockedMovedTag: a tag moved at the source since the lock fails a --locked run,
// naming the image and both digests, and leaves the lock as it was; a run without
// --locked reports it as drift (a warning, the image's drift, the total); --update-lock
// proceeds and writes the new digest.
func TestLockedMovedTag(t *testing.T) {
	w := newLockWorld(t)
	if _, a := w.run(t, w.options(t)); a.Status != StatusSuccess {
		t.Fatalf("first run: %s: %s", a.Status, a.Error)
	}
	before := w.readLock(t)
	moved := "quay.io/org/beta:1"
	old := w.move(t, moved)

	opts := w.options(t)
	opts.Locked = true
	_, a := w.run(t, opts)
	if a.Status != StatusError || a.Stage != "images" {
		t.Fatalf("--locked with a moved tag: %s at %q, want ERROR at images", a.Status, a.Stage)
	}
	ir := imageOf(a, moved)
	if ir == nil || ir.Result != OutcomeFailed {
		t.Fatalf("moved image: %+v", ir)
	}
	if err := containsAll(ir.Error, moved, "moved since the lock", old, w.digests[moved], w.lockFile); err != nil {
		t.Errorf("moved image error: %v", err)
	}
	if err := containsAll(a.Error, moved); err != nil {
		t.Errorf("addon error: %v", err)
	}
	if got := w.readLock(t); !bytes.Equal(got, before) {
		t.Errorf("a failed --locked run changed the lock:\n%s", got)
	}
	for _, img := range a.Images {
		if img.Source != moved && img.Result == OutcomeFailed {
			t.Errorf("%s failed though it did not move: %s", img.Source, img.Error)
		}
	}

	// Without --locked: drift, never silent, and the chart not published over it.
	rep, a := w.run(t, w.options(t))
	if a.Status != StatusDrift {
		t.Fatalf("run without --locked: %s at %s: %s, want DRIFT", a.Status, a.Stage, a.Error)
	}
	if ir := imageOf(a, moved); ir == nil || !strings.Contains(ir.Drift, old) || rep.Totals.Drift != 1 {
		t.Errorf("drift not reported: image %+v, totals.drift %d", ir, rep.Totals.Drift)
	}
	if !containsSubstring(a.Warnings, "moved since the lock") {
		t.Errorf("no warning for the moved tag: %q", a.Warnings)
	}

	// --locked --update-lock: proceeds, the lock gets the new digest.
	w.move(t, moved)
	opts = w.options(t)
	opts.Locked, opts.UpdateLock = true, true
	_, a = w.run(t, opts)
	if a.Status != StatusSuccess {
		t.Fatalf("--update-lock: %s at %s: %s", a.Status, a.Stage, a.Error)
	}
	if li := lockedImage(mustReadLock(t, w.lockFile), moved); li == nil || li.Digest != w.digests[moved] {
		t.Errorf("--update-lock locked %+v, want %s", li, w.digests[moved])
	}
	if ir := imageOf(a, moved); ir == nil || ir.Result != OutcomeOverwritten || ir.DestDigest != w.digests[moved] {
		t.Errorf("--update-lock: moved image %+v, want overwritten with %s", ir, w.digests[moved])
	}
}

// TestLockedRepublishedChart: the locked version republished with other content fails a
// --locked run naming the chart, its version and both digests; --update-lock takes it.
func TestLockedRepublishedChart(t *testing.T) {
	w := newLockWorld(t)
	_, a := w.run(t, w.options(t))
	if a.Status != StatusSuccess {
		t.Fatalf("first run: %s: %s", a.Status, a.Error)
	}
	was := a.ChartDigest
	// The repository now serves another archive as locky 1.0.0.
	republished := chartrepotest.NewHTTPRepo(t)
	republished.AddChart(t, lockChart("1.0.0", " (republished)"))

	opts := w.options(t)
	opts.Locked = true
	opts.RepoMirrors = map[string]string{w.charts.URL: republished.URL}
	_, a = w.run(t, opts)
	if a.Status != StatusError || a.Stage != "fetch" {
		t.Fatalf("--locked with a republished chart: %s at %q: %s", a.Status, a.Stage, a.Error)
	}
	if err := containsAll(a.Error, "locky 1.0.0", "republished", was, w.lockFile); err != nil {
		t.Error(err)
	}
	if len(a.Images) != 0 {
		t.Errorf("a refused chart copied images: %+v", a.Images)
	}

	opts.UpdateLock = true
	_, a = w.run(t, opts)
	if a.Status != StatusSuccess || a.ChartDigest == was {
		t.Fatalf("--update-lock: %s (%s), chart digest %s", a.Status, a.Error, a.ChartDigest)
	}
	if la := mustReadLock(t, w.lockFile).addon("locky"); la == nil || la.Digest != a.ChartDigest {
		t.Errorf("--update-lock locked %+v, want digest %s", la, a.ChartDigest)
	}
}

// TestLockedKeepsTheLockedVersion: a newer version in range is taken by a plain run, not
// by a --locked one.
func TestLockedKeepsTheLockedVersion(t *testing.T) {
	w := newLockWorld(t)
	if _, a := w.run(t, w.options(t)); a.Status != StatusSuccess {
		t.Fatalf("first run: %s: %s", a.Status, a.Error)
	}
	w.charts.AddChart(t, lockChart("1.1.0", ""))
	opts := w.options(t)
	opts.Locked, opts.Latest = true, true
	if _, a := w.run(t, opts); a.Status != StatusSuccess || a.Version != "1.0.0" {
		t.Fatalf("--locked --latest: %s version %s (%s), want the locked 1.0.0", a.Status, a.Version, a.Error)
	}
	if _, a := w.run(t, w.options(t)); a.Version != "1.1.0" {
		t.Errorf("plain run resolved %s, want 1.1.0", a.Version)
	}
	if la := mustReadLock(t, w.lockFile).addon("locky"); la == nil || la.Version != "1.1.0" {
		t.Errorf("the plain run locked %+v, want 1.1.0", la)
	}
}

// TestLockRefused: a lock from a newer schema, or (under --locked) for other inputs, or
// none at all, is an input error naming the file, before anything is done.
func TestLockRefused(t *testing.T) {
	w := newLockWorld(t)
	if _, a := w.run(t, w.options(t)); a.Status != StatusSuccess {
		t.Fatalf("first run: %s: %s", a.Status, a.Error)
	}
	good := w.readLock(t)

	otherInputs := w.options(t)
	otherInputs.Locked = true
	otherInputs.Addons[0].Values = map[string]any{"replicas": 2}

	missing := w.options(t)
	missing.Locked = true
	missing.LockFile = w.lockFile + ".absent"

	for _, tc := range []struct {
		name  string
		lock  []byte
		opts  Options
		wants []string
	}{
		{"newer schema", bytes.Replace(good, []byte("schema_version: 2"), []byte("schema_version: 7"), 1), w.options(t),
			[]string{w.lockFile, "newer", "schema 7"}},
		{"not a lock", []byte("addons: [\n"), w.options(t), []string{w.lockFile, "not a lock"}},
		{"other inputs", good, otherInputs, []string{w.lockFile, "other inputs"}},
		{"no lock", good, missing, []string{missing.LockFile, "no lock"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(w.lockFile, tc.lock, 0o644); err != nil {
				t.Fatal(err)
			}
			w.dst.Reset()
			rep, err := Run(context.Background(), tc.opts, e2eLogger(t))
			if err == nil || rep != nil {
				t.Fatalf("run with a refused lock: report %v, error %v", rep, err)
			}
			if !config.IsInputError(err) {
				t.Errorf("error %v is not an input error (exit 2)", err)
			}
			var le *LockError
			if !errors.As(err, &le) {
				t.Errorf("error %v is not a LockError", err)
			}
			if e := containsAll(err.Error(), tc.wants...); e != nil {
				t.Error(e)
			}
			if n := len(w.dst.Requests()); n != 0 {
				t.Errorf("the refused run sent %d requests to the destination", n)
			}
			if got, _ := os.ReadFile(w.lockFile); !bytes.Equal(got, tc.lock) {
				t.Errorf("the refused run rewrote the lock")
			}
		})
	}
}

// TestLockPlatformChild: with a platform chosen the lock keeps the index the tag resolved
// to and the child copied; a --locked run pulls them again.
func TestLockPlatformChild(t *testing.T) {
	w := newLockWorld(t)
	opts := w.options(t)
	opts.Platform = registry.MustParsePlatform("linux/arm64")
	_, a := w.run(t, opts)
	if a.Status != StatusSuccess {
		t.Fatalf("run: %s: %s", a.Status, a.Error)
	}
	l := mustReadLock(t, w.lockFile)
	for _, img := range lockImages {
		li, ir := lockedImage(l, mustRef(t, img).String()), imageOf(a, mustRef(t, img).String())
		if li == nil || li.Digest != w.digests[img] || li.Platform != "linux/arm64" || li.PlatformDigest == "" ||
			li.PlatformDigest == li.Digest || li.PlatformDigest != ir.DestDigest {
			t.Errorf("%s locked as %+v, want index %s and the child at the destination %s", img, li, w.digests[img], ir.DestDigest)
		}
	}
	opts = w.options(t)
	opts.Platform, opts.Locked = registry.MustParsePlatform("linux/arm64"), true
	if _, a := w.run(t, opts); a.Status != StatusSuccess {
		t.Fatalf("--locked: %s: %s", a.Status, a.Error)
	}
}
