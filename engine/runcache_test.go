package engine

import (
	"context"
	"os"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages"
)

// runCacheWorld is a synced world: three corpus charts mirrored once into dst.
type runCacheWorld struct {
	w    *e2eWorld
	dst  *registrytest.Registry
	opts Options
	cold *Report
}

func newRunCacheWorld(t *testing.T) *runCacheWorld {
	t.Helper()
	w := newE2EWorld(t, []string{"alertmanager", "metrics-server", "external-dns"})
	dst := registrytest.New(t)
	opts := w.options(dst.Host, t.TempDir())
	rep, err := runChecked(t, context.Background(), opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	checkAddonsSucceeded(t, rep)
	for _, a := range rep.Addons {
		if a.RunCache != RunCacheMiss || a.Timings["render"] == 0 {
			t.Errorf("cold run, %s: run cache %q, render timing %v: want a miss and a render", a.Addon, a.RunCache, a.Timings["render"])
		}
	}
	return &runCacheWorld{w: w, dst: dst, opts: opts, cold: rep}
}

// rerun runs again with opts, counting requests from zero; logs at Warn and above are kept.
func (rw *runCacheWorld) rerun(t *testing.T, opts Options) (*Report, *observer.ObservedLogs) {
	t.Helper()
	rw.w.src.Reset()
	rw.w.charts.Reset()
	rw.w.deps.Reset()
	rw.dst.Reset()
	core, logs := observer.New(zapcore.WarnLevel)
	rep, err := runChecked(t, context.Background(), opts, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	checkAddonsSucceeded(t, rep)
	return rep, logs
}

// checkCacheUse asserts what the run cache spared an addon: want is hit (no render, no
// rewrite), images (no render; rewritten and repacked) or miss (rendered).
func checkCacheUse(t *testing.T, a *AddonReport, want string) {
	t.Helper()
	if a.RunCache != want {
		t.Errorf("%s: run cache %q, want %q", a.Addon, a.RunCache, want)
	}
	_, rendered := a.Timings["render"]
	_, rewritten := a.Timings["rewrite"]
	if rendered != (want == RunCacheMiss) || rewritten != (want != RunCacheHit) {
		t.Errorf("%s (%s): rendered %t, rewrote %t; timings %v", a.Addon, want, rendered, rewritten, a.Timings)
	}
}

// TestRunCacheNoOpRerun: a rerun with nothing changed renders nothing, rewrites nothing,
// sends no request to the source registry and downloads no chart archive nor index, sends at most one
// request per image and one per chart to the destination, and reports what the first run
// did (images with where they were found, archive, digests, overrides).
func TestRunCacheNoOpRerun(t *testing.T) {
	rw := newRunCacheWorld(t)
	rep, logs := rw.rerun(t, rw.opts)
	// The source is asked only whether something new refers to the images (--referrers
	// all): tag listings, HEADs of sha256-<hex> tags and referrers API GETs, never a pull.
	if n := len(nonDiscovery(rw.w.src.Requests())); n != 0 {
		t.Errorf("rerun sent %d requests to the source registry besides referrer discovery: %v", n, nonDiscovery(rw.w.src.Requests()))
	}
	if n := rw.w.charts.ArchiveRequests() + rw.w.deps.ArchiveRequests(); n != 0 {
		t.Errorf("rerun downloaded %d chart archives", n)
	}
	// The index is asked for conditionally (kept under {output}/.cache/indexes) and not
	// downloaded again.
	if n, nm := rw.w.charts.Count("/index.yaml"), rw.w.charts.NotModified("/index.yaml"); n == 0 || nm != n {
		t.Errorf("rerun: %d index.yaml requests, %d answered 304 Not Modified; want all", n, nm)
	}
	perRepo := map[string]int{}
	for _, q := range rw.dst.Requests() {
		perRepo[q.Repository]++
	}
	images := map[string]bool{}
	for i, a := range rep.Addons {
		checkCacheUse(t, a, RunCacheHit)
		if a.ChartResult != "skipped-same-digest" {
			t.Errorf("%s: chart %s, want skipped-same-digest", a.Addon, a.ChartResult)
		}
		if n := perRepo[a.Chart]; n > 1 {
			t.Errorf("%s: %d destination requests for the chart, want at most 1", a.Addon, n)
		}
		c := rw.cold.Addons[i]
		if a.PackagedDigest != c.PackagedDigest || a.ChartArchive != c.ChartArchive || a.ConsumerOverrides != c.ConsumerOverrides ||
			a.ChartRef != c.ChartRef || len(a.Images) != len(c.Images) || len(a.PublicImages) != len(c.PublicImages) {
			t.Errorf("%s: the rerun reports %+v, the first run %+v", a.Addon, a, c)
		}
		for j, img := range a.Images {
			images[img.Destination] = true
			if img.Source != c.Images[j].Source || len(img.Where) == 0 || img.Where[0] != c.Images[j].Where[0] {
				t.Errorf("%s: image %d is %s at %v, was %s at %v", a.Addon, j, img.Source, img.Where, c.Images[j].Source, c.Images[j].Where)
			}
		}
	}
	for repo, n := range perRepo {
		if strings.HasPrefix(repo, "mirror/") && n > 1 {
			t.Errorf("%d destination requests for image repository %s", n, repo)
		}
	}
	if n, max := len(rw.dst.Requests()), len(images)+len(rep.Addons); n > max {
		t.Errorf("rerun sent %d destination requests, want at most %d (one per image and per chart): %v", n, max, rw.dst.Counts())
	}
	if n := writes(rw.dst.Counts()); n != 0 {
		t.Errorf("rerun wrote to the destination: %v", rw.dst.Counts())
	}
	for _, e := range logs.FilterMessageSnippet("run cache").All() {
		t.Errorf("unexpected log: %s %v", e.Message, e.ContextMap())
	}
}

// TestRunCacheInvalidation: changing an addon's values, or the chart-overrides of its
// chart, renders it again (the others still hit); a deleted or altered archive or consumer
// overrides file is rewritten (no render needed); a corrupt entry is ignored with a warning
// and replaced.
func TestRunCacheInvalidation(t *testing.T) {
	rw := newRunCacheWorld(t)

	values := rw.opts
	values.Addons = append([]config.Addon(nil), rw.opts.Addons...)
	for i := range values.Addons {
		if values.Addons[i].Chart == "metrics-server" {
			values.Addons[i].Values = map[string]any{"podAnnotations": map[string]any{"team": "a"}}
		}
	}
	rep, _ := rw.rerun(t, values)
	checkCacheUse(t, addonReport(t, rep, "metrics-server"), RunCacheMiss)
	checkCacheUse(t, addonReport(t, rep, "alertmanager"), RunCacheHit)
	rep, _ = rw.rerun(t, values) // the new values are now the cached ones
	checkCacheUse(t, addonReport(t, rep, "metrics-server"), RunCacheHit)

	overrides := values
	overrides.Overrides = config.Overrides{}
	for k, v := range rw.opts.Overrides {
		overrides.Overrides[k] = v
	}
	edns := map[string]any{"podLabels": map[string]any{"tier": "infra"}}
	for k, v := range rw.opts.Overrides["external-dns"] {
		edns[k] = v
	}
	overrides.Overrides["external-dns"] = edns
	rep, _ = rw.rerun(t, overrides)
	checkCacheUse(t, addonReport(t, rep, "external-dns"), RunCacheMiss)
	checkCacheUse(t, addonReport(t, rep, "metrics-server"), RunCacheHit)

	am := addonReport(t, rep, "alertmanager")
	if err := os.Remove(am.ChartArchive); err != nil {
		t.Fatal(err)
	}
	rep, _ = rw.rerun(t, overrides)
	again := addonReport(t, rep, "alertmanager")
	checkCacheUse(t, again, RunCacheImages)
	if again.PackagedDigest != am.PackagedDigest || fileDigest(am.ChartArchive) != am.PackagedDigest {
		t.Errorf("the deleted archive was repacked as %s (file %s), want %s", again.PackagedDigest, fileDigest(am.ChartArchive), am.PackagedDigest)
	}

	if err := os.WriteFile(am.ConsumerOverrides, []byte("image:\n  registry: docker.io\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, _ = rw.rerun(t, overrides)
	checkCacheUse(t, addonReport(t, rep, "alertmanager"), RunCacheImages)
	if ov := readOverrides(t, am.ConsumerOverrides); strings.Contains(strings.Join(flatten(ov), " "), "docker.io") {
		t.Errorf("the altered consumer overrides were not rewritten: %v", ov)
	}

	entry := newRunCache(overrides.OutputDir, zap.NewNop()).path(overrides.Addons[0])
	if err := os.WriteFile(entry, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, logs := rw.rerun(t, overrides)
	first := rep.Addons[0]
	checkCacheUse(t, first, RunCacheMiss)
	if n := logs.FilterMessageSnippet("run cache entry corrupt").Len(); n != 1 {
		t.Errorf("%d warnings about the corrupt entry, want 1: %v", n, logs.All())
	}
	rep, _ = rw.rerun(t, overrides)
	checkCacheUse(t, rep.Addons[0], RunCacheHit)
}

// flatten lists every scalar of a values tree as text.
func flatten(v any) []string {
	switch t := v.(type) {
	case map[string]any:
		var out []string
		for _, x := range t {
			out = append(out, flatten(x)...)
		}
		return out
	case []any:
		var out []string
		for _, x := range t {
			out = append(out, flatten(x)...)
		}
		return out
	default:
		if s, ok := v.(string); ok {
			return []string{s}
		}
		return nil
	}
}

// TestRunCacheKey: the key changes with any file of the chart or of a subchart, with the
// values and with the render settings, and is stable otherwise.
func TestRunCacheKey(t *testing.T) {
	c := &runCache{tool: "test"}
	mk := func() *chart.Chart {
		sub := &chart.Chart{Metadata: &chart.Metadata{Name: "sub", Version: "1.0.0", APIVersion: "v2"},
			Templates: []*chart.File{{Name: "templates/d.yaml", Data: []byte("image: a:1")}}}
		ch := &chart.Chart{Metadata: &chart.Metadata{Name: "top", Version: "2.0.0", APIVersion: "v2"},
			Templates: []*chart.File{{Name: "templates/x.yaml", Data: []byte("kind: X")}},
			Values:    map[string]any{"image": map[string]any{"tag": "1"}}}
		ch.AddDependency(sub)
		return ch
	}
	ro := stages.RenderOptions{Release: "r", Namespace: "ns", KubeVersion: "1.33.0"}
	layers := []map[string]any{{"a": 1}}
	key := func(ch *chart.Chart, layers []map[string]any, ro stages.RenderOptions, deps bool) string {
		k, err := c.key(ch, layers, ro, deps)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key(mk(), layers, ro, true)
	if again := key(mk(), []map[string]any{{"a": 1}}, ro, true); again != base {
		t.Fatalf("the same inputs gave two keys: %s, %s", base, again)
	}
	sub := mk()
	sub.Dependencies()[0].Templates[0].Data = []byte("image: a:2")
	tpl := mk()
	tpl.Templates[0].Data = []byte("kind: Y")
	ver := mk()
	ver.Metadata.Version = "2.0.1"
	other := ro
	other.KubeVersion = "1.30.0"
	ns := ro
	ns.Namespace = "other"
	for name, k := range map[string]string{
		"subchart template": key(sub, layers, ro, true),
		"template":          key(tpl, layers, ro, true),
		"chart version":     key(ver, layers, ro, true),
		"values":            key(mk(), []map[string]any{{"a": 2}}, ro, true),
		"kube version":      key(mk(), layers, other, true),
		"namespace":         key(mk(), layers, ns, true),
		"include-deps":      key(mk(), layers, ro, false),
	} {
		if k == base {
			t.Errorf("changing the %s kept the key", name)
		}
	}
	if k, err := (&runCache{tool: "other build"}).key(mk(), layers, ro, true); err != nil || k == base {
		t.Errorf("another build kept the key (%v)", err)
	}
}

// TestRunCacheChartGroup: two releases of one chart share its archive: the first run pushes
// it once, and a rerun spares both the render and the rewrite and pushes nothing.
func TestRunCacheChartGroup(t *testing.T) {
	w := newE2EWorld(t, []string{"metrics-server"})
	dst := registrytest.New(t)
	opts := w.options(dst.Host, t.TempDir())
	second := opts.Addons[0]
	second.Release = "metrics-server-b"
	opts.Addons = append(opts.Addons, second)
	rep, err := runChecked(t, context.Background(), opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	checkAddonsSucceeded(t, rep)
	// One push is one manifest PUT (under the tag).
	if n := chartPushes(dst, "metrics-server"); n != 1 {
		t.Errorf("the shared chart took %d manifest PUTs, want 1 (one push)", n)
	}
	if a, b := rep.Addons[0].ChartResult, rep.Addons[1].ChartResult; a == b {
		t.Errorf("both releases report the chart %s, want one pushed and one skipped", a)
	}
	rw := &runCacheWorld{w: w, dst: dst, opts: opts, cold: rep}
	again, _ := rw.rerun(t, opts)
	for _, a := range again.Addons {
		checkCacheUse(t, a, RunCacheHit)
		if a.ChartResult != "skipped-same-digest" {
			t.Errorf("%s: chart %s on the rerun", a.Addon, a.ChartResult)
		}
	}
	if n := chartPushes(dst, "metrics-server"); n != 0 {
		t.Errorf("the rerun pushed the chart %d times", n)
	}
}
