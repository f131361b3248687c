// Package chartrepotest serves charts the way real repositories do, for tests: an HTTP
// chart repository (index.yaml built with Helm's repo package, archives packaged with
// chartutil) on httptest, with request counts, basic auth and failure injection, and
// pushes of charts as Helm OCI artifacts into a registrytest registry.
package chartrepotest

import (
	"os"
	"path/filepath"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

// CorpusEnv names an environment variable that can point at the corpus charts directory.
const CorpusEnv = "AIRGAP_CORPUS_CHARTS"

// CorpusDir finds the real-chart corpus: $AIRGAP_CORPUS_CHARTS, else shared/corpus/charts
// in the working directory or one of its parents (the repository sits beside shared/).
func CorpusDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv(CorpusEnv); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("corpus: %v", err)
	}
	for {
		c := filepath.Join(dir, "shared", "corpus", "charts")
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("corpus: no shared/corpus/charts above the working directory; set %s", CorpusEnv)
		}
		dir = parent
	}
}

// Corpus returns the directory of the corpus chart name (a path such as
// "prometheus/charts/alertmanager" reaches a vendored subchart), failing the test when absent.
func Corpus(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(CorpusDir(t), name)
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
		t.Fatalf("corpus chart %s: %v", name, err)
	}
	return dir
}

// Package packages a chart directory (read only; vendored subcharts included as charts/
// directories, .helmignore honoured) into NAME-VERSION.tgz in a fresh temporary directory
// and returns its path and the chart's metadata.
func Package(t testing.TB, chartDir string) (string, *chart.Metadata) {
	t.Helper()
	ch, err := loader.LoadDir(chartDir)
	if err != nil {
		t.Fatalf("load chart %s: %v", chartDir, err)
	}
	out, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatalf("package chart %s: %v", chartDir, err)
	}
	return out, ch.Metadata
}
