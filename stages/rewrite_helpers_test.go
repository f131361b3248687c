package stages

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// Test helpers for the rewrite tests: corpus charts loaded as the dependencies stage
// leaves them, rendered and extracted with the real stages.

// testLoadCorpusChart loads a corpus chart the way the dependencies stage would leave it:
// dependencies missing from charts/ are taken from elsewhere in the corpus when it has
// them (kube-prometheus-stack's grafana, node exporter…), else dropped from Chart.yaml
// (argo-cd's redis-ha, external-secrets' bitwarden-sdk-server) so that Helm renders.
func testLoadCorpusChart(t testing.TB, name string) *chart.Chart {
	t.Helper()
	root := chartrepotest.CorpusDir(t)
	ch, err := loader.Load(filepath.Join(root, name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	present := map[string]bool{}
	for _, d := range ch.Dependencies() {
		present[d.Name()] = true
	}
	var kept []*chart.Dependency
	for _, d := range ch.Metadata.Dependencies {
		if present[d.Name] {
			kept = append(kept, d)
			continue
		}
		dir := filepath.Join(root, d.Name)
		if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
			matches, _ := filepath.Glob(filepath.Join(root, "*", "charts", d.Name, "Chart.yaml"))
			if len(matches) == 0 {
				continue // not in the corpus: drop it
			}
			dir = filepath.Dir(matches[0])
		}
		sub, err := loader.Load(dir)
		if err != nil {
			t.Fatalf("load %s for %s: %v", d.Name, name, err)
		}
		ch.AddDependency(sub)
		present[d.Name] = true
		kept = append(kept, d)
	}
	ch.Metadata.Dependencies = kept
	return ch
}

// testRenderValues reads NAME.render-values.yaml, or nil when the chart has none.
func testRenderValues(t testing.TB, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chartrepotest.CorpusDir(t), name+".render-values.yaml"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]any{}
	if err := sigsyaml.Unmarshal(data, &vals); err != nil {
		t.Fatalf("%s.render-values.yaml: %v", name, err)
	}
	return vals
}

// testExpectedImages reads NAME.images.txt (the " # non-pod" marks dropped).
func testExpectedImages(t testing.TB, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chartrepotest.CorpusDir(t), name+".images.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(line), "# non-pod"))
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}

// testCloneChart copies ch through an in-memory archive: Helm's install changes the chart
// it renders (it drops disabled subcharts), so every render gets its own copy.
func testCloneChart(t testing.TB, ch *chart.Chart) *chart.Chart {
	t.Helper()
	files := map[string][]byte{}
	if err := collectChartFiles(ch, ch.Name(), files); err != nil {
		t.Fatal(err)
	}
	data, err := tarGzip(files)
	if err != nil {
		t.Fatal(err)
	}
	c, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("reload %s: %v", ch.Name(), err)
	}
	return c
}

// testRender renders ch with the real render stage as `helm template` does (client only,
// CRDs and test hooks included, Kubernetes 1.33.0, release rel in namespace ns).
func testRender(t testing.TB, ch *chart.Chart, vals map[string]any) *Rendered {
	t.Helper()
	var layers []map[string]any
	if vals != nil {
		layers = append(layers, vals)
	}
	r, err := Render(context.Background(), ch, RenderOptions{Release: "rel", Namespace: "ns", KubeVersion: "1.33.0", Values: layers})
	if err != nil {
		t.Fatalf("render %s: %v", ch.Name(), err)
	}
	return r
}

// testRenderImages renders ch, extracts its images with the real extract stage and returns
// them as rendered (sorted), with every manifest joined.
func testRenderImages(t testing.TB, ch *chart.Chart, vals map[string]any) ([]string, string) {
	t.Helper()
	r := testRender(t, ch, vals)
	found, err := Extract(r, ch)
	if err != nil {
		t.Fatalf("extract %s: %v", ch.Name(), err)
	}
	seen := map[string]bool{}
	var out []string
	for _, f := range found {
		if annotationOnly(f) {
			continue // named by the chart's annotation, not pulled by the render
		}
		if !seen[f.Raw] {
			seen[f.Raw] = true
			out = append(out, f.Raw)
		}
	}
	sort.Strings(out)
	var b strings.Builder
	for _, m := range r.Manifests {
		b.WriteString("\n---\n" + m.Content)
	}
	return out, b.String()
}

// testMappings maps the chart's expected images into layout.
func testMappings(t testing.TB, raws []string, layout registry.MirrorLayout) []ImageMapping {
	t.Helper()
	var out []ImageMapping
	for _, raw := range raws {
		src, err := registry.ParseImageRef(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		out = append(out, ImageMapping{Source: src, Destination: layout.Destination(src)})
	}
	return out
}

// testMergeValues merges override over base the way `-f base -f override` does.
func testMergeValues(base, override map[string]any) map[string]any {
	out := copyValue(base).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range override {
		if om, ok := v.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = testMergeValues(bm, om)
				continue
			}
		}
		out[k] = copyValue(v)
	}
	return out
}
