package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/config"
)

// secondChart is chart "second" at version, with the lock chart's images.
func secondChart(version string) *chart.Chart {
	c := lockChart(version, "")
	c.Metadata.Name = "second"
	return c
}

// twoAddons is w.options with addons locky and second, both in the inputs; only, when
// given, narrows the run to those addons (as --only-addon does).
func (w *lockWorld) twoAddons(t *testing.T, only ...string) Options {
	opts := w.options(t)
	second := opts.Addons[0]
	second.Chart, second.Release, second.Source.Line = "second", "second", 9
	all := []config.Addon{opts.Addons[0], second}
	opts.InputAddons = []string{"locky", "second"}
	opts.Addons = nil
	for _, a := range all {
		if len(only) == 0 || strings.Contains(","+strings.Join(only, ",")+",", ","+a.Name()+",") {
			opts.Addons = append(opts.Addons, a)
		}
	}
	return opts
}

// runAll runs opts and wants every addon SUCCESS; it returns the addons' versions.
func (w *lockWorld) runAll(t *testing.T, opts Options) map[string]string {
	t.Helper()
	rep, err := Run(context.Background(), opts, e2eLogger(t))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	versions := map[string]string{}
	for _, a := range rep.Addons {
		if a.Status != StatusSuccess {
			t.Fatalf("addon %s: %s at %s: %s", a.Addon, a.Status, a.Stage, a.Error)
		}
		versions[a.Addon] = a.Version
	}
	return versions
}

// lockEntryText is the lock file's text of addon name's entry (the lock is sorted: it runs
// to the next entry or the end).
func lockEntryText(t *testing.T, lock []byte, name string) string {
	t.Helper()
	body := string(lock)
	i := strings.Index(body, "  - name: "+name+"\n")
	if i < 0 {
		t.Fatalf("no entry for %s in the lock:\n%s", name, body)
	}
	rest := body[i+1:]
	if j := strings.Index(rest, "  - name: "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// TestLockFilteredRunMergesItsAddons: a run narrowed to one addon updates that addon's
// entry in the shared lock and keeps every other addon's entry byte for byte; a --locked
// run of all the inputs then runs the merged lock, and a --locked run narrowed to one
// addon runs exactly its entry.
func TestLockFilteredRunMergesItsAddons(t *testing.T) {
	w := newLockWorld(t)
	w.charts.AddChart(t, secondChart("1.0.0"))
	if v := w.runAll(t, w.twoAddons(t)); v["locky"] != "1.0.0" || v["second"] != "1.0.0" {
		t.Fatalf("full run resolved %v", v)
	}
	full := w.readLock(t)
	lockyEntry := lockEntryText(t, full, "locky")

	w.charts.AddChart(t, secondChart("1.1.0"))
	w.charts.AddChart(t, lockChart("1.2.0", ""))
	if v := w.runAll(t, w.twoAddons(t, "second")); v["second"] != "1.1.0" || len(v) != 1 {
		t.Fatalf("--only-addon second resolved %v", v)
	}
	merged := w.readLock(t)
	if got := lockEntryText(t, merged, "locky"); got != lockyEntry {
		t.Errorf("the filtered run changed locky's entry:\n%s\nwas\n%s", got, lockyEntry)
	}
	l := mustReadLock(t, w.lockFile)
	if e := l.addon("second"); e == nil || e.Version != "1.1.0" || len(e.Images) != len(lockImages) {
		t.Errorf("second's entry after the filtered run: %+v", e)
	}

	// --locked over all the inputs: each addon's locked version (locky 1.0.0, though
	// 1.2.0 is now in range), and the lock stays as it is.
	opts := w.twoAddons(t)
	opts.Locked = true
	if v := w.runAll(t, opts); v["locky"] != "1.0.0" || v["second"] != "1.1.0" {
		t.Errorf("--locked after the merge ran %v, want locky 1.0.0 and second 1.1.0", v)
	}
	if got := w.readLock(t); string(got) != string(merged) {
		t.Errorf("the --locked run rewrote the lock:\n%s\nwas\n%s", got, merged)
	}

	// --locked narrowed to locky: exactly its entry, the other kept.
	opts = w.twoAddons(t, "locky")
	opts.Locked = true
	if v := w.runAll(t, opts); v["locky"] != "1.0.0" || len(v) != 1 {
		t.Errorf("--locked --only-addon locky ran %v", v)
	}
	if got := w.readLock(t); string(got) != string(merged) {
		t.Errorf("the narrowed --locked run rewrote the lock:\n%s\nwas\n%s", got, merged)
	}

	// second's values change: its entry is stale for --locked (naming it), locky's is not.
	opts = w.twoAddons(t)
	opts.Locked = true
	opts.Addons[1].Values = map[string]any{"replicas": 2}
	_, err := Run(context.Background(), opts, e2eLogger(t))
	var le *LockError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "second") || strings.Contains(err.Error(), "locky") {
		t.Errorf("--locked with second's values changed: %v, want a lock error naming second only", err)
	}
	opts = w.twoAddons(t, "locky")
	opts.Locked = true
	if v := w.runAll(t, opts); v["locky"] != "1.0.0" {
		t.Errorf("--locked --only-addon locky beside a changed second ran %v", v)
	}

	// A run whose inputs no longer hold second drops its entry.
	opts = w.twoAddons(t, "locky")
	opts.InputAddons = []string{"locky"}
	w.runAll(t, opts)
	if l := mustReadLock(t, w.lockFile); l.addon("second") != nil || l.addon("locky") == nil || l.addon("locky").Version != "1.2.0" {
		t.Errorf("after second left the inputs, the lock holds %+v", l.Addons)
	}
}
