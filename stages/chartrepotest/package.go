// Package chartrepotest serves charts the way real repositories do, for tests: an HTTP
// chart repository (index.yaml built with Helm's repo package, archives packaged with
// chartutil) on httptest, with request counts, basic auth and failure injection, and
// pushes of charts as Helm OCI artifacts into a registrytest registry.
package chartrepotest

import (
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

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
