package engine

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// TestPruneRemovesOnlyWhatRunsWrote: an addon dropped from the inputs keeps its files
// until a run with --prune, which removes exactly the files runs recorded for it (and its
// directory once empty), never a file someone else put there, and says so in the report.
func TestPruneRemovesOnlyWhatRunsWrote(t *testing.T) {
	w := newE2EWorld(t, []string{"alertmanager", "metrics-server"})
	dst := registrytest.New(t)
	out := t.TempDir()
	opts := w.options(dst.Host, out)
	all := opts.Addons
	if _, err := runChecked(t, context.Background(), opts, e2eLogger(t)); err != nil {
		t.Fatal(err)
	}
	rec := readOutputs(out)
	ms := rec.Addons["metrics-server"]
	if len(ms) != 2 { // the repacked archive and the consumer overrides
		t.Fatalf("recorded for metrics-server: %v", ms)
	}
	mine := filepath.Join(out, "alertmanager", "notes.txt") // not ours: never removed
	if err := os.WriteFile(mine, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}

	// metrics-server leaves the inputs: without --prune its files stay, still recorded.
	opts.Addons = all[:1]
	opts.InputAddons = []string{all[0].Name()}
	rep, err := runChecked(t, context.Background(), opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ms {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("without --prune, %s was removed", f)
		}
	}
	if len(rep.Pruned) != 0 || !reflect.DeepEqual(readOutputs(out).Addons["metrics-server"], ms) {
		t.Errorf("without --prune: pruned %v, record %v", rep.Pruned, readOutputs(out).Addons)
	}

	// A filter leaves it out but it is in the inputs again: --prune keeps it.
	opts.Prune = true
	opts.InputAddons = []string{all[0].Name(), all[1].Name()}
	if rep, err = runChecked(t, context.Background(), opts, e2eLogger(t)); err != nil || len(rep.Pruned) != 0 {
		t.Fatalf("--prune of an addon still in the inputs: %v, pruned %v", err, rep.Pruned)
	}

	// Gone from the inputs, with --prune: its files and directory go, nothing else.
	opts.InputAddons = []string{all[0].Name()}
	if rep, err = runChecked(t, context.Background(), opts, e2eLogger(t)); err != nil {
		t.Fatal(err)
	}
	want := append([]string(nil), ms...)
	sort.Strings(want)
	if !reflect.DeepEqual(rep.Pruned, want) {
		t.Errorf("pruned %v, want %v", rep.Pruned, want)
	}
	if _, err := os.Stat(filepath.Join(out, "metrics-server")); err == nil {
		t.Error("the pruned addon's directory is still there")
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("a file no run wrote was removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "alertmanager", "values.yaml")); err != nil {
		t.Errorf("the remaining addon's overrides: %v", err)
	}
	if _, ok := readOutputs(out).Addons["metrics-server"]; ok {
		t.Error("the record still lists the pruned addon")
	}
}

// An addon that succeeds with a new chart version: --prune removes the older archive the
// record lists for it; a failed addon keeps everything.
func TestPruneSupersededFiles(t *testing.T) {
	out := t.TempDir()
	write := func(rel string) string {
		p := filepath.Join(out, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	opts := Options{OutputDir: out, Prune: true, InputAddons: []string{"web", "db"}}
	web1, db1 := write("web/web-1.0.0.tgz"), write("db/db-1.0.0.tgz")
	recordOutputs(opts, []*AddonReport{{Addon: "web", Status: StatusSuccess, ChartArchive: web1}, {Addon: "db", Status: StatusSuccess, ChartArchive: db1}}, e2eLogger(t))
	web2, db2 := write("web/web-2.0.0.tgz"), write("db/db-2.0.0.tgz")
	pruned := recordOutputs(opts, []*AddonReport{{Addon: "web", Status: StatusSuccess, ChartArchive: web2}, {Addon: "db", Status: StatusError, ChartArchive: db2}}, e2eLogger(t))
	if !reflect.DeepEqual(pruned, []string{"web/web-1.0.0.tgz"}) {
		t.Errorf("pruned %v, want only web's older archive", pruned)
	}
	if got := readOutputs(out).Addons["db"]; !reflect.DeepEqual(got, []string{"db/db-1.0.0.tgz", "db/db-2.0.0.tgz"}) {
		t.Errorf("the failed addon's record: %v", got)
	}
}
