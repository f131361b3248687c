package chartrepotest

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// CorpusChart is one top-level chart of the corpus.
type CorpusChart struct {
	Name, Version string
	// Dir is the chart directory.
	Dir string
}

// CorpusOCINamespace is where ServeCorpus pushes the charts in its registry.
const CorpusOCINamespace = "corpus"

// CorpusServer serves the corpus the way public repositories serve these charts: every
// top-level chart and every chart vendored under one of them (kube-state-metrics,
// prometheus-node-exporter… which other charts declare as dependencies) from an HTTP chart
// repository and from an OCI registry. Archives are packaged with chartutil.Save from the
// chart loaded as `helm package` loads it (each packaged chart's own .helmignore honoured).
type CorpusServer struct {
	// Dir is the corpus charts directory.
	Dir string
	// Charts are the top-level charts, by name.
	Charts []CorpusChart
	// Served maps "name version" of every chart served, vendored ones included, to the
	// directory it was packaged from.
	Served map[string]string
	HTTP   *HTTPRepo
	// Registry holds the same charts at Registry.Host/corpus/NAME:VERSION.
	Registry *registrytest.Registry
	// OCIRepository is oci://HOST/corpus.
	OCIRepository string
	// Upstreams are the dependency repository URLs the corpus charts declare (http(s)://
	// and oci://), to be mirrored onto one of the two servers.
	Upstreams []string
}

// ServeCorpus starts both servers over the corpus; they stop when the test ends.
func ServeCorpus(t testing.TB) *CorpusServer {
	t.Helper()
	s := &CorpusServer{Dir: CorpusDir(t), Served: map[string]string{}}
	top, err := filepath.Glob(filepath.Join(s.Dir, "*", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	vendored, err := filepath.Glob(filepath.Join(s.Dir, "*", "charts", "*", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	upstreams := map[string]bool{}
	var dirs []string
	for i, file := range append(top, vendored...) {
		md, err := chartutil.LoadChartfile(file)
		if err != nil {
			t.Fatalf("corpus %s: %v", file, err)
		}
		for _, d := range md.Dependencies {
			r := strings.TrimRight(strings.TrimSpace(d.Repository), "/")
			if strings.HasPrefix(r, "http://") || strings.HasPrefix(r, "https://") || strings.HasPrefix(r, "oci://") {
				upstreams[r] = true
			}
		}
		dir := filepath.Dir(file)
		if i < len(top) {
			s.Charts = append(s.Charts, CorpusChart{Name: md.Name, Version: md.Version, Dir: dir})
		}
		key := md.Name + " " + md.Version
		if _, ok := s.Served[key]; ok {
			continue
		}
		s.Served[key] = dir
		dirs = append(dirs, dir)
	}
	if len(s.Charts) == 0 {
		t.Fatalf("corpus %s holds no chart", s.Dir)
	}
	for u := range upstreams {
		s.Upstreams = append(s.Upstreams, u)
	}
	sort.Strings(s.Upstreams)

	s.HTTP = NewHTTPRepo(t, dirs...)
	s.Registry = registrytest.New(t)
	PushOCI(t, s.Registry, CorpusOCINamespace, dirs...)
	s.OCIRepository = "oci://" + s.Registry.Host + "/" + CorpusOCINamespace
	return s
}

// Mirrors maps every upstream dependency repository onto repoURL (s.HTTP.URL or
// s.OCIRepository), as --repo-mirror would: dependencies the corpus serves are fetched
// from there, the others are not found there.
func (s *CorpusServer) Mirrors(repoURL string) map[string]string {
	m := make(map[string]string, len(s.Upstreams))
	for _, u := range s.Upstreams {
		m[u] = repoURL
	}
	return m
}

// WriteCorpusOverrides writes a chart-overrides.yaml (`overrides: {NAME: values}`) holding
// every NAME.render-values.yaml of the corpus into dir and returns its path: the way a
// user feeds the settings a chart refuses to render without.
func WriteCorpusOverrides(t testing.TB, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(CorpusDir(t), "*.render-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	overrides := map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var values map[string]any
		if err := yaml.Unmarshal(data, &values); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		overrides[strings.TrimSuffix(filepath.Base(f), ".render-values.yaml")] = values
	}
	data, err := yaml.Marshal(map[string]any{"overrides": overrides})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "chart-overrides.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
