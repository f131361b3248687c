package engine

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// chartManifest is the manifest digest of the chart tag ref (host/repo:tag), "" when absent.
func chartManifest(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r)
	if err != nil {
		return ""
	}
	return d.Digest.String()
}

// TestDriftImageIsNeverSilent: --verify-existing-digest finding a destination tag on
// another digest warns, counts it, and leaves the chart unpublished (addon DRIFT, saying
// why) and the tag as it was; with --overwrite-existing the tag is replaced, the drift
// still counted, and the chart published.
func TestDriftImageIsNeverSilent(t *testing.T) {
	w := newPlanWorld(t, [][2]string{{"alpha", "a1 a2"}})
	old := w.placeOther(t, "mirror", "a2")
	opts := w.options(t.TempDir())
	opts.VerifyDigest = true
	rep := w.run(t, opts)
	a := rep.Addons[0]
	if a.Status != StatusDrift || a.ChartResult != ChartBlocked || !strings.Contains(a.Error, "quay.io/org/a2:1") || !rep.Failed() {
		t.Fatalf("drift run: %s, chart %q: %s", a.Status, a.ChartResult, a.Error)
	}
	if rep.Totals.Drift != 1 || rep.Totals.Drifted != 1 || rep.Totals.Copied != 1 {
		t.Errorf("totals %+v, want 1 drift, 1 drifted addon, 1 copied", rep.Totals)
	}
	if got := head(t, w.destRef("mirror", "a2")); got != old {
		t.Errorf("the drift tag was changed to %s", got)
	}
	if got := chartManifest(t, w.dst.Host+"/alpha:1.0.0"); got != "" {
		t.Errorf("the chart was published (%s) pointing at a drift tag", got)
	}
	var sum strings.Builder
	rep.WriteSummary(&sum, false)
	if !strings.Contains(sum.String(), "DRIFT") || !strings.Contains(sum.String(), "1 drift, 0 failed") {
		t.Errorf("summary does not show the drift:\n%s", sum.String())
	}
	raw, _ := os.ReadFile(opts.ReportFile)
	if !strings.Contains(string(raw), `"drift":"destination tag holds `+old) || !strings.Contains(string(raw), `"status":"DRIFT"`) {
		t.Errorf("report.json does not record the drift:\n%s", raw)
	}

	opts.OverwriteDigest = true
	rep = w.run(t, opts)
	a = rep.Addons[0]
	if a.Status != StatusSuccess || a.ChartResult != "pushed" || rep.Totals.Drift != 1 {
		t.Fatalf("overwrite run: %s, chart %q, totals %+v: %s", a.Status, a.ChartResult, rep.Totals, a.Error)
	}
	if got := head(t, w.destRef("mirror", "a2")); got != w.digests["quay.io/org/a2:1"] {
		t.Errorf("overwrite left %s, want the source's digest", got)
	}
}

// TestDriftChartOfAnotherPrefix: a run with another --target-prefix finds the chart tag
// holding the first run's rewrite: drift, not overwritten; the plan says so too; with
// --chart-prefix its chart goes under a path of its own; --overwrite-existing replaces it.
func TestDriftChartOfAnotherPrefix(t *testing.T) {
	w := newPlanWorld(t, [][2]string{{"alpha", "a1"}})
	one := w.options(t.TempDir())
	one.TargetPrefix = "one"
	if a := w.run(t, one).Addons[0]; a.Status != StatusSuccess || a.ChartResult != "pushed" {
		t.Fatalf("first run: %s %q: %s", a.Status, a.ChartResult, a.Error)
	}
	chartRef := w.dst.Host + "/alpha:1.0.0"
	first := chartManifest(t, chartRef)

	two := w.options(t.TempDir())
	two.TargetPrefix = "two"
	two.ScanOnly = true
	w.dst.Reset()
	plan := w.run(t, two)
	if a := plan.Addons[0]; a.Status != StatusDrift || a.ChartResult != ChartDrift || !plan.DriftFound() || plan.Totals.ChartsDrift != 1 {
		t.Errorf("plan: %s %q, totals %+v: %s", a.Status, a.ChartResult, plan.Totals, a.Error)
	}
	noWritesNorBlobReads(t, "destination", w.dst)

	two.ScanOnly = false
	a := w.run(t, two).Addons[0]
	if a.Status != StatusDrift || a.ChartResult != ChartDrift || !strings.Contains(a.Error, "--chart-prefix") {
		t.Errorf("second prefix: %s %q: %s", a.Status, a.ChartResult, a.Error)
	}
	if got := chartManifest(t, chartRef); got != first {
		t.Errorf("the other prefix's chart was overwritten: %s, was %s", got, first)
	}

	two.ChartPrefix = "two-charts"
	a = w.run(t, two).Addons[0]
	if a.Status != StatusSuccess || a.ChartResult != "pushed" || a.ChartRef != "oci://"+w.dst.Host+"/two-charts/alpha:1.0.0" {
		t.Errorf("--chart-prefix: %s %q %s: %s", a.Status, a.ChartResult, a.ChartRef, a.Error)
	}
	if chartManifest(t, w.dst.Host+"/two-charts/alpha:1.0.0") == "" || chartManifest(t, chartRef) != first {
		t.Errorf("--chart-prefix did not keep the charts apart")
	}

	two.ChartPrefix, two.OverwriteDigest = "", true
	a = w.run(t, two).Addons[0]
	if a.Status != StatusSuccess || a.ChartResult != ChartOverwritten {
		t.Errorf("--overwrite-existing: %s %q: %s", a.Status, a.ChartResult, a.Error)
	}
	if got := chartManifest(t, chartRef); got == first || got == "" {
		t.Errorf("--overwrite-existing left the chart tag on %s", got)
	}
}
