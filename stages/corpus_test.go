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

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// TestCorpusPipeline is the proof on real charts. The corpus is served from a real HTTP
// chart repository (index.yaml from Helm's repo package, archives from chartutil) and from
// a real OCI registry (distribution, in process); every chart goes resolve → fetch →
// dependencies → render → extract, values from a chart-overrides.yaml holding the corpus
// render-values, release rel, namespace ns, Kubernetes 1.33.0. Missing dependencies come
// through ResolveDependencies with every upstream dependency repository mirrored onto the
// source under test: the ones the corpus holds are fetched, the disabled ones it lacks are
// dropped. Each chart is compared with NAME.images.txt: every pod image found, ≥95% of
// the `# non-pod` references, nothing outside the list, pod/non-pod classification agrees.
// The one class of expected reference a served chart cannot render (templates a fetched
// dependency's own .helmignore drops from its archive; see helmignoredImages) is reported
// in its own column and proven to come from such a template. Images only the chart's
// artifacthub.io/images annotation names (AnnotationOnly) are neither required nor extras,
// and count as missing when the list expects them; a rendered image outside the list that
// the chart's own annotation declares is not an extra either (the list was made without
// reading references that lack a registry host in container args); both are reported in
// their own columns.
func TestCorpusPipeline(t *testing.T) {
	srv := chartrepotest.ServeCorpus(t)
	co, err := config.LoadChartOverrides(chartrepotest.WriteCorpusOverrides(t, t.TempDir()))
	ov := co.Values
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Charts) < 10 {
		t.Fatalf("only %d corpus charts", len(srv.Charts))
	}
	for _, src := range []struct{ kind, repo string }{{"http", srv.HTTP.URL}, {"oci", srv.OCIRepository}} {
		t.Run(src.kind, func(t *testing.T) {
			srv.HTTP.Reset()
			srv.Registry.Reset()
			results := runCorpus(t, srv, src.repo, ov)
			var table strings.Builder
			tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "chart\tversion\texpected\tfound\tmissing\textra\tpod missing\tnon-pod found\thelmignored\tannotation-only\tdeclared beyond list\tdependencies")
			var tot corpusTotals
			for _, c := range srv.Charts {
				t.Run(c.Name, func(t *testing.T) {
					res := results[c.Name]
					if res.err != nil {
						t.Fatal(res.err)
					}
					if res.version != c.Version {
						t.Errorf("resolved %s, corpus holds %s", res.version, c.Version)
					}
					if len(res.rendered.Fallbacks) != 0 {
						t.Errorf("fallbacks used although chart-overrides supply the settings: %v", res.rendered.Fallbacks)
					}
					want := expectedImages(t, filepath.Join(srv.Dir, c.Name+".images.txt"))
					row := compareCorpusChart(t, srv, res, want)
					tot.add(row)
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d/%d\t%d\t%s\t%s\t%s\n", c.Name, res.version, row.expected, row.found,
						row.missing, row.extra, row.podMissing, row.nonPodFound, row.nonPodWant, row.helmignored,
						strings.Join(row.annotationOnly, " "), strings.Join(row.declared, " "), depSummary(res.deps))
				})
			}
			tw.Flush()
			t.Logf("%s: %d charts; pod images found %d/%d (%d more only in templates a fetched dependency's .helmignore drops), non-pod %d/%d, extra %d, annotation-only %d, declared beyond list %d\n%s", src.kind, len(srv.Charts),
				tot.podWant-tot.podMissing-tot.helmignored, tot.podWant, tot.helmignored, tot.nonPodFound, tot.nonPodWant, tot.extra,
				tot.annotationOnlyN, tot.declaredN, table.String())
			if tot.nonPodWant == 0 || tot.nonPodFound*100 < tot.nonPodWant*95 {
				t.Errorf("non-pod recall over the corpus %d/%d", tot.nonPodFound, tot.nonPodWant)
			}
			checkCorpusDependencies(t, results)
			checkFetchedOnce(t, srv, src.kind)
		})
	}
}

type corpusRow struct {
	expected, found, missing, extra, podWant, podMissing, nonPodWant, nonPodFound, helmignored int
	// annotationOnly and declared list the images outside the expected list that only the
	// chart annotation names, and those rendered that the annotation declares.
	annotationOnly, declared []string
}

type corpusTotals struct {
	corpusRow
	annotationOnlyN, declaredN int
}

func (t *corpusTotals) add(r corpusRow) {
	t.podWant += r.podWant
	t.podMissing += r.podMissing
	t.nonPodWant += r.nonPodWant
	t.nonPodFound += r.nonPodFound
	t.helmignored += r.helmignored
	t.extra += r.extra
	t.annotationOnlyN += len(r.annotationOnly)
	t.declaredN += len(r.declared)
}

// compareCorpusChart checks one chart's images against its expected list.
func compareCorpusChart(t *testing.T, srv *chartrepotest.CorpusServer, res *corpusResult, want map[registry.ImageRef]bool) corpusRow {
	t.Helper()
	row := corpusRow{expected: len(want), found: len(res.found)}
	got := map[registry.ImageRef]FoundImage{}
	var extra, missing []string
	for _, f := range res.found {
		if len(f.Where) == 0 {
			t.Errorf("%s: no location", f.Ref)
		}
		_, listed := want[f.Ref]
		switch {
		case f.AnnotationOnly:
			if listed {
				t.Errorf("%s: expected from the render, found only in the chart annotation", f.Ref)
			} else {
				row.annotationOnly = append(row.annotationOnly, f.Ref.String())
			}
			continue
		case !listed && declaredByChart(f):
			row.declared = append(row.declared, f.Ref.String())
			t.Logf("%s: rendered (%+v) and declared by the chart annotation, not in the expected list", f.Ref, f.Where)
		case !listed:
			extra = append(extra, f.Ref.String())
		}
		got[f.Ref] = f
	}
	var missingRefs []registry.ImageRef
	for ref, pod := range want {
		if pod {
			row.podWant++
		} else {
			row.nonPodWant++
		}
		f, ok := got[ref]
		if !ok {
			missingRefs = append(missingRefs, ref)
			continue
		}
		if !pod {
			row.nonPodFound++
		}
		if f.PodSpec != pod {
			t.Errorf("%s: PodSpec=%v, corpus says pod=%v (where %+v)", ref, f.PodSpec, pod, f.Where)
		}
	}
	var explained map[registry.ImageRef]string
	if len(missingRefs) > 0 {
		explained = helmignoredImages(t, srv, res)
	}
	for _, ref := range missingRefs {
		if tmpl, ok := explained[ref]; ok && want[ref] {
			row.helmignored++
			t.Logf("%s: only in %s, which the dependency's .helmignore drops from its archive", ref, tmpl)
			continue
		}
		missing = append(missing, ref.String())
		if want[ref] {
			row.podMissing++
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	row.missing, row.extra = len(missingRefs), len(extra)
	if len(extra) > 0 {
		t.Errorf("images outside the expected list: %v", extra)
	}
	if row.podMissing > 0 {
		t.Errorf("pod images missing: %v", missing)
	}
	if row.nonPodWant > 0 && row.nonPodFound*100 < row.nonPodWant*95 {
		t.Errorf("non-pod references found %d/%d (< 95%%): missing %v", row.nonPodFound, row.nonPodWant, missing)
	}
	return row
}

// declaredByChart reports whether an image's occurrences include the chart annotation.
func declaredByChart(f FoundImage) bool {
	for _, w := range f.Where {
		if w.Kind == "Chart" {
			return true
		}
	}
	return false
}

func depSummary(deps []Dependency) string {
	var parts []string
	for _, d := range deps {
		if d.State != DepVendored {
			parts = append(parts, d.Name+" "+d.State)
		}
	}
	return strings.Join(parts, ", ")
}

// checkCorpusDependencies checks the dependency graph's real cases: vendored subcharts used
// as they are, missing enabled ones fetched through the mirrors, missing disabled ones the
// mirror lacks dropped with a reason.
func checkCorpusDependencies(t *testing.T, results map[string]*corpusResult) {
	t.Helper()
	var lines []string
	for name, res := range results {
		for _, d := range res.deps {
			lines = append(lines, fmt.Sprintf("%-22s %-28s %-9s %-8s %s", name, d.Name, d.Version, d.State, d.Reason))
		}
	}
	sort.Strings(lines)
	t.Logf("dependency graph:\n%s", strings.Join(lines, "\n"))
	for _, c := range []struct{ chart, dep, want string }{
		{"argo-cd", "redis-ha", DepDropped},
		{"external-secrets", "bitwarden-sdk-server", DepDropped},
		{"kube-prometheus-stack", "crds", DepVendored},
		{"kube-prometheus-stack", "kube-state-metrics", DepFetched},
		{"kube-prometheus-stack", "prometheus-node-exporter", DepFetched},
		{"kube-prometheus-stack", "grafana", DepFetched},
		{"kube-prometheus-stack", "prometheus-windows-exporter", DepDropped},
		{"prometheus", "alertmanager", DepVendored},
		{"prometheus", "kube-state-metrics", DepVendored},
	} {
		res := results[c.chart]
		if res == nil {
			t.Errorf("%s: not run", c.chart)
			continue
		}
		d, _ := depByName(res.deps, c.dep)
		if d.State != c.want {
			t.Errorf("%s → %s: %q, want %q", c.chart, c.dep, d.State, c.want)
		}
		if d.State == DepDropped && (d.Enabled || d.Reason == "") {
			t.Errorf("%s → %s dropped while enabled=%v or without a reason %q", c.chart, c.dep, d.Enabled, d.Reason)
		}
	}
}

// checkFetchedOnce: each HTTP index.yaml and each OCI tag list is requested once per run,
// shared by every chart and dependency.
func checkFetchedOnce(t *testing.T, srv *chartrepotest.CorpusServer, kind string) {
	t.Helper()
	if kind == "http" {
		if n := srv.HTTP.Count("/index.yaml"); n != 1 {
			t.Errorf("index.yaml fetched %d times in the run, want 1", n)
		}
		return
	}
	lists := map[string]int{}
	for _, q := range srv.Registry.Requests() {
		if q.Kind == registrytest.TagsList {
			lists[q.Repository]++
		}
	}
	for repo, n := range lists {
		if n != 1 {
			t.Errorf("tags of %s listed %d times in the run, want 1", repo, n)
		}
	}
	if len(lists) < len(srv.Charts) {
		t.Errorf("tag lists %v: fewer than the %d charts", lists, len(srv.Charts))
	}
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

// loadCorpusChart loads a corpus chart directory that vendors every dependency it declares
// (Helm would refuse it otherwise) for the render-only tests below.
func loadCorpusChart(t *testing.T, name string) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartrepotest.Corpus(t, name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	if err := action.CheckDependencies(ch, ch.Metadata.Dependencies); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ch
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

// TestCorpusFallbacks renders the charts that need settings without their render-values:
// karpenter and aws-load-balancer-controller render thanks to the reported placeholders;
// cluster-autoscaler renders but yields no image (the engine warns on that).
func TestCorpusFallbacks(t *testing.T) {
	for _, tc := range []struct {
		chart, fallback, image string
	}{
		{"karpenter", "karpenter: settings.clusterName=" + placeholderCluster,
			"public.ecr.aws/karpenter/controller:1.14.1@sha256:723130949e4cab989461ff07d1be4cd781d63515432494641b33c235f300ae23"},
		{"aws-load-balancer-controller", "aws-load-balancer-controller: clusterName=" + placeholderCluster,
			"public.ecr.aws/eks/aws-load-balancer-controller:v3.5.0"},
	} {
		t.Run(tc.chart, func(t *testing.T) {
			r, found := renderCorpusChart(t, loadCorpusChart(t, tc.chart), nil)
			if !containsString(r.Fallbacks, tc.fallback) {
				t.Errorf("fallbacks %v lack %q", r.Fallbacks, tc.fallback)
			}
			if len(found) != 1 || found[0].Ref != registry.MustParseImageRef(tc.image) {
				t.Errorf("found %v, want only %s", found, tc.image)
			}
		})
	}
	t.Run("cluster-autoscaler", func(t *testing.T) {
		r, found := renderCorpusChart(t, loadCorpusChart(t, "cluster-autoscaler"), nil)
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
	ch := loadCorpusChart(t, "prometheus")
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
