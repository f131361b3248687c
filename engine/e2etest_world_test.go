package engine

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// e2eWorld is everything an end-to-end run reads from, all in process: a source registry
// holding synthetic multi-arch images at every reference the charts render (reached through
// registry mirrors, as with a pull-through cache), the addons' HTTP chart repository, and a
// second HTTP repository standing in for every upstream repository the charts' Chart.yaml
// dependencies name (reached through repository mirrors).
type e2eWorld struct {
	src *registrytest.Registry
	// charts serves the addons' charts packaged as `helm package` does (.helmignore honoured).
	charts *chartrepotest.HTTPRepo
	// deps serves dependency charts from their raw files (see addDependencies).
	deps *chartrepotest.HTTPRepo
	// ociCharts is where oci:// dependency repositories are mirrored; it holds nothing, so a
	// disabled OCI dependency is dropped without the run reaching the internet.
	ociCharts *registrytest.Registry

	names        []string                       // charts, in order
	dirs         map[string]string              // chart → directory the addon repo packaged
	versions     map[string]string              // chart → version
	renderValues map[string]map[string]any      // chart → its required values (may be nil)
	expected     map[string][]registry.ImageRef // chart → every image its render references
	declared     map[string][]registry.ImageRef // chart → images its annotation names beyond its list
	digests      map[string]string              // seeded reference (name:tag) → index digest
	mirrors      map[string]string              // image registry → mirror on src
	repoMirrors  map[string]string              // dependency repository URL → mirror
	// pinRewrites maps a corpus digest pin to the seeded image's digest (see seed).
	pinRewrites map[string]string
}

// e2eSetup varies a world for failure tests.
type e2eSetup struct {
	// skipSeed lists references ("host/repo:tag") left out of the source registry.
	skipSeed []string
	// keepPins serves charts with their published digest pins, which the synthetic images
	// seeded under the tag cannot match.
	keepPins bool
}

// newE2EWorld serves the named corpus charts, every image seeded.
func newE2EWorld(t *testing.T, names []string) *e2eWorld {
	t.Helper()
	return newE2EWorldWith(t, names, e2eSetup{})
}

// newE2EWorldWith serves the named corpus charts as setup says.
func newE2EWorldWith(t *testing.T, names []string, setup e2eSetup) *e2eWorld {
	t.Helper()
	w := &e2eWorld{
		src: registrytest.New(t), ociCharts: registrytest.New(t),
		charts: chartrepotest.NewHTTPRepo(t), deps: chartrepotest.NewHTTPRepo(t),
		names: names, dirs: map[string]string{}, versions: map[string]string{},
		renderValues: map[string]map[string]any{}, expected: map[string][]registry.ImageRef{},
		declared: map[string][]registry.ImageRef{},
		digests:  map[string]string{}, mirrors: map[string]string{}, repoMirrors: map[string]string{},
		pinRewrites: map[string]string{},
	}
	skip := map[string]bool{}
	for _, s := range setup.skipSeed {
		skip[s] = true
	}
	for _, n := range names {
		w.renderValues[n] = corpusRenderValues(t, n)
		w.declared[n] = corpusDeclaredImages(t, n)
		for _, ref := range append(corpusExpectedImages(t, n), w.declared[n]...) {
			w.mirrors[ref.Registry] = w.src.Host + "/" + ref.Registry
			key := ref.Name() + ":" + ref.Tag
			if _, ok := w.digests[key]; !ok && !skip[key] {
				w.digests[key] = seedImage(t, w.src.Host, ref)
			}
			if ref.Digest != "" && w.digests[key] != "" && !setup.keepPins {
				w.pinRewrites[ref.Digest] = w.digests[key]
				ref.Digest = w.digests[key]
			}
			w.expected[n] = append(w.expected[n], ref)
		}
	}
	for _, n := range names {
		w.dirs[n] = chartrepotest.Corpus(t, n)
		if !setup.keepPins {
			w.dirs[n] = w.chartDir(t, n)
		}
		ch, err := loader.LoadDir(w.dirs[n])
		if err != nil {
			t.Fatalf("load corpus chart %s: %v", n, err)
		}
		w.versions[n] = ch.Metadata.Version
		w.charts.AddChartDir(t, w.dirs[n])
		w.addDependencies(t, ch)
	}
	return w
}

// chartDir is the corpus chart itself, or, when it pins images by digest, a copy whose pins
// name the seeded images. Synthetic content cannot reproduce a published digest; replacing
// the pin (and only it) keeps the chart's shape, so the run still copies by digest, keeps the
// pin through the rewrite and must land the very digest the chart names.
func (w *e2eWorld) chartDir(t *testing.T, n string) string {
	t.Helper()
	dir := chartrepotest.Corpus(t, n)
	var pins []string
	for _, ref := range corpusExpectedImages(t, n) {
		if ref.Digest != "" {
			pins = append(pins, ref.Digest)
		}
	}
	if len(pins) == 0 {
		return dir
	}
	out := filepath.Join(t.TempDir(), n)
	if err := os.CopyFS(out, os.DirFS(dir)); err != nil {
		t.Fatalf("copy chart %s: %v", n, err)
	}
	found := map[string]bool{}
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := string(data)
		for _, pin := range pins {
			if strings.Contains(s, pin) {
				found[pin] = true
				s = strings.ReplaceAll(s, pin, w.pinRewrites[pin])
			}
		}
		return os.WriteFile(p, []byte(s), 0o644)
	})
	if err != nil {
		t.Fatalf("rewrite pins of %s: %v", n, err)
	}
	for _, pin := range pins {
		if !found[pin] || w.pinRewrites[pin] == "" {
			t.Fatalf("chart %s: digest pin %s not found in its files (or not seeded)", n, pin)
		}
	}
	return out
}

// addDependencies mirrors every repository ch's Chart.yaml dependencies name: http(s) ones
// to the deps repository, which serves the corpus's copy of each dependency missing from the
// chart's charts/ (top-level corpus chart or one vendored in another); oci:// ones to an
// empty OCI location. Dependency charts are packaged from their raw files: the corpus's
// expected lists were rendered with the subcharts unpacked in place, where a subchart's own
// .helmignore (grafana's drops tests/, holding its test hook) does not apply.
func (w *e2eWorld) addDependencies(t *testing.T, ch *chart.Chart) {
	t.Helper()
	have := map[string]bool{}
	for _, sub := range ch.Dependencies() {
		have[sub.Name()] = true
	}
	for _, dep := range ch.Metadata.Dependencies {
		switch {
		case strings.HasPrefix(dep.Repository, "oci://"):
			w.repoMirrors[dep.Repository] = "oci://" + w.ociCharts.Host + "/unavailable"
			continue
		case strings.HasPrefix(dep.Repository, "http"):
			w.repoMirrors[strings.TrimRight(dep.Repository, "/")] = w.deps.URL
		default:
			continue
		}
		if have[dep.Name] {
			continue
		}
		dir := findCorpusChart(t, dep.Name)
		if dir == "" {
			continue // not in the corpus: the run must cope (a disabled one is dropped)
		}
		sub := loadRawChart(t, dir)
		key := "/" + sub.Name() + "-" + sub.Metadata.Version + ".tgz"
		if !containsPath(w.deps.ArchivePaths(), key) {
			w.deps.AddChart(t, sub)
		}
	}
}

func containsPath(paths []string, p string) bool {
	for _, q := range paths {
		if q == p {
			return true
		}
	}
	return false
}

// findCorpusChart finds a chart named n in the corpus: top level, or vendored in another.
func findCorpusChart(t *testing.T, n string) string {
	t.Helper()
	root := chartrepotest.CorpusDir(t)
	if _, err := os.Stat(filepath.Join(root, n, "Chart.yaml")); err == nil {
		return filepath.Join(root, n)
	}
	matches, _ := filepath.Glob(filepath.Join(root, "*", "charts", n, "Chart.yaml"))
	sort.Strings(matches)
	if len(matches) == 0 {
		return ""
	}
	return filepath.Dir(matches[0])
}

// loadRawChart loads every file of a chart directory, ignoring .helmignore.
func loadRawChart(t *testing.T, dir string) *chart.Chart {
	t.Helper()
	var files []*loader.BufferedFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files = append(files, &loader.BufferedFile{Name: filepath.ToSlash(rel), Data: data})
		return nil
	})
	if err != nil {
		t.Fatalf("read chart %s: %v", dir, err)
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		t.Fatalf("load chart %s: %v", dir, err)
	}
	return ch
}

// addons is one addon per chart, released as the chart in namespace "ns" (as the corpus
// lists were rendered), from the addons' repository at the served version.
func (w *e2eWorld) addons() []config.Addon {
	var out []config.Addon
	for _, n := range w.names {
		out = append(out, config.Addon{Chart: n, Repository: w.charts.URL, Version: w.versions[n], Release: n,
			Namespace: "ns", Source: config.Position{File: "e2e.yaml", Line: len(out) + 1}})
	}
	return out
}

// overrides are the charts' required values, as chart-overrides.yaml would give them.
func (w *e2eWorld) overrides() config.Overrides {
	ov := config.Overrides{}
	for n, v := range w.renderValues {
		if v != nil {
			ov[n] = v
		}
	}
	return ov
}

// options is a sync of every chart into an OCI registry, output under out.
func (w *e2eWorld) options(dest, out string) Options {
	return Options{
		Addons: w.addons(), Overrides: w.overrides(),
		TargetRegistry: dest, TargetPrefix: "mirror", TargetKind: "oci",
		IncludeDeps: true, Platform: registry.PlatformAuto, SkipExisting: true,
		Concurrency: 8, ChartConcurrency: 2,
		RegistryMirrors: w.mirrors, RepoMirrors: w.repoMirrors,
		InsecureRegistry: []string{w.src.Host, w.ociCharts.Host, dest},
		OutputDir:        out, ReportFile: filepath.Join(out, "report.json"),
	}
}

// sourceDigest is the digest seeded for ref (by name and tag).
func (w *e2eWorld) sourceDigest(ref registry.ImageRef) string {
	return w.digests[ref.Name()+":"+ref.Tag]
}

// What one seeded image holds: an index and two platform manifests; per platform two
// layers and a config blob.
const (
	seededManifests = 3
	seededBlobs     = 6
)

// seedImage pushes a small synthetic linux/amd64 + linux/arm64 index where the mirror
// serves ref (by tag), and returns the index digest.
func seedImage(t *testing.T, host string, ref registry.ImageRef) string {
	t.Helper()
	tag, err := name.NewTag(fmt.Sprintf("%s/%s/%s:%s", host, ref.Registry, ref.Repository, ref.Tag), name.Insecure)
	if err != nil {
		t.Fatalf("seed %s: %v", ref, err)
	}
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(2048, 2)
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx := mutate.AppendManifests(empty.Index, adds...)
	if err := remote.WriteIndex(tag, idx, remote.WithContext(context.Background())); err != nil {
		t.Fatalf("seed %s: %v", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// corpusExpectedImages reads NAME.images.txt: every reference the chart's render produces.
func corpusExpectedImages(t *testing.T, n string) []registry.ImageRef {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chartrepotest.CorpusDir(t), n+".images.txt"))
	if err != nil {
		t.Fatalf("corpus images of %s: %v", n, err)
	}
	var out []registry.ImageRef
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		ref, err := registry.ParseImageRef(line)
		if err != nil {
			t.Fatalf("corpus images of %s: %v", n, err)
		}
		out = append(out, ref)
	}
	return out
}

// corpusDeclaredImages are the images the chart's artifacthub.io/images annotation names
// beyond its corpus list: ones its render passes as bare references in arguments
// (consul's dataplane) and ones it does not use (consul's envoy). A run mirrors them too.
func corpusDeclaredImages(t *testing.T, n string) []registry.ImageRef {
	t.Helper()
	ch, err := loader.LoadDir(filepath.Join(chartrepotest.CorpusDir(t), n))
	if err != nil {
		t.Fatalf("load corpus chart %s: %v", n, err)
	}
	listed := map[string]bool{}
	for _, ref := range corpusExpectedImages(t, n) {
		listed[ref.Name()+":"+ref.Tag] = true
	}
	var entries []struct {
		Image string `json:"image"`
	}
	if raw := ch.Metadata.Annotations["artifacthub.io/images"]; raw != "" {
		if err := sigsyaml.Unmarshal([]byte(raw), &entries); err != nil {
			t.Fatalf("corpus chart %s: annotation: %v", n, err)
		}
	}
	var out []registry.ImageRef
	for _, e := range entries {
		ref, err := registry.ParseImageRef(e.Image)
		if err != nil || listed[ref.Name()+":"+ref.Tag] {
			continue
		}
		listed[ref.Name()+":"+ref.Tag] = true
		out = append(out, ref)
	}
	return out
}

// corpusRenderValues reads NAME.render-values.yaml, nil when the chart needs none.
func corpusRenderValues(t *testing.T, n string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chartrepotest.CorpusDir(t), n+".render-values.yaml"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]any{}
	if err := sigsyaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("render values of %s: %v", n, err)
	}
	return v
}

// corpusNames lists every top-level chart of the corpus.
func corpusNames(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(chartrepotest.CorpusDir(t))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}
