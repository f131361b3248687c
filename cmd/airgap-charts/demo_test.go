package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.uber.org/zap"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"sigs.k8s.io/yaml"

	"github.com/airgap-charts/airgap-charts/engine"
	"github.com/airgap-charts/airgap-charts/engine/reporttest"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/stages"
)

// TestDemoCommandSucceeds runs `airgap-charts demo` as a user would: it must exit 0
// having mirrored every embedded chart and its images, and say where they landed.
func TestDemoCommandSucceeds(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"demo", "--log-format", "json", "--log-level", "warn"}, &stdout, &stderr, os.Getenv)
	if code != exitOK {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, chart := range demoCharts {
		if !strings.Contains(out, "SUCCESS  "+chart) {
			t.Errorf("summary has no SUCCESS row for %s:\n%s", chart, out)
		}
		refs, err := demoImages(chart)
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range refs {
			if !strings.Contains(out, "/"+demoPrefix+"/"+ref.Repository+":"+ref.Tag) || !strings.Contains(out, " ← "+ref.String()+"\n") {
				t.Errorf("no landing line for %s:\n%s", ref, out)
			}
		}
	}
	if !strings.Contains(out, "3 addons: 3 succeeded, 0 incomplete, 0 failed") {
		t.Errorf("totals line missing:\n%s", out)
	}
}

// TestDemoMirrorsEverythingPrivately runs the demo's sync and checks what it left: every
// image each chart pulls is at the destination with the digest the source serves, every
// chart is pushed, and both the pushed chart and the original chart with the consumer
// overrides render only images at the destination.
func TestDemoMirrorsEverythingPrivately(t *testing.T) {
	ctx := context.Background()
	w, err := startDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rep, err := w.run(ctx, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Addons) != len(demoCharts) {
		t.Fatalf("report has %d addons, want %d", len(rep.Addons), len(demoCharts))
	}
	reporttest.CheckFile(t, engine.ReportSchema, filepath.Join(w.out, "report.json"))
	for _, a := range rep.Addons {
		t.Run(a.Chart, func(t *testing.T) {
			if a.Status != engine.StatusSuccess {
				t.Fatalf("status %s at %s: %s", a.Status, a.Stage, a.Error)
			}
			want := w.mirroredImages(a.Chart)
			checkReportedImages(t, a, want)
			for src, dst := range want {
				checkAtDestination(t, dst, w.digests[src])
			}
			pushed := pullDemoChart(t, a.ChartRef)
			checkRendersPrivate(t, "pushed chart", pushed, a.Chart, want, nil)
			original, err := loader.LoadDir(w.srcDirs[a.Chart])
			if err != nil {
				t.Fatal(err)
			}
			checkRendersPrivate(t, "original chart with consumer overrides", original, a.Chart, want, readValues(t, a.ConsumerOverrides))
		})
	}
}

// TestDemoImagesAreReproducible: a demo image's digest depends on its reference only, and
// every digest a demo chart pins is the one the demo builds.
func TestDemoImagesAreReproducible(t *testing.T) {
	pinned := 0
	for _, c := range demoCharts {
		refs, err := demoImages(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range refs {
			a, b := mustDemoDigest(t, ref), mustDemoDigest(t, ref)
			if a != b {
				t.Errorf("%s: built twice, digests %s and %s", ref, a, b)
			}
			if ref.Digest != "" {
				pinned++
				if a != ref.Digest {
					t.Errorf("chart %s pins %s; the demo builds %s for it", c, ref, a)
				}
			}
		}
	}
	if pinned == 0 {
		t.Error("no demo chart pins an image by digest")
	}
	if mustDemoDigest(t, registry.MustParseImageRef("quay.io/a/b:1")) == mustDemoDigest(t, registry.MustParseImageRef("quay.io/a/b:2")) {
		t.Error("two references built the same image")
	}
}

func mustDemoDigest(t *testing.T, ref registry.ImageRef) string {
	t.Helper()
	idx, err := demoImage(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// mirroredImages maps each image chart pulls (ImageRef.String()) to where the demo's
// layout puts it: DESTINATION/mirror/REPOSITORY with tag and digest kept.
func (w *demoWorld) mirroredImages(chart string) map[string]registry.ImageRef {
	m := map[string]registry.ImageRef{}
	for _, ref := range w.images[chart] {
		m[ref.String()] = registry.ImageRef{Registry: w.dst.Host, Repository: demoPrefix + "/" + ref.Repository, Tag: ref.Tag, Digest: ref.Digest}
	}
	return m
}

func checkReportedImages(t *testing.T, a *engine.AddonReport, want map[string]registry.ImageRef) {
	t.Helper()
	got := map[string]string{}
	for _, img := range a.Images {
		got[img.Source] = img.Destination
	}
	for src, dst := range want {
		if got[src] != dst.String() {
			t.Errorf("image %s reported at %q, want %s", src, got[src], dst)
		}
	}
	for src := range got {
		if _, ok := want[src]; !ok {
			t.Errorf("image %s reported but not in the chart's image list", src)
		}
	}
}

// checkAtDestination fails unless dst's tag holds digest.
func checkAtDestination(t *testing.T, dst registry.ImageRef, digest string) {
	t.Helper()
	if digest == "" {
		t.Fatalf("%s: no source digest recorded", dst)
	}
	tag, err := dst.TagReference(name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(tag)
	if err != nil {
		t.Errorf("%s not at the destination: %v", tag, err)
		return
	}
	if desc.Digest.String() != digest {
		t.Errorf("%s holds %s, the source serves %s", tag, desc.Digest, digest)
	}
}

// pullDemoChart pulls the Helm chart at oci://HOST/NAME:VERSION and loads it.
func pullDemoChart(t *testing.T, chartRef string) *chart.Chart {
	t.Helper()
	ref, err := name.ParseReference(strings.TrimPrefix(chartRef, "oci://"), name.Insecure)
	if err != nil {
		t.Fatalf("chart ref %q: %v", chartRef, err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("chart %s not pushed: %v", chartRef, err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Layers {
		if string(l.MediaType) != helmregistry.ChartLayerMediaType {
			continue
		}
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := layer.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := loader.LoadArchive(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("chart %s does not load: %v", chartRef, err)
		}
		return ch
	}
	t.Fatalf("%s holds no %s layer", chartRef, helmregistry.ChartLayerMediaType)
	return nil
}

// checkRendersPrivate renders ch with values over its defaults and fails unless the
// images it pulls are exactly the mirrored ones.
func checkRendersPrivate(t *testing.T, label string, ch *chart.Chart, release string, want map[string]registry.ImageRef, values map[string]any) {
	t.Helper()
	var layers []map[string]any
	if values != nil {
		layers = append(layers, values)
	}
	r, err := stages.Render(context.Background(), ch, stages.RenderOptions{Release: release, Namespace: "demo", Values: layers})
	if err != nil {
		t.Fatalf("%s: render: %v", label, err)
	}
	found, err := stages.Extract(r, ch)
	if err != nil {
		t.Fatalf("%s: extract: %v", label, err)
	}
	wanted := map[string]bool{}
	for _, dst := range want {
		wanted[dst.String()] = true
	}
	var got []string
	for _, f := range found {
		got = append(got, f.Ref.String())
		if !wanted[f.Ref.String()] {
			t.Errorf("%s pulls %s, not a mirrored image", label, f.Ref)
		}
		delete(wanted, f.Ref.String())
	}
	for missing := range wanted {
		sort.Strings(got)
		t.Errorf("%s does not pull mirrored %s; it pulls %v", label, missing, got)
	}
}

func readValues(t *testing.T, path string) map[string]any {
	t.Helper()
	if path == "" {
		t.Fatal("no consumer overrides written")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]any{}
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("consumer overrides %s: %v", path, err)
	}
	return v
}
