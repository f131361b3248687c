package stages

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

var testLayout = registry.MirrorLayout{Registry: "111122223333.dkr.ecr.us-east-1.amazonaws.com", Prefix: "team-a"}

// corpusChartNames lists every chart of the corpus.
func corpusChartNames(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(chartrepotest.CorpusDir(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) < 10 {
		t.Fatalf("corpus has only %d charts", len(names))
	}
	return names
}

// assertPrivate fails for every image that is not at its mirrored place, and for every
// source reference still written anywhere in the manifest.
func assertPrivate(t *testing.T, label string, images []string, manifest string, mappings []ImageMapping) {
	t.Helper()
	dests := map[string]bool{}
	for _, m := range mappings {
		dests[m.Destination.String()] = true
	}
	if len(images) == 0 {
		t.Errorf("%s: rendered no images", label)
	}
	for _, raw := range images {
		ref, err := registry.ParseImageRef(raw)
		if err != nil {
			t.Errorf("%s: image %q does not parse: %v", label, raw, err)
			continue
		}
		if !dests[ref.String()] {
			t.Errorf("%s: image %s is not private (or not at its mirrored place)", label, raw)
		}
	}
	for _, m := range mappings {
		for _, l := range imageLiterals(m) {
			if l.nameOnly {
				continue
			}
			if _, n := replaceLiteral(manifest, l.old, l.new); n > 0 {
				t.Errorf("%s: source %s still written in the manifest as %q", label, m.Source, l.old)
			}
		}
	}
}

// corpusRewrite rewrites a corpus chart with RewriteChart, as the engine does: the chart's
// own render supplies the image locations, its expected list the images.
func corpusRewrite(t *testing.T, name string) (*RewriteResult, map[string]any, []ImageMapping, []string) {
	t.Helper()
	vals := testRenderValues(t, name)
	expected := testExpectedImages(t, name)
	ch := testLoadCorpusChart(t, name)
	before, _ := testRenderImages(t, ch, vals)
	found, err := Extract(testRender(t, ch, vals), ch)
	if err != nil {
		t.Fatal(err)
	}
	// Images the render finds beyond the corpus list must be ones the chart's own
	// artifacthub.io/images annotation declares (consul's dataplane, in an argument).
	assertSameImages(t, "original render", before, append(expected, declaredImages(found)...))
	// Every image found is mirrored, as a run does (annotation-only ones included).
	var raws []string
	for _, f := range found {
		raws = append(raws, f.Ref.String())
	}
	mappings := testMappings(t, raws, testLayout)
	var layers []map[string]any
	if vals != nil {
		layers = append(layers, vals)
	}
	res, err := RewriteChart(context.Background(), RewriteInput{Chart: ch, Images: mappings, Found: found,
		Render: RenderOptions{Release: "rel", Namespace: "ns", KubeVersion: "1.33.0", Values: layers}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Public {
		t.Errorf("RewriteChart reports %s public in the %s render (%s %s): %s", p.Image, p.Render, p.Where.Kind, p.Where.Path, p.Reason)
	}
	return res, vals, mappings, before
}

// TestRewriteCorpus rewrites every corpus chart, packages it, loads the package with
// Helm's loader and renders it: every image must be the private one, and no source
// reference may be left in any manifest (args and custom resources included).
func TestRewriteCorpus(t *testing.T) {
	fullyPrivate, probed, total := 0, 0, 0
	for _, name := range corpusChartNames(t) {
		t.Run(name, func(t *testing.T) {
			total++
			res, vals, mappings, before := corpusRewrite(t, name)
			if res.Probed {
				probed++
			}
			a, err := PackageChart(res.Chart, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			path := a.Path
			packaged, err := loader.Load(path)
			if err != nil {
				t.Fatalf("load the package: %v", err)
			}
			for _, f := range packaged.Raw {
				if strings.Contains(string(f.Data), "zqv") && probeMarkers.Match(f.Data) {
					t.Errorf("a probe marker leaked into %s", f.Name)
				}
			}
			after, manifest := testRenderImages(t, packaged, vals)
			assertPrivate(t, "rewritten chart", after, manifest, mappings)
			if len(after) != len(before) {
				t.Errorf("rewritten chart renders %d images, the original %d", len(after), len(before))
			}
			if !t.Failed() {
				fullyPrivate++
			}
		})
	}
	t.Logf("charts fully private after rewrite: %d/%d (%d by probing)", fullyPrivate, total, probed)
}

// TestConsumerOverridesCorpus renders every ORIGINAL corpus chart with only the consumer
// overrides file (after the chart's required values): every image must be private.
func TestConsumerOverridesCorpus(t *testing.T) {
	fullyPrivate, total := 0, 0
	for _, name := range corpusChartNames(t) {
		t.Run(name, func(t *testing.T) {
			total++
			res, vals, mappings, _ := corpusRewrite(t, name)
			file := filepath.Join(t.TempDir(), name, "values.yaml")
			if err := WriteConsumerOverrides(file, res.Overrides); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(data), "# Consumer overrides written by airgap-charts.") {
				t.Errorf("overrides file lacks its header:\n%s", data)
			}
			overrides := map[string]any{}
			if err := sigsyaml.Unmarshal(data, &overrides); err != nil {
				t.Fatalf("overrides file: %v", err)
			}
			original := testLoadCorpusChart(t, name)
			images, manifest := testRenderImages(t, original, testMergeValues(valsOrEmpty(vals), overrides))
			assertPrivate(t, "original chart + consumer overrides", images, manifest, mappings)
			if !t.Failed() {
				fullyPrivate++
			}
		})
	}
	t.Logf("charts fully private with consumer overrides: %d/%d", fullyPrivate, total)
}

// declaredImages are the rendered images the chart's annotation also names, in the
// forms a render may write them.
func declaredImages(found []FoundImage) []string {
	var out []string
	for _, f := range found {
		if annotationOnly(f) {
			continue
		}
		for _, w := range f.Where {
			if w.Kind == "Chart" {
				out = append(out, f.Raw, f.Ref.String(), strings.TrimPrefix(f.Ref.String(), "docker.io/"))
				break
			}
		}
	}
	return out
}

func valsOrEmpty(v map[string]any) map[string]any {
	if v == nil {
		return map[string]any{}
	}
	return v
}

func assertSameImages(t *testing.T, label string, got, want []string) {
	t.Helper()
	// The expected list also holds references outside `image:` fields (args): compare the
	// `image:` ones as a subset, and require each rendered one to be expected.
	wantSet := map[string]bool{}
	for _, w := range want {
		wantSet[w] = true
	}
	for _, g := range got {
		if !wantSet[g] {
			t.Errorf("%s: rendered %s, not in the corpus list %v", label, g, want)
		}
	}
	if len(got) == 0 {
		t.Errorf("%s: no images rendered", label)
	}
	sort.Strings(got)
}
