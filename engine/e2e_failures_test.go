package engine

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// addonReport finds an addon's report by chart.
func addonReport(t *testing.T, rep *Report, chartName string) *AddonReport {
	t.Helper()
	for _, a := range rep.Addons {
		if a.Chart == chartName {
			return a
		}
	}
	t.Fatalf("no report for addon %s", chartName)
	return nil
}

// chartPushes counts the manifest PUTs a registry accepted into repository.
func chartPushes(reg *registrytest.Registry, repository string) int {
	n := 0
	for _, q := range reg.Requests() {
		if q.Kind == registrytest.ManifestPut && q.Repository == repository {
			n++
		}
	}
	return n
}

// TestE2EBadVersionBesideGoodAddons: an addon asking for a version its repository lacks
// fails at resolve, the others succeed and are published, the report says the run failed,
// and the summary names the failing addon, the version asked for and the nearest ones.
func TestE2EBadVersionBesideGoodAddons(t *testing.T) {
	w := newE2EWorld(t, []string{"alertmanager", "metrics-server", "external-dns"})
	for _, v := range []string{"3.12.0", "3.12.2", "3.13.0"} {
		w.charts.AddChartVersion(t, chartrepotest.Corpus(t, "metrics-server"), v)
	}
	dst := registrytest.New(t)
	opts := w.options(dst.Host, t.TempDir())
	for i := range opts.Addons {
		if opts.Addons[i].Chart == "metrics-server" {
			opts.Addons[i].Version = "3.14.0"
		}
	}
	rep, err := runChecked(t, context.Background(), opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Failed() || rep.Totals.Failed != 1 || rep.Totals.Succeeded != 2 {
		t.Fatalf("failed %v, totals %+v", rep.Failed(), rep.Totals)
	}
	bad := addonReport(t, rep, "metrics-server")
	if bad.Status != StatusError || bad.Stage != "resolve" {
		t.Errorf("metrics-server: %s at %q: %s", bad.Status, bad.Stage, bad.Error)
	}
	if chartPushes(dst, "metrics-server") != 0 {
		t.Errorf("the failed addon's chart was pushed")
	}
	for _, n := range []string{"alertmanager", "external-dns"} {
		if a := addonReport(t, rep, n); a.Status != StatusSuccess || a.ChartResult != "pushed" {
			t.Errorf("%s: %s, chart %q: %s", n, a.Status, a.ChartResult, a.Error)
		}
		pullChart(t, dst.Host, n, w.versions[n])
	}
	var buf bytes.Buffer
	rep.WriteSummary(&buf, false)
	summary := buf.String()
	var line string
	for _, l := range strings.Split(summary, "\n") {
		if strings.Contains(l, "metrics-server") {
			line = l
		}
	}
	for _, want := range []string{"ERROR", "metrics-server", "3.14.0", "3.13.1", "3.13.0"} {
		if !strings.Contains(line, want) {
			t.Errorf("summary line of the failed addon lacks %q:\n%s", want, summary)
		}
	}
	if !strings.Contains(summary, "1 failed") {
		t.Errorf("summary totals do not count the failure:\n%s", summary)
	}
	t.Logf("summary:\n%s", summary)
}

// TestE2EScanOnlyPushesNothing: --scan-only sends not one write to the destination and
// reads no image content, yet writes the rewritten chart and the consumer overrides and
// lists every image as to copy, every chart as to publish.
func TestE2EScanOnlyPushesNothing(t *testing.T) {
	w := newE2EWorld(t, []string{"alertmanager", "karpenter"})
	dst := registrytest.New(t)
	opts := w.options(dst.Host, t.TempDir())
	opts.ScanOnly = true
	w.src.Reset()
	rep, err := runChecked(t, context.Background(), opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	checkAddonsSucceeded(t, rep)
	if n := writes(dst.Counts()); n != 0 {
		t.Errorf("scan-only wrote to the destination: %v", dst.Counts())
	}
	if n := w.src.Count(registrytest.BlobGet); n != 0 {
		t.Errorf("scan-only pulled %d blobs from the source", n)
	}
	d := destination{registry: dst.Host, prefix: "mirror"}
	for _, a := range rep.Addons {
		if a.ChartResult != ChartPublish || a.ChartRef != "oci://"+dst.Host+"/"+a.Chart+":"+w.versions[a.Chart] {
			t.Errorf("%s: chart %q %q", a.Chart, a.ChartResult, a.ChartRef)
		}
		if len(a.Images) != len(w.expected[a.Chart]) {
			t.Errorf("%s: %d images listed, want %d", a.Chart, len(a.Images), len(w.expected[a.Chart]))
		}
		for _, img := range a.Images {
			if img.Result != OutcomeToCopy {
				t.Errorf("%s: %s %s", a.Chart, img.Source, img.Result)
			}
		}
		ch, err := loader.Load(filepath.Join(opts.OutputDir, a.Chart, a.Chart+"-"+w.versions[a.Chart]+".tgz"))
		if err != nil {
			t.Errorf("%s: overlay chart: %v", a.Chart, err)
			continue
		}
		checkPrivate(t, w, d, a.Chart, "overlay chart", renderImages(t, ch, a.Chart, w.renderValues[a.Chart]))
		ov := readOverrides(t, filepath.Join(opts.OutputDir, a.Chart, "values.yaml"))
		checkPrivate(t, w, d, a.Chart, "original + consumer overrides",
			renderImages(t, originalWithDependencies(t, w, a.Chart), a.Chart, w.renderValues[a.Chart], ov))
	}
	if rep.Totals.ToCopy != len(w.digests) || rep.Totals.Copied != 0 || rep.Totals.ChartsPublished != 2 {
		t.Errorf("totals %+v, want %d to copy, 2 charts to publish", rep.Totals, len(w.digests))
	}
	var sum strings.Builder
	rep.WriteSummary(&sum, false)
	if !strings.Contains(sum.String(), fmt.Sprintf("Would copy %d images:", len(w.digests))) {
		t.Errorf("summary does not list what would be copied:\n%s", sum.String())
	}
	for _, a := range rep.Addons {
		for _, img := range a.Images {
			if !strings.Contains(sum.String(), img.Source+" → "+img.Destination) {
				t.Errorf("summary misses %s → %s", img.Source, img.Destination)
			}
		}
		if !strings.Contains(sum.String(), a.ChartRef) {
			t.Errorf("summary misses chart %s", a.ChartRef)
		}
	}
}

// TestE2EImageFailureStopsOnlyItsChart: one image missing from the source fails its addon
// at the images stage, naming the image, and that chart is not published; the other
// addons are published.
func TestE2EImageFailureStopsOnlyItsChart(t *testing.T) {
	missing := "registry.k8s.io/metrics-server/metrics-server:v0.8.1"
	w := newE2EWorldWith(t, []string{"alertmanager", "metrics-server", "external-dns"}, e2eSetup{skipSeed: []string{missing}})
	dst := registrytest.New(t)
	opts := w.options(dst.Host, t.TempDir())
	rep, err := runChecked(t, context.Background(), opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	bad := addonReport(t, rep, "metrics-server")
	if bad.Status != StatusError || bad.Stage != "images" || !strings.Contains(bad.Error, missing) {
		t.Errorf("metrics-server: %s at %q: %s", bad.Status, bad.Stage, bad.Error)
	}
	if bad.ChartRef != "" || chartPushes(dst, "metrics-server") != 0 {
		t.Errorf("metrics-server chart published (%q) although an image failed", bad.ChartRef)
	}
	if len(bad.Images) != 1 || bad.Images[0].Result != OutcomeFailed || bad.Images[0].Error == "" {
		t.Errorf("metrics-server images: %+v", bad.Images)
	}
	// Its consumer overrides would point at an image never mirrored: set aside, not named.
	overrides := filepath.Join(opts.OutputDir, "metrics-server", "values.yaml")
	if _, err := os.Stat(overrides); err == nil || bad.ConsumerOverrides != "" {
		t.Errorf("the failed addon left consumer overrides (%q in the report)", bad.ConsumerOverrides)
	}
	if _, err := os.Stat(overrides + ".failed"); err != nil {
		t.Errorf("the failed addon's overrides were not kept aside as values.yaml.failed: %v", err)
	}
	if !strings.Contains(strings.Join(bad.Warnings, "\n"), "no consumer overrides") {
		t.Errorf("no warning says why there are no overrides: %q", bad.Warnings)
	}
	// Once the image is there, a rerun succeeds and writes them again.
	seedImage(t, w.src.Host, mustRef(t, missing))
	again, err := runChecked(t, context.Background(), opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if a := addonReport(t, again, "metrics-server"); a.Status != StatusSuccess || a.ConsumerOverrides != overrides {
		t.Errorf("rerun: %s, overrides %q: %s", a.Status, a.ConsumerOverrides, a.Error)
	}
	if _, err := os.Stat(overrides + ".failed"); err == nil {
		t.Error("the set-aside overrides are still there after a successful rerun")
	}
	for _, n := range []string{"alertmanager", "external-dns"} {
		if a := addonReport(t, rep, n); a.Status != StatusSuccess || a.ChartResult != "pushed" {
			t.Errorf("%s: %s, chart %q: %s", n, a.Status, a.ChartResult, a.Error)
		}
		pullChart(t, dst.Host, n, w.versions[n])
	}
	if !rep.Failed() || rep.Totals.ImgFailed != 1 {
		t.Errorf("failed %v, totals %+v", rep.Failed(), rep.Totals)
	}
}

// TestE2EDigestPinAbsentAtSource: charts pinning images by digest, served as published,
// while the source holds other content under those tags. Exactly the pinned images fail,
// each naming its digest; their charts are not published; the unpinned addon is.
func TestE2EDigestPinAbsentAtSource(t *testing.T) {
	w := newE2EWorldWith(t, []string{"ingress-nginx", "karpenter", "metrics-server"}, e2eSetup{keepPins: true})
	dst := registrytest.New(t)
	rep, err := runChecked(t, context.Background(), w.options(dst.Host, t.TempDir()), e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"ingress-nginx", "karpenter"} {
		a := addonReport(t, rep, n)
		if a.Status != StatusError || a.Stage != "images" || chartPushes(dst, n) != 0 {
			t.Errorf("%s: %s at %q, %d chart pushes: %s", n, a.Status, a.Stage, chartPushes(dst, n), a.Error)
		}
		if len(a.Images) != len(w.expected[n]) {
			t.Fatalf("%s: %d images reported, want %d", n, len(a.Images), len(w.expected[n]))
		}
		for _, img := range a.Images {
			ref := mustRef(t, img.Source)
			if ref.Digest == "" || img.Result != OutcomeFailed || strings.Count(img.Error, ref.Digest) != 1 ||
				!strings.HasPrefix(img.Error, img.Source+": not found at the source (through mirror ") {
				t.Errorf("%s: %s %s: %s", n, img.Source, img.Result, img.Error)
			}
		}
		t.Logf("%s: %s", n, a.Error)
	}
	if a := addonReport(t, rep, "metrics-server"); a.Status != StatusSuccess || a.ChartResult != "pushed" {
		t.Errorf("metrics-server: %s, chart %q: %s", a.Status, a.ChartResult, a.Error)
	}
	if rep.Totals.ImgFailed != 3 {
		t.Errorf("%d images failed, want the 3 pinned ones", rep.Totals.ImgFailed)
	}
}

// TestE2ECancelMidRunThenRerun: cancelling the run (Ctrl-C) while it resolves, while it
// reads manifests and while blobs are in flight makes Run return promptly with every
// unfinished addon marked interrupted, leaves no temporary or half-written file in the
// output directory, and a rerun into the same output completes everything.
func TestE2ECancelMidRunThenRerun(t *testing.T) {
	charts := []string{"alertmanager", "metrics-server", "external-dns", "traefik"}
	// hangOn cancels the run at the first source request of kind, and holds every such
	// request until its client gives up, so the work is cut mid-flight.
	hangOn := func(kind registrytest.Kind) func(*e2eWorld, context.CancelFunc) {
		return func(w *e2eWorld, cancel context.CancelFunc) {
			var once sync.Once
			w.src.Intercept(func(rw http.ResponseWriter, r *http.Request) bool {
				if k, _ := registrytest.Classify(r); k != kind {
					return false
				}
				once.Do(cancel)
				<-r.Context().Done()
				return true
			})
		}
	}
	for _, tc := range []struct {
		name string
		arm  func(*e2eWorld, context.CancelFunc)
	}{
		{"while resolving", func(w *e2eWorld, cancel context.CancelFunc) {
			release, arrived := w.charts.Hold()
			go func() {
				<-arrived
				cancel()
				release()
			}()
		}},
		{"while reading manifests", hangOn(registrytest.ManifestGet)},
		{"while blobs are in flight", hangOn(registrytest.BlobGet)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newE2EWorld(t, charts)
			dst := registrytest.New(t)
			opts := w.options(dst.Host, t.TempDir())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tc.arm(w, cancel)
			t0 := time.Now()
			rep, err := runChecked(t, ctx, opts, e2eLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(t0)
			for _, a := range rep.Addons {
				if a.Status != StatusError || !strings.Contains(a.Error, "interrupted") {
					t.Errorf("addon %s after cancel: %s at %q: %s", a.Addon, a.Status, a.Stage, a.Error)
				}
				if n := chartPushes(dst, a.Chart); n != 0 {
					t.Errorf("chart %s pushed after the cancel", a.Chart)
				}
			}
			checkOutputClean(t, opts.OutputDir)
			t.Logf("cancelled run returned in %s", took.Round(time.Millisecond))

			w.src.Intercept(nil)
			rep, err = runChecked(t, context.Background(), opts, e2eLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			checkAddonsSucceeded(t, rep)
			checkImagesMirrored(t, w, rep, destination{registry: dst.Host, serve: dst.Host, prefix: "mirror"})
			for _, a := range rep.Addons {
				pullChart(t, dst.Host, a.Chart, w.versions[a.Chart])
			}
			checkOutputClean(t, opts.OutputDir)
		})
	}
}

// checkOutputClean fails for any temporary file left in the output directory, any chart
// archive that does not load and any values file that does not parse.
func checkOutputClean(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		base := d.Name()
		switch {
		case strings.HasPrefix(base, ".") || strings.HasSuffix(base, ".tmp"):
			t.Errorf("temporary file left: %s", p)
		case strings.HasSuffix(base, ".tgz"):
			if _, err := loader.Load(p); err != nil {
				t.Errorf("half-written chart %s: %v", p, err)
			}
		case base == "values.yaml":
			readOverrides(t, p)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}
