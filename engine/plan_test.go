package engine

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// planCounts is what a plan's table and a sync's summary both count.
type planCounts struct {
	Copy, Present, Drift, Failed            int
	Published, ChartsPresent, Blocked, CDri int
	Statuses                                string
}

func planCountsOf(rep *Report, plan bool) planCounts {
	t := rep.Totals
	c := planCounts{Drift: t.Drift, Failed: t.ImgFailed, Published: t.ChartsPublished, ChartsPresent: t.ChartsPresent,
		Blocked: t.ChartsBlocked, CDri: t.ChartsDrift, Copy: t.Copied, Present: t.Skipped}
	if plan {
		c.Copy, c.Present = t.ToCopy, t.Present
	}
	var st []string
	for _, a := range rep.Addons {
		st = append(st, a.Addon+"="+a.Status)
	}
	c.Statuses = strings.Join(st, " ")
	return c
}

// TestPlanMatchesTheSyncThatFollows: against a destination where some images are present,
// one is drift and one chart is already published, and a source missing one image, the
// plan classifies every image and chart, sends no write and reads no blob, costs at most
// one source HEAD per image and one destination request per image and per chart, and
// counts exactly what the sync that follows does.
func TestPlanMatchesTheSyncThatFollows(t *testing.T) {
	w := newPlanWorld(t, [][2]string{
		{"alpha", "a1 a2 a3"}, // a2 present: chart to publish
		{"beta", "b1 b2"},     // b2 drift: chart blocked, addon DRIFT
		{"gamma", "c1 c2"},    // c1 missing at the source: addon fails
		{"delta", "d1"},       // published already: all present
	}, "c1")
	w.run(t, w.options(t.TempDir(), "delta"))
	w.placeSame(t, "a2")
	w.placeSame(t, "b1")
	w.placeOther(t, "mirror", "b2")
	w.src.Reset()
	w.dst.Reset()

	opts := w.options(t.TempDir())
	opts.ScanOnly, opts.VerifyDigest = true, true
	plan := w.run(t, opts)

	by := addonsByName(plan)
	want := map[string]map[string]Outcome{
		"alpha": {"a1": OutcomeToCopy, "a2": OutcomePresent, "a3": OutcomeToCopy},
		"beta":  {"b1": OutcomePresent, "b2": OutcomeDrift},
		"gamma": {"c1": OutcomeMissingAtSource, "c2": OutcomeToCopy},
		"delta": {"d1": OutcomePresent},
	}
	for addon, imgs := range want {
		for _, img := range by[addon].Images {
			n := strings.TrimSuffix(strings.TrimPrefix(img.Source, "quay.io/org/"), ":1")
			if img.Result != imgs[n] {
				t.Errorf("%s: image %s: %s (%s), want %s", addon, img.Source, img.Result, img.Error, imgs[n])
			}
			if img.Result == OutcomeDrift && (img.Drift == "" || img.SourceDigest != w.digests[img.Source]) {
				t.Errorf("%s: drift image %+v says nothing of the digests", addon, img)
			}
		}
	}
	for addon, st := range map[string][2]string{
		"alpha": {StatusSuccess, ChartPublish}, "beta": {StatusDrift, ChartBlocked},
		"gamma": {StatusError, ChartBlocked}, "delta": {StatusSuccess, ChartPresent},
	} {
		if a := by[addon]; a.Status != st[0] || a.ChartResult != st[1] {
			t.Errorf("%s: %s, chart %q, want %s, %q: %s", addon, a.Status, a.ChartResult, st[0], st[1], a.Error)
		}
	}
	if e := by["beta"].Error; !strings.Contains(e, "quay.io/org/b2:1") || !strings.Contains(e, "--overwrite-existing") {
		t.Errorf("beta's error does not name the drift image and the way out: %s", e)
	}
	if e := by["gamma"].Error; !strings.Contains(e, "waits for quay.io/org/c1:1") || !strings.Contains(by["gamma"].Images[0].Error, "not found at the source") {
		t.Errorf("gamma's error does not name the image it waits for: %s / %s", e, by["gamma"].Images[0].Error)
	}
	if !plan.Errored() || !plan.DriftFound() || !plan.Pending() {
		t.Errorf("plan: errored %v, drift %v, pending %v; want all", plan.Errored(), plan.DriftFound(), plan.Pending())
	}

	// Read only, no blob, bounded.
	noWritesNorBlobReads(t, "source", w.src)
	noWritesNorBlobReads(t, "destination", w.dst)
	images := len(w.digests)
	if n := w.src.Count(registrytest.ManifestHead); n > images {
		t.Errorf("source manifest HEADs = %d, want at most one per image (%d)", n, images)
	}
	if n := w.src.Count(registrytest.ManifestGet); n != 0 {
		t.Errorf("source manifest GETs = %d, want none (platform auto)", n)
	}
	checkPlanDestinationRequests(t, w.dst.Requests(), "mirror/", images, len(w.names))
	var table strings.Builder
	plan.WriteSummary(&table, false)
	for _, s := range []string{"TO COPY", "PRESENT", "Would copy 3 images:", "Drift, 1 images", "Missing at the source, 1 images:", "Would push 1 charts:", "Blocked, 2 charts"} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("plan table lacks %q:\n%s", s, table.String())
		}
	}
	if strings.Contains(table.String(), "COPIED") {
		t.Errorf("plan table says copied:\n%s", table.String())
	}
	raw, err := os.ReadFile(opts.ReportFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Totals map[string]int `json:"totals"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Totals["drift"] != 1 || doc.Totals["to_copy"] != 3 || doc.Totals["present"] != 3 || doc.Totals["charts_blocked"] != 2 {
		t.Errorf("report totals %v", doc.Totals)
	}
	t.Logf("plan: source %v; destination %v\n%s", w.src.Counts(), w.dst.Counts(), table.String())

	// The sync that follows does what the plan said.
	opts.ScanOnly = false
	sync := w.run(t, opts)
	if p, s := planCountsOf(plan, true), planCountsOf(sync, false); p != s {
		t.Errorf("plan counted %+v, the sync %+v", p, s)
	}
	if got := head(t, w.destRef("mirror", "b2")); got == w.digests["quay.io/org/b2:1"] {
		t.Errorf("the sync overwrote the drift tag without --overwrite-existing")
	}

	// A plan after it: what is left is the drift and the missing image.
	opts.ScanOnly = true
	again := w.run(t, opts)
	if tt := again.Totals; tt.ToCopy != 0 || tt.Drift != 1 || tt.ImgFailed != 1 || tt.ChartsPublished != 0 || tt.ChartsPresent != 2 {
		t.Errorf("plan after the sync: %+v", tt)
	}
	// Only the good addons: nothing to do.
	clean := w.options(t.TempDir(), "alpha", "delta")
	clean.ScanOnly = true
	done := w.run(t, clean)
	if done.Errored() || done.DriftFound() || done.Pending() {
		t.Errorf("plan of synced addons: %+v", done.Totals)
	}
}

// checkPlanDestinationRequests: at most one request per image in the image repositories
// (under imagePrefix), and at most one per chart besides, plus the one HEAD the client
// sends a host before its first manifest GET to read its pull budget.
func checkPlanDestinationRequests(t *testing.T, reqs []registrytest.Request, imagePrefix string, images, charts int) {
	t.Helper()
	var onImages, other int
	for _, q := range reqs {
		if strings.HasPrefix(q.Repository, imagePrefix) {
			onImages++
		} else {
			other++
		}
	}
	if onImages > images {
		t.Errorf("destination image requests = %d, want at most one per image (%d)", onImages, images)
	}
	if other > charts+1 {
		t.Errorf("destination chart requests = %d, want at most one per chart (%d) and one budget probe", other, charts)
	}
}
