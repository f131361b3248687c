package engine

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// The gate chart's images: app is set in values the rewrite reaches; side is composed at
// render time from pieces of literal text, which no rewrite can reach, so it stays public.
const (
	gateApp  = "quay.io/org/app:1"
	gateSide = "quay.io/org/side:2"
)

// gateWorld serves one in-memory chart from an HTTP repository, its images seeded in a
// source registry reached through a registry mirror, and a destination registry.
type gateWorld struct {
	src, dst *registrytest.Registry
	charts   *chartrepotest.HTTPRepo
	chart    *chart.Chart
}

// gateChart is a chart "gate" whose Deployment runs app from values, and side (unless
// side is false) from a reference composed of literal pieces; annotation lists images in
// the chart's artifacthub.io/images annotation.
func gateChart(side bool, annotation ...string) *chart.Chart {
	containers := `      - name: app
        image: "{{ .Values.app.image.repository }}:{{ .Values.app.image.tag }}"
`
	if side {
		containers += `      - name: side
        image: {{ printf "%s%s" "quay." "io/org/side:2" | quote }}
`
	}
	deployment := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
` + containers
	ch := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "gate", Version: "1.0.0"},
		Values:   map[string]any{"app": map[string]any{"image": map[string]any{"repository": "quay.io/org/app", "tag": "1"}}},
		Templates: []*chart.File{
			{Name: "templates/deployment.yaml", Data: []byte(deployment)},
		},
		Raw: []*chart.File{{Name: "values.yaml", Data: []byte("app:\n  image:\n    repository: quay.io/org/app\n    tag: \"1\"\n")}},
	}
	if len(annotation) > 0 {
		var b strings.Builder
		for _, img := range annotation {
			b.WriteString("- name: extra\n  image: " + img + "\n")
		}
		ch.Metadata.Annotations = map[string]string{"artifacthub.io/images": b.String()}
	}
	return ch
}

// newGateWorld serves ch with seeded images (by "host/repo:tag").
func newGateWorld(t *testing.T, ch *chart.Chart, seeded ...string) *gateWorld {
	t.Helper()
	w := &gateWorld{src: registrytest.New(t), dst: registrytest.New(t), charts: chartrepotest.NewHTTPRepo(t), chart: ch}
	for _, s := range seeded {
		seedImage(t, w.src.Host, mustRef(t, s))
	}
	w.charts.AddChart(t, ch)
	return w
}

func (w *gateWorld) options(t *testing.T) Options {
	out := t.TempDir()
	return Options{
		Addons: []config.Addon{{Chart: w.chart.Name(), Repository: w.charts.URL, Version: w.chart.Metadata.Version,
			Release: "gate", Namespace: "ns", Source: config.Position{File: "values.yaml", Line: 3}}},
		TargetRegistry: w.dst.Host, TargetPrefix: "mirror", TargetKind: "oci",
		IncludeDeps: true, Platform: registry.PlatformAuto, SkipExisting: true, Concurrency: 4, ChartConcurrency: 2,
		RegistryMirrors:  map[string]string{"quay.io": w.src.Host + "/quay.io"},
		InsecureRegistry: []string{w.src.Host, w.dst.Host},
		OutputDir:        out, ReportFile: filepath.Join(out, "report.json"),
	}
}

func (w *gateWorld) run(t *testing.T, opts Options) *AddonReport {
	t.Helper()
	rep, err := runChecked(t, context.Background(), opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Addons) != 1 {
		t.Fatalf("%d addon reports", len(rep.Addons))
	}
	return rep.Addons[0]
}

// chartAtDestination reports whether the destination holds a manifest for gate:1.0.0.
func (w *gateWorld) chartAtDestination(t *testing.T) bool {
	t.Helper()
	ref, err := name.NewTag(w.dst.Host+"/gate:1.0.0", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Head(ref)
	return err == nil
}

// checkImagesCopied fails unless the report lists every one of want as copied.
func checkImagesCopied(t *testing.T, a *AddonReport, want ...string) {
	t.Helper()
	got := map[string]Outcome{}
	for _, img := range a.Images {
		got[img.Source] = img.Result
	}
	for _, w := range want {
		if got[w] != OutcomeCopied {
			t.Errorf("image %s: %q in the report, want copied (images %+v)", w, got[w], a.Images)
		}
	}
}

// TestGatePublicImageLeftIsIncomplete: an image the rewrite cannot reach leaves the addon
// INCOMPLETE at verify: its images are copied and reported, the chart is not published
// (the destination has no chart manifest), the error counts and names the public image,
// report.json lists it with render, where and reason, and the run counts as failed. A rerun
// served by the run cache finds the same public image and blocks the chart again.
func TestGatePublicImageLeftIsIncomplete(t *testing.T) {
	w := newGateWorld(t, gateChart(true), gateApp, gateSide)
	opts := w.options(t)
	rep, err := runChecked(t, context.Background(), opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Addons[0]
	if a.Status != StatusIncomplete || a.Stage != "verify" || a.ChartResult != "blocked" || a.ChartRef != "" {
		t.Fatalf("status %s at %q, chart %q %q: %s", a.Status, a.Stage, a.ChartResult, a.ChartRef, a.Error)
	}
	for _, want := range []string{"addon gate (values.yaml:3): verify: 1 image remains public", gateSide, "--allow-public-images", "public_images"} {
		if !strings.Contains(a.Error, want) {
			t.Errorf("error lacks %q: %s", want, a.Error)
		}
	}
	if w.chartAtDestination(t) || chartPushes(w.dst, "gate") != 0 {
		t.Errorf("the chart was pushed although an image stays public")
	}
	checkImagesCopied(t, a, gateApp, gateSide)
	if !rep.Failed() || rep.Totals.Incomplete != 1 || rep.Totals.Failed != 0 || rep.Totals.Succeeded != 0 {
		t.Errorf("failed %v, totals %+v", rep.Failed(), rep.Totals)
	}
	if _, err := os.Stat(a.ChartArchive); err != nil {
		t.Errorf("the repacked chart is not written: %v", err)
	}

	var file struct {
		Addons []struct {
			Status       string        `json:"status"`
			ChartResult  string        `json:"chart_result"`
			PublicImages []PublicImage `json:"public_images"`
		} `json:"addons"`
		Totals struct {
			Incomplete int `json:"incomplete"`
		} `json:"totals"`
	}
	data, err := os.ReadFile(opts.ReportFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Addons) != 1 || file.Addons[0].Status != "INCOMPLETE" || file.Addons[0].ChartResult != "blocked" || file.Totals.Incomplete != 1 {
		t.Fatalf("report.json: %s", data)
	}
	pub := file.Addons[0].PublicImages
	if len(pub) == 0 {
		t.Fatalf("report.json lists no public image: %s", data)
	}
	renders := map[string]bool{}
	for _, p := range pub {
		renders[p.Render] = true
		if p.Image != gateSide || p.Reason == "" || p.Allowed ||
			!strings.Contains(p.Where, "Deployment/gate") || !strings.Contains(p.Where, "containers[1].image") {
			t.Errorf("report.json public image: %+v", p)
		}
	}
	if !renders["packaged"] {
		t.Errorf("the packaged render's finding is not in report.json: %+v", pub)
	}

	// The run cache spares the render and the rewrite, not the verdict.
	again := w.run(t, opts)
	if again.RunCache != RunCacheHit || again.Status != StatusIncomplete || len(again.PublicImages) != len(pub) || again.PublicImages[0].Image != gateSide {
		t.Errorf("rerun: cache %q, %s, public %+v: %s", again.RunCache, again.Status, again.PublicImages, again.Error)
	}
	if w.chartAtDestination(t) {
		t.Errorf("the rerun pushed the chart")
	}
}

// TestGateScanOnlyBlocksThePlannedChart: under --scan-only the addon is INCOMPLETE too and
// its chart is not among those the run would push.
func TestGateScanOnlyBlocksThePlannedChart(t *testing.T) {
	w := newGateWorld(t, gateChart(true), gateApp, gateSide)
	opts := w.options(t)
	opts.ScanOnly = true
	rep, err := runChecked(t, context.Background(), opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Addons[0]
	if a.Status != StatusIncomplete || a.ChartResult != "blocked" || distinctPublic(a.PublicImages) != 1 {
		t.Fatalf("%s, chart %q, public %+v: %s", a.Status, a.ChartResult, a.PublicImages, a.Error)
	}
	var sum strings.Builder
	rep.WriteSummary(&sum, false)
	if strings.Contains(sum.String(), "Would push") || !strings.Contains(sum.String(), "INCOMPLETE") {
		t.Errorf("summary:\n%s", sum.String())
	}
	if n := writes(w.dst.Counts()); n != 0 {
		t.Errorf("scan-only wrote to the destination: %v", w.dst.Counts())
	}
}

// TestGateAllowPublicImages: --allow-public-images lets the same chart succeed and be
// published, the image marked allowed and warned about.
func TestGateAllowPublicImages(t *testing.T) {
	w := newGateWorld(t, gateChart(true), gateApp, gateSide)
	opts := w.options(t)
	opts.AllowPublicImages = true
	a := w.run(t, opts)
	if a.Status != StatusSuccess || a.ChartResult != "pushed" {
		t.Fatalf("%s at %q, chart %q: %s", a.Status, a.Stage, a.ChartResult, a.Error)
	}
	checkAllAllowed(t, a)
	if !w.chartAtDestination(t) {
		t.Errorf("chart not at the destination")
	}
	if !containsSubstring(a.Warnings, gateSide+" stays public") || !containsSubstring(a.Warnings, "--allow-public-images") {
		t.Errorf("warnings %q", a.Warnings)
	}
	checkImagesCopied(t, a, gateApp, gateSide)
}

// TestGatePublicImagesList: a public_images entry for the chart allows the image (by
// repository, any tag, or by exact reference); an entry for another chart, or another tag,
// does not.
func TestGatePublicImagesList(t *testing.T) {
	w := newGateWorld(t, gateChart(true), gateApp, gateSide)
	entry := func(chart, ref string) config.PublicImages {
		p, err := loadPublicImagesFor(t, chart, ref)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		list config.PublicImages
		want string
	}{
		{"another chart", entry("other", "quay.io/org/side"), StatusIncomplete},
		{"another tag", entry("gate", "quay.io/org/side:3"), StatusIncomplete},
		{"repository", entry("gate", "quay.io/org/side"), StatusSuccess},
		{"exact", entry("gate", gateSide), StatusSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := w.options(t)
			opts.PublicImages = tc.list
			a := w.run(t, opts)
			if a.Status != tc.want {
				t.Fatalf("%s at %q: %s", a.Status, a.Stage, a.Error)
			}
			if tc.want == StatusSuccess {
				checkAllAllowed(t, a)
				if a.ChartResult == "" || !containsSubstring(a.Warnings, "public_images of chart gate") {
					t.Errorf("chart %q, warnings %q", a.ChartResult, a.Warnings)
				}
				if !w.chartAtDestination(t) {
					t.Errorf("chart not at the destination")
				}
			}
		})
	}
}

// loadPublicImagesFor reads a chart-overrides.yaml listing ref for chart.
func loadPublicImagesFor(t *testing.T, chart, ref string) (config.PublicImages, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "chart-overrides.yaml")
	if err := os.WriteFile(p, []byte("public_images:\n  "+chart+":\n    - "+ref+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	co, err := config.LoadChartOverrides(p)
	return co.PublicImages, err
}

// TestGateImagesReportedWhenPackageFails: an addon failing after its images were submitted
// (here: its output directory cannot be created) still waits for them and lists each with
// its result.
func TestGateImagesReportedWhenPackageFails(t *testing.T) {
	w := newGateWorld(t, gateChart(false), gateApp)
	opts := w.options(t)
	if err := os.WriteFile(filepath.Join(opts.OutputDir, "gate"), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := w.run(t, opts)
	if a.Status != StatusError || a.Stage != "package" {
		t.Fatalf("%s at %q: %s", a.Status, a.Stage, a.Error)
	}
	if len(a.Images) != 1 {
		t.Fatalf("images %+v", a.Images)
	}
	checkImagesCopied(t, a, gateApp)
	dst := mustRef(t, a.Images[0].Destination)
	tag, err := name.NewTag(w.dst.Host+"/"+dst.Repository+":"+dst.Tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Head(tag); err != nil {
		t.Errorf("the reported image is not at the destination: %v", err)
	}
}

// TestGateAnnotationOnlyImageMissing: an image listed only in the chart's annotation whose
// source does not exist fails alone: the addon succeeds and is published, the image is in
// the report as failed with a warning, and it is not a public image left.
func TestGateAnnotationOnlyImageMissing(t *testing.T) {
	missing := "quay.io/org/extra:9"
	w := newGateWorld(t, gateChart(false, missing), gateApp)
	a := w.run(t, w.options(t))
	if a.Status != StatusSuccess || a.ChartResult != "pushed" {
		t.Fatalf("%s at %q, chart %q: %s", a.Status, a.Stage, a.ChartResult, a.Error)
	}
	checkImagesCopied(t, a, gateApp)
	var extra *ImageReport
	for i := range a.Images {
		if a.Images[i].Source == missing {
			extra = &a.Images[i]
		}
	}
	if extra == nil || extra.Result != OutcomeFailed || extra.Error == "" {
		t.Errorf("annotation-only image in the report: %+v", extra)
	}
	if !containsSubstring(a.Warnings, missing) || !containsSubstring(a.Warnings, "artifacthub.io/images") {
		t.Errorf("warnings %q", a.Warnings)
	}
	if len(a.PublicImages) != 0 {
		t.Errorf("public images %+v", a.PublicImages)
	}
	if !w.chartAtDestination(t) {
		t.Errorf("chart not at the destination")
	}
}

// checkAllAllowed fails unless the addon's public images are the side image, allowed, with
// one warning for it.
func checkAllAllowed(t *testing.T, a *AddonReport) {
	t.Helper()
	if len(a.PublicImages) == 0 {
		t.Errorf("no public image reported")
	}
	for _, p := range a.PublicImages {
		if p.Image != gateSide || !p.Allowed {
			t.Errorf("public image %+v", p)
		}
	}
	n := 0
	for _, w := range a.Warnings {
		if strings.Contains(w, gateSide+" stays public") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d warnings for the allowed image, want 1: %q", n, a.Warnings)
	}
}

func containsSubstring(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
