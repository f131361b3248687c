package stages

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"

	"github.com/airgap-charts/airgap-charts/registry"
)

// corpusDir is the real-chart corpus (see its README); AIRGAP_CORPUS overrides it.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("AIRGAP_CORPUS")
	if dir == "" {
		dir = "/work/shared/corpus"
	}
	charts := filepath.Join(dir, "charts")
	if _, err := os.Stat(charts); err != nil {
		t.Fatalf("corpus not found (set AIRGAP_CORPUS): %v", err)
	}
	return charts
}

// testOnlyDropMissingDependencies removes Chart.yaml dependencies that have no subchart in
// charts/, which Helm refuses to render. TEST ONLY: it stands in for the dependencies
// stage (stages/dependencies.go), which drops only disabled, unfetchable ones with a
// warning; swap it for that stage when both are merged.
func testOnlyDropMissingDependencies(ch *chart.Chart) {
	present := map[string]bool{}
	for _, d := range ch.Dependencies() {
		present[d.Name()] = true
	}
	kept := ch.Metadata.Dependencies[:0]
	for _, d := range ch.Metadata.Dependencies {
		if present[d.Name] {
			kept = append(kept, d)
		}
	}
	ch.Metadata.Dependencies = kept
}

// testOnlyVendorFromCorpus stands in for the dependencies stage fetching a dependency
// absent from charts/ from a repository serving the corpus (kube-prometheus-stack's
// grafana, kube-state-metrics, node-exporter): it copies the chart to a temporary
// directory, unpacks there under charts/ every missing dependency the corpus holds in a
// compatible version (as a top-level chart or vendored in another chart), the way the
// corpus README says they were vendored, and loads that. TEST ONLY: swap it for
// stages/dependencies.go with a chart repository over the corpus when merged.
func testOnlyVendorFromCorpus(t *testing.T, dir, name string) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	present := map[string]bool{}
	for _, d := range ch.Dependencies() {
		present[d.Name()] = true
	}
	vendor := map[string]string{}
	for _, dep := range ch.Metadata.Dependencies {
		if present[dep.Name] {
			continue
		}
		candidates, err := filepath.Glob(filepath.Join(dir, "*", "charts", dep.Name, "Chart.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range append([]string{filepath.Join(dir, dep.Name, "Chart.yaml")}, candidates...) {
			md, err := chartutil.LoadChartfile(c)
			if err == nil && md.Name == dep.Name && chartutil.IsCompatibleRange(dep.Version, md.Version) {
				vendor[dep.Name] = filepath.Dir(c)
				break
			}
		}
	}
	if len(vendor) == 0 {
		return ch
	}
	tmp := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(tmp, os.DirFS(filepath.Join(dir, name))); err != nil {
		t.Fatal(err)
	}
	for depName, src := range vendor {
		if err := os.CopyFS(filepath.Join(tmp, "charts", depName), os.DirFS(src)); err != nil {
			t.Fatal(err)
		}
	}
	ch, err = loader.Load(tmp)
	if err != nil {
		t.Fatalf("load %s with vendored %v: %v", name, vendor, err)
	}
	return ch
}

// loadCorpusChart loads charts/NAME and, when withRenderValues, NAME.render-values.yaml as
// the values layer.
func loadCorpusChart(t *testing.T, dir, name string, withRenderValues bool) (*chart.Chart, []map[string]any) {
	t.Helper()
	ch := testOnlyVendorFromCorpus(t, dir, name)
	testOnlyDropMissingDependencies(ch)
	if !withRenderValues {
		return ch, nil
	}
	data, err := os.ReadFile(filepath.Join(dir, name+".render-values.yaml"))
	if os.IsNotExist(err) {
		return ch, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var layer map[string]any
	if err := yaml.Unmarshal(data, &layer); err != nil {
		t.Fatalf("%s.render-values.yaml: %v", name, err)
	}
	return ch, []map[string]any{layer}
}

func renderCorpusChart(t *testing.T, ch *chart.Chart, layers []map[string]any) (*Rendered, []FoundImage) {
	t.Helper()
	r, err := Render(context.Background(), ch, RenderOptions{Release: "rel", Namespace: "ns", KubeVersion: "1.33.0", Values: layers})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	found, err := Extract(r, ch)
	if err != nil {
		t.Fatalf("extract: %v", err)
	}
	return r, found
}

// expectedImages reads NAME.images.txt: normalized reference → pod (no " # non-pod").
func expectedImages(t *testing.T, path string) map[registry.ImageRef]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[registry.ImageRef]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		raw, comment, _ := strings.Cut(line, "#")
		ref, err := registry.ParseImageRef(strings.TrimSpace(raw))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out[ref] = strings.TrimSpace(comment) != "non-pod"
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCorpusImages renders and extracts every corpus chart with its render-values and
// compares with NAME.images.txt: every pod image found, ≥95% of non-pod references, nothing
// outside the list; pod/non-pod classification agrees; no fallback used.
func TestCorpusImages(t *testing.T) {
	dir := corpusDir(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "chart\texpected\tfound\tmissing\textra\tpod missing\tnon-pod found")
	var totalPod, totalNonPod, foundPod, foundNonPod, charts int
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		charts++
		t.Run(name, func(t *testing.T) {
			ch, layers := loadCorpusChart(t, dir, name, true)
			r, found := renderCorpusChart(t, ch, layers)
			if len(r.Fallbacks) != 0 {
				t.Errorf("fallbacks used although render-values supply the settings: %v", r.Fallbacks)
			}
			want := expectedImages(t, filepath.Join(dir, name+".images.txt"))
			got := map[registry.ImageRef]FoundImage{}
			var extra, missing []string
			for _, f := range found {
				got[f.Ref] = f
				if _, ok := want[f.Ref]; !ok {
					extra = append(extra, f.Ref.String())
				}
				if len(f.Where) == 0 {
					t.Errorf("%s: no location", f.Ref)
				}
			}
			var podWant, nonPodWant, podGot, nonPodGot int
			for ref, pod := range want {
				f, ok := got[ref]
				if pod {
					podWant++
				} else {
					nonPodWant++
				}
				if !ok {
					missing = append(missing, ref.String())
					continue
				}
				if pod {
					podGot++
				} else {
					nonPodGot++
				}
				if f.PodSpec != pod {
					t.Errorf("%s: PodSpec=%v, corpus says pod=%v (where %+v)", ref, f.PodSpec, pod, f.Where)
				}
			}
			sort.Strings(missing)
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d/%d\n", name, len(want), len(found), len(missing), len(extra), podWant-podGot, nonPodGot, nonPodWant)
			totalPod += podWant
			totalNonPod += nonPodWant
			foundPod += podGot
			foundNonPod += nonPodGot
			if len(extra) > 0 {
				t.Errorf("images outside the expected list: %v", extra)
			}
			if podGot != podWant {
				t.Errorf("pod images missing: %v", missing)
			}
			if nonPodWant > 0 && float64(nonPodGot) < 0.95*float64(nonPodWant) {
				t.Errorf("non-pod references found %d/%d (< 95%%): missing %v", nonPodGot, nonPodWant, missing)
			}
		})
	}
	tw.Flush()
	t.Logf("corpus (%d charts): pod images %d/%d, non-pod %d/%d\n%s", charts, foundPod, totalPod, foundNonPod, totalNonPod, table.String())
	if charts < 10 {
		t.Fatalf("only %d corpus charts found", charts)
	}
	if totalNonPod == 0 || foundNonPod < totalNonPod*95/100 {
		t.Errorf("non-pod recall over the corpus %d/%d", foundNonPod, totalNonPod)
	}
}

// TestCorpusFallbacks renders the charts that need settings without their render-values:
// karpenter and aws-load-balancer-controller render thanks to the reported placeholders;
// cluster-autoscaler renders but yields no image (the engine warns on that).
func TestCorpusFallbacks(t *testing.T) {
	dir := corpusDir(t)
	for _, tc := range []struct {
		chart, fallback, image string
	}{
		{"karpenter", "karpenter: settings.clusterName=" + placeholderCluster,
			"public.ecr.aws/karpenter/controller:1.14.1@sha256:723130949e4cab989461ff07d1be4cd781d63515432494641b33c235f300ae23"},
		{"aws-load-balancer-controller", "aws-load-balancer-controller: clusterName=" + placeholderCluster,
			"public.ecr.aws/eks/aws-load-balancer-controller:v3.5.0"},
	} {
		t.Run(tc.chart, func(t *testing.T) {
			ch, _ := loadCorpusChart(t, dir, tc.chart, false)
			r, found := renderCorpusChart(t, ch, nil)
			if !containsString(r.Fallbacks, tc.fallback) {
				t.Errorf("fallbacks %v lack %q", r.Fallbacks, tc.fallback)
			}
			if len(found) != 1 || found[0].Ref != registry.MustParseImageRef(tc.image) {
				t.Errorf("found %v, want only %s", found, tc.image)
			}
		})
	}
	t.Run("cluster-autoscaler", func(t *testing.T) {
		ch, _ := loadCorpusChart(t, dir, "cluster-autoscaler", false)
		r, found := renderCorpusChart(t, ch, nil)
		if len(found) != 0 {
			t.Errorf("cluster-autoscaler without discovery settings: want no image, got %v", found)
		}
		if len(r.Fallbacks) != 0 {
			t.Errorf("unexpected fallbacks %v", r.Fallbacks)
		}
	})
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestCorpusConcurrentRenders renders one loaded chart from several goroutines at once
// with different values (the engine renders charts concurrently and renders each twice):
// every result equals the sequential one, so no state is shared between renders.
func TestCorpusConcurrentRenders(t *testing.T) {
	dir := corpusDir(t)
	ch, _ := loadCorpusChart(t, dir, "prometheus", false)
	variants := []map[string]any{
		{},
		{"alertmanager": map[string]any{"enabled": false}, "prometheus-pushgateway": map[string]any{"enabled": false}},
		{"server": map[string]any{"image": map[string]any{"tag": "v9.9.9"}}},
	}
	want := make([][]string, len(variants))
	for i, v := range variants {
		_, found := renderCorpusChart(t, ch, []map[string]any{v})
		want[i] = refStrings(found)
	}
	if reflect.DeepEqual(want[0], want[1]) || reflect.DeepEqual(want[0], want[2]) {
		t.Fatalf("variants do not differ: %v", want)
	}
	const rounds = 4
	got := make([][]string, rounds*len(variants))
	errs := make([]error, len(got))
	var wg sync.WaitGroup
	for n := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := Render(context.Background(), ch, RenderOptions{Release: "rel", Namespace: "ns", Values: []map[string]any{variants[n%len(variants)]}})
			if err != nil {
				errs[n] = err
				return
			}
			found, err := Extract(r, ch)
			errs[n] = err
			got[n] = refStrings(found)
		}()
	}
	wg.Wait()
	for n := range got {
		if errs[n] != nil {
			t.Fatalf("render %d: %v", n, errs[n])
		}
		if !reflect.DeepEqual(got[n], want[n%len(variants)]) {
			t.Errorf("render %d: %v, want %v", n, got[n], want[n%len(variants)])
		}
	}
}

func refStrings(found []FoundImage) []string {
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = f.Ref.String()
	}
	return out
}
