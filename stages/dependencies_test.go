package stages

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// fetchCorpus serves a corpus chart from an HTTP repository and fetches it as the engine
// would, returning the chart loaded from its archive.
func fetchCorpus(t *testing.T, r *Resolver, f *Fetcher, name string) *chart.Chart {
	t.Helper()
	repo := chartrepotest.NewHTTPRepo(t, chartrepotest.Corpus(t, name))
	ctx := context.Background()
	rc, err := r.Resolve(ctx, ChartRef{Repository: repo.URL, Name: name}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := f.Fetch(ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	return fc.Chart
}

func depByName(deps []Dependency, name string) (Dependency, bool) {
	for _, d := range deps {
		if d.Name == name {
			return d, true
		}
	}
	return Dependency{}, false
}

func declared(ch *chart.Chart, name string) bool {
	for _, d := range ch.Metadata.Dependencies {
		if d.Name == name {
			return true
		}
	}
	return false
}

func TestDependenciesArgoCDDropsDisabledUnreachableRedisHA(t *testing.T) {
	mirrors := map[string]string{"https://dandydeveloper.github.io/charts": closedURL(t)}
	r := newTestResolver(t, ResolverOptions{RepoMirrors: mirrors})
	f := newTestFetcher(t, t.TempDir())
	ch := fetchCorpus(t, r, f, "argo-cd")
	if err := action.CheckDependencies(ch, ch.Metadata.Dependencies); err == nil {
		t.Fatal("precondition: Helm accepts argo-cd without redis-ha")
	}
	deps, err := ResolveDependencies(context.Background(), ch, DependencyOptions{Include: true, Resolver: r, Fetcher: f})
	if err != nil {
		t.Fatal(err)
	}
	d, ok := depByName(deps, "redis-ha")
	if !ok || d.State != DepDropped || d.Enabled || !strings.Contains(d.Reason, "connection refused") || d.Parent != "argo-cd" {
		t.Fatalf("redis-ha: %+v", d)
	}
	if declared(ch, "redis-ha") || (ch.Lock != nil && len(ch.Lock.Dependencies) != 0) {
		t.Errorf("redis-ha still declared: %v / lock %+v", ch.Metadata.Dependencies, ch.Lock)
	}
	if err := action.CheckDependencies(ch, ch.Metadata.Dependencies); err != nil {
		t.Errorf("Helm would refuse the chart: %v", err)
	}

	// Enabled, the same dependency is an error naming it and the chart.
	ch = fetchCorpus(t, r, f, "argo-cd")
	_, err = ResolveDependencies(context.Background(), ch, DependencyOptions{Include: true, Resolver: r, Fetcher: f,
		Values: map[string]any{"redis-ha": map[string]any{"enabled": true}}})
	if err == nil || !strings.Contains(err.Error(), `dependency "redis-ha"`) || !strings.Contains(err.Error(), "chart argo-cd") ||
		!strings.Contains(err.Error(), "enabled") {
		t.Fatalf("enabled redis-ha: %v", err)
	}
}

func TestDependenciesExternalSecretsBitwardenOCI(t *testing.T) {
	reg := registrytest.New(t)
	mirrors := map[string]string{"oci://ghcr.io/external-secrets/charts": "oci://" + reg.Host + "/ghcr/external-secrets/charts"}
	r := newTestResolver(t, ResolverOptions{RepoMirrors: mirrors})
	f := newTestFetcher(t, t.TempDir())

	// Disabled and absent from the (mirrored) OCI repository: dropped.
	ch := fetchCorpus(t, r, f, "external-secrets")
	deps, err := ResolveDependencies(context.Background(), ch, DependencyOptions{Include: true, Resolver: r, Fetcher: f})
	if err != nil {
		t.Fatal(err)
	}
	d, ok := depByName(deps, "bitwarden-sdk-server")
	if !ok || d.State != DepDropped || !strings.Contains(d.Reason, reg.Host+"/ghcr/external-secrets/charts/bitwarden-sdk-server") {
		t.Fatalf("bitwarden-sdk-server: %+v", d)
	}
	if declared(ch, "bitwarden-sdk-server") || action.CheckDependencies(ch, ch.Metadata.Dependencies) != nil {
		t.Errorf("bitwarden-sdk-server still declared")
	}

	// Published in the mirror and enabled: fetched over OCI with its "v0.6.0" constraint.
	dir := t.TempDir()
	writeChart(t, dir, "bitwarden-sdk-server", "v0.6.0")
	chartrepotest.PushOCI(t, reg, "ghcr/external-secrets/charts", dir)
	r = newTestResolver(t, ResolverOptions{RepoMirrors: mirrors})
	ch = fetchCorpus(t, r, f, "external-secrets")
	deps, err = ResolveDependencies(context.Background(), ch, DependencyOptions{Include: true, Resolver: r, Fetcher: f,
		Values: map[string]any{"bitwarden-sdk-server": map[string]any{"enabled": true}}})
	if err != nil {
		t.Fatal(err)
	}
	d, _ = depByName(deps, "bitwarden-sdk-server")
	if d.State != DepFetched || d.Version != "v0.6.0" || !d.Enabled {
		t.Fatalf("bitwarden-sdk-server: %+v", d)
	}
	if subchart(ch, "bitwarden-sdk-server") == nil || action.CheckDependencies(ch, ch.Metadata.Dependencies) != nil {
		t.Errorf("fetched subchart not in the chart")
	}
}

// writeChart writes a minimal chart (for a dependency the corpus does not hold).
func writeChart(t *testing.T, dir, name, version string) {
	t.Helper()
	files := map[string]string{
		"Chart.yaml":                "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n",
		"values.yaml":               "image: ghcr.io/example/" + name + ":1.0\n",
		"templates/deployment.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
	}
	for p, body := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDependenciesKubePrometheusStackFetchesMissingSubcharts(t *testing.T) {
	c := chartrepotest.Corpus
	// One mirror serves both upstream repositories, as an air-gapped mirror would.
	mirror := chartrepotest.NewHTTPRepo(t, c(t, "grafana"), c(t, "prometheus/charts/kube-state-metrics"),
		c(t, "prometheus/charts/prometheus-node-exporter"))
	r := newTestResolver(t, ResolverOptions{RepoMirrors: map[string]string{
		"https://prometheus-community.github.io/helm-charts": mirror.URL,
		"https://grafana-community.github.io/helm-charts":    mirror.URL,
	}})
	f := newTestFetcher(t, t.TempDir())
	ch := fetchCorpus(t, r, f, "kube-prometheus-stack")
	deps, err := ResolveDependencies(context.Background(), ch, DependencyOptions{Include: true, Resolver: r, Fetcher: f})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"crds":                        DepVendored + " 0.0.0",
		"kube-state-metrics":          DepFetched + " 8.4.0",
		"prometheus-node-exporter":    DepFetched + " 4.56.1",
		"grafana":                     DepFetched + " 12.11.1",
		"prometheus-windows-exporter": DepDropped + " 0.12.*",
	}
	if len(deps) != len(want) {
		t.Errorf("dependencies: %+v", deps)
	}
	for _, d := range deps {
		if got := d.State + " " + d.Version; got != want[d.Name] {
			t.Errorf("%s: %s, want %s", d.Name, got, want[d.Name])
		}
	}
	if err := action.CheckDependencies(ch, ch.Metadata.Dependencies); err != nil {
		t.Errorf("Helm would refuse the chart: %v", err)
	}
	if len(ch.Dependencies()) != 4 {
		t.Errorf("subcharts: %d", len(ch.Dependencies()))
	}
	if n := mirror.Count("/index.yaml"); n != 1 {
		t.Errorf("index.yaml fetched %d times for 4 dependencies, want 1", n)
	}
	if n := mirror.ArchiveRequests(); n != 3 {
		t.Errorf("archive requests: %d, want 3", n)
	}
}

func TestDependenciesVendoredAreUsedAsTheyAre(t *testing.T) {
	r := newTestResolver(t, ResolverOptions{})
	f := newTestFetcher(t, t.TempDir())
	ch := fetchCorpus(t, r, f, "prometheus")
	before := map[string]*chart.Chart{}
	for _, s := range ch.Dependencies() {
		before[s.Name()] = s
	}
	deps, err := ResolveDependencies(context.Background(), ch, DependencyOptions{Include: true, Resolver: r, Fetcher: f})
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) != 4 {
		t.Fatalf("deps: %+v", deps)
	}
	for _, d := range deps {
		if d.State != DepVendored || before[d.Name] == nil || before[d.Name].Metadata.Version != d.Version {
			t.Errorf("%+v", d)
		}
	}
	for _, s := range ch.Dependencies() {
		if before[s.Name()] != s {
			t.Errorf("subchart %s replaced", s.Name())
		}
	}
}

func TestDependenciesRecurseIntoFetchedSubcharts(t *testing.T) {
	c := chartrepotest.Corpus
	prom, err := loader.LoadDir(c(t, "prometheus"))
	if err != nil {
		t.Fatal(err)
	}
	prom.SetDependencies() // published without its subcharts: they must come from the repository
	repo := chartrepotest.NewHTTPRepo(t, c(t, "prometheus/charts/alertmanager"), c(t, "prometheus/charts/kube-state-metrics"),
		c(t, "prometheus/charts/prometheus-node-exporter"), c(t, "prometheus/charts/prometheus-pushgateway"))
	repo.AddChart(t, prom)
	umbrella := t.TempDir()
	writeChart(t, umbrella, "platform", "1.0.0")
	if err := os.WriteFile(filepath.Join(umbrella, "Chart.yaml"), []byte("apiVersion: v2\nname: platform\nversion: 1.0.0\n"+
		"dependencies:\n- name: prometheus\n  alias: metrics\n  version: \">=28.0.0-0\"\n  repository: "+repo.URL+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ch, err := loader.LoadDir(umbrella)
	if err != nil {
		t.Fatal(err)
	}
	r := newTestResolver(t, ResolverOptions{RepoMirrors: map[string]string{"https://prometheus-community.github.io/helm-charts": repo.URL}})
	f := newTestFetcher(t, t.TempDir())
	deps, err := ResolveDependencies(context.Background(), ch, DependencyOptions{Include: true, Resolver: r, Fetcher: f,
		Values: map[string]any{"metrics": map[string]any{"prometheus-pushgateway": map[string]any{"enabled": false}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) != 5 {
		t.Fatalf("deps: %+v", deps)
	}
	for _, d := range deps[1:] {
		if d.State != DepFetched || d.Parent != "platform/metrics" {
			t.Errorf("%+v", d)
		}
		if d.Name == "prometheus-pushgateway" && d.Enabled {
			t.Errorf("pushgateway condition under the alias not honoured: %+v", d)
		}
	}
	sub := subchart(ch, "prometheus")
	if sub == nil || len(sub.Dependencies()) != 4 {
		t.Fatalf("prometheus subchart: %v", sub)
	}
	if repo.Count("/index.yaml") != 1 {
		t.Errorf("index.yaml fetched %d times", repo.Count("/index.yaml"))
	}
}

func TestDependenciesExcludeRemovesSubchartsInMemoryOnly(t *testing.T) {
	r := newTestResolver(t, ResolverOptions{})
	f := newTestFetcher(t, t.TempDir())
	ch := fetchCorpus(t, r, f, "prometheus")
	deps, err := ResolveDependencies(context.Background(), ch, DependencyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) != 4 || deps[0].State != DepExcluded {
		t.Fatalf("deps: %+v", deps)
	}
	if len(ch.Dependencies()) != 0 || len(ch.Metadata.Dependencies) != 0 || ch.Lock != nil {
		t.Errorf("subcharts left: %d / %d", len(ch.Dependencies()), len(ch.Metadata.Dependencies))
	}
	if err := action.CheckDependencies(ch, ch.Metadata.Dependencies); err != nil {
		t.Errorf("Helm would refuse the chart: %v", err)
	}
	// The cached archive still holds them.
	again := fetchCorpus(t, r, f, "prometheus")
	if len(again.Dependencies()) != 4 {
		t.Errorf("exclude changed the archive: %d subcharts", len(again.Dependencies()))
	}
}

func TestDependencyEnabledTagsAndConditions(t *testing.T) {
	vals := map[string]any{"a": map[string]any{"enabled": false}, "b": map[string]any{"enabled": "yes"}}
	tags := map[string]any{"front": true, "back": false}
	cases := []struct {
		dep  chart.Dependency
		want bool
	}{
		{chart.Dependency{Condition: "a.enabled"}, false},
		{chart.Dependency{Condition: "missing.enabled"}, true},
		{chart.Dependency{Condition: "b.enabled,a.enabled"}, false}, // non-bool skipped
		{chart.Dependency{Tags: []string{"back"}}, false},
		{chart.Dependency{Tags: []string{"back", "front"}}, true},
		{chart.Dependency{Tags: []string{"back"}, Condition: "missing.x"}, false},
		{chart.Dependency{Tags: []string{"front"}, Condition: "a.enabled"}, false}, // condition wins
	}
	for _, c := range cases {
		if got := dependencyEnabled(&c.dep, vals, tags); got != c.want {
			t.Errorf("%+v: %v", c.dep, got)
		}
	}
}
