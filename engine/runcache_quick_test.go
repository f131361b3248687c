package engine

import (
	"context"
	"reflect"
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// quickRun runs opts and returns the gate addon's report, which must have succeeded.
func quickRun(t *testing.T, opts Options) *AddonReport {
	t.Helper()
	rep, err := runChecked(t, context.Background(), opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	checkAddonsSucceeded(t, rep)
	return rep.Addons[0]
}

// loaded says whether the addon's chart was loaded and its dependencies walked this run.
func loaded(a *AddonReport) bool {
	_, ok := a.Timings["dependencies"]
	return ok
}

// A rerun of a chart that needs nothing from outside its archive neither loads it nor walks
// its dependencies again, and reports what the run that did reported; changed values load
// and render it again.
func TestRunCacheKnownArchiveIsNotLoaded(t *testing.T) {
	w := newGateWorld(t, gateChart(false), gateApp)
	opts := w.options(t)
	cold := quickRun(t, opts)
	if cold.RunCache != RunCacheMiss || !loaded(cold) {
		t.Fatalf("cold run: run cache %q, loaded %t", cold.RunCache, loaded(cold))
	}
	again := quickRun(t, opts)
	checkCacheUse(t, again, RunCacheHit)
	if loaded(again) {
		t.Errorf("the rerun loaded the chart again (timings %v)", again.Timings)
	}
	if again.ChartDigest != cold.ChartDigest || again.PackagedDigest != cold.PackagedDigest || again.Version != cold.Version ||
		!reflect.DeepEqual(again.Dependencies, cold.Dependencies) || len(again.Images) != len(cold.Images) {
		t.Errorf("rerun reports %+v, the first run %+v", again, cold)
	}

	opts.Addons[0].Values = map[string]any{"app": map[string]any{"image": map[string]any{"tag": "1"}}, "extra": "x"}
	changed := quickRun(t, opts)
	checkCacheUse(t, changed, RunCacheMiss)
	if !loaded(changed) {
		t.Error("new values did not load the chart")
	}
}

// A chart whose dependency is fetched from a repository is loaded, and its dependency
// resolved, on every run: a newer dependency matching its range is picked up by the next
// run, its image with it.
func TestRunCacheFetchedDependencyIsResolvedEveryRun(t *testing.T) {
	oci := registrytest.New(t)
	sub := func(version, tag string) *chart.Chart {
		return &chart.Chart{
			Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "sub", Version: version},
			Templates: []*chart.File{{Name: "templates/pod.yaml", Data: []byte(
				"apiVersion: v1\nkind: Pod\nmetadata:\n  name: sub\nspec:\n  containers:\n  - name: side\n    image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n")}},
			Values: map[string]any{"image": map[string]any{"repository": "quay.io/org/side", "tag": tag}},
			Raw:    []*chart.File{{Name: "values.yaml", Data: []byte("image:\n  repository: quay.io/org/side\n  tag: \"" + tag + "\"\n")}},
		}
	}
	chartrepotest.PushOCIChart(t, oci, "charts", sub("0.1.0", "2"))
	parent := gateChart(false)
	parent.Metadata.Dependencies = []*chart.Dependency{{Name: "sub", Version: "0.1.x", Repository: "oci://" + oci.Host + "/charts"}}
	w := newGateWorld(t, parent, gateApp, gateSide, "quay.io/org/side:3")
	opts := w.options(t)
	opts.InsecureRegistry = append(opts.InsecureRegistry, oci.Host)

	cold := quickRun(t, opts)
	if len(cold.Dependencies) != 1 || cold.Dependencies[0].State != stages.DepFetched || cold.Dependencies[0].Version != "0.1.0" {
		t.Fatalf("cold run dependencies %+v, want sub 0.1.0 fetched", cold.Dependencies)
	}
	again := quickRun(t, opts)
	checkCacheUse(t, again, RunCacheHit)
	if !loaded(again) {
		t.Error("a chart with a fetched dependency was not loaded again: a newer dependency would be missed")
	}

	chartrepotest.PushOCIChart(t, oci, "charts", sub("0.1.1", "3"))
	opts.OverwriteDigest = true // the same chart version now packs another subchart
	newer := quickRun(t, opts)
	if newer.RunCache != RunCacheMiss || len(newer.Dependencies) != 1 || newer.Dependencies[0].Version != "0.1.1" {
		t.Fatalf("after sub 0.1.1: run cache %q, dependencies %+v; want a miss with sub 0.1.1", newer.RunCache, newer.Dependencies)
	}
	found := false
	for _, img := range newer.Images {
		found = found || img.Source == "quay.io/org/side:3"
	}
	if !found {
		t.Errorf("the newer dependency's image was not mirrored: %+v", newer.Images)
	}
}
