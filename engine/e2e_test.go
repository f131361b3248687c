package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/airgap-charts/airgap-charts/registry/ecrsim"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// TestMain points the proxy variables at a closed port before any transport reads them, so
// a request that escapes the in-process peers fails at once instead of reaching the
// internet (loopback addresses are never proxied).
func TestMain(m *testing.M) {
	for _, v := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		os.Setenv(v, "http://127.0.0.1:9")
	}
	os.Unsetenv("NO_PROXY")
	os.Unsetenv("no_proxy")
	os.Exit(m.Run())
}

func e2eLogger(t *testing.T) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
}

// writes counts the requests that change a registry.
func writes(c map[registrytest.Kind]int) int {
	return c[registrytest.ManifestPut] + c[registrytest.UploadStart] + c[registrytest.UploadChunk] +
		c[registrytest.UploadEnd] + c[registrytest.Mount] + c[registrytest.ManifestDel]
}

// contentReads counts the requests that pull content (manifests and blobs; HEADs are free).
func contentReads(c map[registrytest.Kind]int) int {
	return c[registrytest.ManifestGet] + c[registrytest.BlobGet]
}

// TestE2ECorpusIntoRegistryAndECR syncs every corpus chart, served from an HTTP chart
// repository with its dependencies behind repository mirrors and its images behind registry
// mirrors, into a distribution registry and into the ECR simulator. Every expected image
// must land at its mirrored path with the source digest, every chart must be pushed and
// pull back, the mirrored chart and the ORIGINAL chart with only the consumer overrides
// must both render private images only, report.json must list every image, and a second
// run must copy nothing and read no content from the source.
func TestE2ECorpusIntoRegistryAndECR(t *testing.T) {
	start := time.Now()
	w := newE2EWorld(t, corpusNames(t))
	images := 0
	for _, n := range w.names {
		images += len(w.expected[n])
	}
	t.Logf("world: %d charts, %d expected images (%d distinct seeded), %d digest pins rewritten, set up in %s",
		len(w.names), images, len(w.digests), len(w.pinRewrites), time.Since(start).Round(time.Millisecond))
	ctx := context.Background()

	t.Run("oci", func(t *testing.T) {
		dst := registrytest.New(t)
		opts := w.options(dst.Host, t.TempDir())
		d := destination{registry: dst.Host, serve: dst.Host, prefix: "mirror"}
		w.src.Reset()
		w.charts.Reset()
		w.deps.Reset()
		t0 := time.Now()
		rep, err := runChecked(t, ctx, opts, e2eLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		cold := time.Since(t0)
		srcCold, dstCold := w.src.Counts(), dst.Counts()
		// Each repository index once per run; each manifest and blob pulled once.
		if a, b := w.charts.Count("/index.yaml"), w.deps.Count("/index.yaml"); a != 1 || b != 1 {
			t.Errorf("index.yaml fetched %d times from the addons' repository, %d from the dependencies'", a, b)
		}
		if m, b := srcCold[registrytest.ManifestGet], srcCold[registrytest.BlobGet]; m != len(w.digests)*seededManifests || b != len(w.digests)*seededBlobs {
			t.Errorf("source pulls: %d manifests, %d blobs; %d images hold %d and %d", m, b, len(w.digests), len(w.digests)*seededManifests, len(w.digests)*seededBlobs)
		}
		checkAddonsSucceeded(t, rep)
		checkImagesMirrored(t, w, rep, d)
		checkCharts(t, w, rep, d, opts.OutputDir)
		checkReportFile(t, w, rep, opts.ReportFile)
		if rep.Totals.Copied != len(w.digests) || rep.UniqueJobs != len(w.digests) {
			t.Errorf("copied %d of %d unique jobs, want %d distinct images", rep.Totals.Copied, rep.UniqueJobs, len(w.digests))
		}

		w.src.Reset()
		w.charts.Reset()
		w.deps.Reset()
		dst.Reset()
		t0 = time.Now()
		again, err := runChecked(t, ctx, opts, e2eLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		warm := time.Since(t0)
		checkAddonsSucceeded(t, again)
		checkNothingCopied(t, again)
		srcWarm, dstWarm := w.src.Counts(), dst.Counts()
		if n := contentReads(srcWarm); n != 0 {
			t.Errorf("rerun read content from the source: %v", srcWarm)
		}
		if n := writes(dstWarm); n != 0 {
			t.Errorf("rerun wrote to the destination: %v", dstWarm)
		}
		if n := w.charts.ArchiveRequests() + w.deps.ArchiveRequests(); n != 0 {
			t.Errorf("rerun downloaded %d chart archives again", n)
		}
		t.Logf("oci cold run %s: source %v; destination %v", cold.Round(time.Millisecond), srcCold, dstCold)
		t.Logf("oci warm run %s: source %v; destination %v", warm.Round(time.Millisecond), srcWarm, dstWarm)
	})

	t.Run("ecr", func(t *testing.T) {
		sim := ecrsim.New(t)
		cfg := sim.AWSConfig()
		opts := w.options(sim.Host, t.TempDir())
		opts.TargetKind = "ecr"
		// The simulator enforces no API quota: the client's own ECR buckets (PutImage 10/s)
		// would only make this test sleep (~14 s for 143 manifests).
		opts.ECR = ECROptions{CreateRepositories: true, Endpoint: sim.URL, AWSConfig: &cfg, PutImageRate: 1000, LayerUploadRate: 1000}
		d := destination{registry: sim.Host, serve: sim.Backend.Host, prefix: "mirror"}
		w.src.Reset()
		t0 := time.Now()
		rep, err := runChecked(t, ctx, opts, e2eLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		cold := time.Since(t0)
		checkAddonsSucceeded(t, rep)
		checkImagesMirrored(t, w, rep, d)
		checkCharts(t, w, rep, d, opts.OutputDir)
		for _, n := range w.names {
			if _, ok := sim.Repository(n); !ok {
				t.Errorf("ECR repository for chart %s was not created", n)
			}
		}
		calls, creates := sim.TotalCalls(), sim.Calls("CreateRepository")
		sim.ResetCounts()
		w.src.Reset()
		t0 = time.Now()
		again, err := runChecked(t, ctx, opts, e2eLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		checkAddonsSucceeded(t, again)
		checkNothingCopied(t, again)
		if n := contentReads(w.src.Counts()); n != 0 {
			t.Errorf("ECR rerun read content from the source: %v", w.src.Counts())
		}
		t.Logf("ecr cold run %s (%d control-plane calls, CreateRepository %d); warm run %s (%d calls, ListImages %d, DescribeImages %d)",
			cold.Round(time.Millisecond), calls, creates, time.Since(t0).Round(time.Millisecond), sim.TotalCalls(), sim.Calls("ListImages"), sim.Calls("DescribeImages"))
	})
	t.Logf("corpus end to end: %s", time.Since(start).Round(time.Millisecond))
}

// checkCharts pulls every chart back, renders it, and renders the original chart with the
// consumer overrides: both must yield the mirrored images only.
func checkCharts(t *testing.T, w *e2eWorld, rep *Report, d destination, out string) {
	t.Helper()
	notPrivate := map[string][]string{}
	for _, a := range rep.Addons {
		version := w.versions[a.Chart]
		if want := "oci://" + d.registry + "/" + a.Chart + ":" + version; a.ChartRef != want {
			t.Errorf("chart %s pushed as %q, want %q", a.Chart, a.ChartRef, want)
		}
		if a.ChartResult != "pushed" && a.ChartResult != "skipped-same-digest" {
			t.Errorf("chart %s: result %q", a.Chart, a.ChartResult)
		}
		mirrored := pullChart(t, d.serve, a.Chart, version)
		if mirrored != nil {
			pub := checkPrivate(t, w, d, a.Chart, "mirrored chart", renderImages(t, mirrored, a.Chart, w.renderValues[a.Chart]))
			notPrivate[a.Chart+" (mirrored)"] = pub
		}
		if want := filepath.Join(out, a.Chart, "values.yaml"); a.ConsumerOverrides != want {
			t.Errorf("chart %s: consumer overrides at %q, want %q", a.Chart, a.ConsumerOverrides, want)
		}
		ov := readOverrides(t, filepath.Join(out, a.Chart, "values.yaml"))
		original := originalWithDependencies(t, w, a.Chart)
		pub := checkPrivate(t, w, d, a.Chart, "original chart + consumer overrides", renderImages(t, original, a.Chart, w.renderValues[a.Chart], ov))
		notPrivate[a.Chart+" (original + overrides)"] = pub
	}
	var bad []string
	for k, v := range notPrivate {
		if len(v) > 0 {
			bad = append(bad, fmt.Sprintf("%s: %v", k, v))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("charts rendering public images:\n  %s", strings.Join(bad, "\n  "))
	}
}

// checkReportFile reads report.json: every addon, every image with its source,
// destination, digests, where it was found and its result.
func checkReportFile(t *testing.T, w *e2eWorld, rep *Report, path string) {
	t.Helper()
	rf := readReport(t, path)
	if len(rf.Addons) != len(w.names) {
		t.Fatalf("report.json holds %d addons, want %d", len(rf.Addons), len(w.names))
	}
	n := 0
	for i, a := range rf.Addons {
		if a.Status != StatusSuccess || a.ChartRef == "" {
			t.Errorf("report.json addon %s: status %s, chart %q", a.Addon, a.Status, a.ChartRef)
		}
		if len(a.Images) != len(w.expected[rep.Addons[i].Chart]) {
			t.Errorf("report.json addon %s: %d images, want %d", a.Addon, len(a.Images), len(w.expected[rep.Addons[i].Chart]))
		}
		for _, img := range a.Images {
			n++
			ref := mustRef(t, img.Source)
			if img.Destination == "" || len(img.Where) == 0 || img.Where[0].Kind == "" || img.Where[0].Path == "" {
				t.Errorf("report.json %s: incomplete entry %+v", img.Source, img)
			}
			if img.Result != string(OutcomeCopied) {
				t.Errorf("report.json %s: result %q on a first run", img.Source, img.Result)
			}
			if want := w.sourceDigest(ref); img.SourceDigest != want || img.DestDigest != want {
				t.Errorf("report.json %s: digests %q → %q, want %s both", img.Source, img.SourceDigest, img.DestDigest, want)
			}
		}
	}
	if n != rf.Totals.Images || n != rep.Totals.Images {
		t.Errorf("report.json: %d images listed, totals say %d", n, rf.Totals.Images)
	}
}

// checkNothingCopied fails for any image a rerun copied or chart it pushed again.
func checkNothingCopied(t *testing.T, rep *Report) {
	t.Helper()
	for _, a := range rep.Addons {
		for _, img := range a.Images {
			if img.Result != OutcomeSkippedExisting && img.Result != OutcomeSkippedSameDigest {
				t.Errorf("rerun: %s %s (%s)", img.Source, img.Result, img.Error)
			}
		}
		if a.ChartResult != "skipped-same-digest" {
			t.Errorf("rerun: chart %s %q", a.Chart, a.ChartResult)
		}
	}
	if rep.Totals.Copied != 0 || rep.Totals.Bytes != 0 {
		t.Errorf("rerun copied %d images, %d bytes", rep.Totals.Copied, rep.Totals.Bytes)
	}
}
