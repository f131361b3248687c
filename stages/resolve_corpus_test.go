package stages

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/ignore"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// corpusResult is one corpus chart taken through resolve → fetch → dependencies → render →
// extract from one source.
type corpusResult struct {
	chart    *chart.Chart
	layers   []map[string]any
	version  string
	deps     []Dependency
	rendered *Rendered
	found    []FoundImage
	err      error
}

// runCorpus takes every corpus chart through the pipeline from repoURL (the HTTP repository
// or the OCI registry), all charts at once (NumCPU at a time) with one resolver and one
// fetcher for the run, the upstream dependency repositories mirrored onto repoURL, values
// from chart-overrides.yaml. A chart's failure is recorded, the others carry on.
func runCorpus(t *testing.T, srv *chartrepotest.CorpusServer, repoURL string, ov config.Overrides) map[string]*corpusResult {
	t.Helper()
	r := newTestResolver(t, ResolverOptions{RepoMirrors: srv.Mirrors(repoURL)})
	f := newTestFetcher(t, t.TempDir())
	out := map[string]*corpusResult{}
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(runtime.NumCPU())
	for _, c := range srv.Charts {
		g.Go(func() error {
			res := runCorpusChart(context.Background(), r, f, ChartRef{Repository: repoURL, Name: c.Name, Constraint: c.Version}, ov)
			if res.err != nil {
				res.err = fmt.Errorf("%s from %s: %w", c.Name, repoURL, res.err)
			}
			mu.Lock()
			out[c.Name] = res
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	return out
}

func runCorpusChart(ctx context.Context, r *Resolver, f *Fetcher, ref ChartRef, ov config.Overrides) *corpusResult {
	res := &corpusResult{}
	if v := ov[ref.Name]; len(v) > 0 {
		res.layers = []map[string]any{v}
	}
	rc, err := r.Resolve(ctx, ref, ResolveOptions{})
	if err != nil {
		res.err = err
		return res
	}
	res.version = rc.Version
	fc, err := f.Fetch(ctx, rc)
	if err != nil {
		res.err = err
		return res
	}
	res.chart = fc.Chart
	merged := map[string]any{}
	for _, l := range res.layers {
		merged = mergeValues(merged, l)
	}
	res.deps, err = ResolveDependencies(ctx, fc.Chart, DependencyOptions{Include: true, Resolver: r, Fetcher: f, Values: merged})
	if err != nil {
		res.err = err
		return res
	}
	if err := action.CheckDependencies(fc.Chart, fc.Chart.Metadata.Dependencies); err != nil {
		res.err = fmt.Errorf("after the dependencies stage Helm would refuse the chart: %w", err)
		return res
	}
	res.rendered, err = Render(ctx, fc.Chart, RenderOptions{Release: "rel", Namespace: "ns", KubeVersion: "1.33.0", Values: res.layers})
	if err != nil {
		res.err = err
		return res
	}
	res.found, res.err = Extract(res.rendered, fc.Chart)
	return res
}

// helmignoredImages explains references a chart served by a repository cannot render
// although the corpus lists them. The corpus rendered each parent chart with its
// dependencies unpacked under charts/, where Helm applies only the parent's .helmignore;
// a dependency fetched from a repository is an archive built by `helm package`, which
// applies the dependency's own .helmignore (grafana's drops tests/, so its test-hook pod
// docker.io/bats/bats is in kube-prometheus-stack's list and in no archive of grafana).
// For each fetched dependency it finds the template files its .helmignore drops in the
// corpus directory it was served from, renders the chart again with them put back, and
// returns the references that only that render yields, with the template that produced
// each. It changes res.chart (the test is done with it).
func helmignoredImages(t *testing.T, srv *chartrepotest.CorpusServer, res *corpusResult) map[registry.ImageRef]string {
	t.Helper()
	restored := 0
	for _, d := range res.deps {
		if d.State != DepFetched {
			continue
		}
		sub := subchartAt(res.chart, strings.TrimPrefix(d.Parent+"/"+d.Name, res.chart.Name()+"/"))
		if sub == nil {
			t.Fatalf("fetched dependency %s/%s not in the chart", d.Parent, d.Name)
		}
		dir, ok := srv.Served[sub.Name()+" "+sub.Metadata.Version]
		if !ok {
			continue
		}
		files := ignoredTemplates(t, dir)
		for _, f := range files {
			if slices.ContainsFunc(sub.Templates, func(x *chart.File) bool { return x.Name == f.Name }) {
				t.Fatalf("%s: %s is ignored by its .helmignore yet in the archive", sub.Name(), f.Name)
			}
		}
		sub.Templates = append(slices.Clip(sub.Templates), files...)
		restored += len(files)
	}
	if restored == 0 {
		return nil
	}
	r, err := Render(context.Background(), res.chart, RenderOptions{Release: "rel", Namespace: "ns", KubeVersion: "1.33.0", Values: res.layers})
	if err != nil {
		t.Fatalf("render with helmignored templates restored: %v", err)
	}
	found, err := Extract(r, res.chart)
	if err != nil {
		t.Fatal(err)
	}
	had := map[registry.ImageRef]bool{}
	for _, f := range res.found {
		had[f.Ref] = true
	}
	out := map[registry.ImageRef]string{}
	for _, f := range found {
		if !had[f.Ref] && len(f.Where) > 0 {
			out[f.Ref] = f.Where[0].Template
		}
	}
	return out
}

// subchartAt walks a "a/b" path of subchart names below ch.
func subchartAt(ch *chart.Chart, path string) *chart.Chart {
	for _, name := range strings.Split(path, "/") {
		if ch = subchart(ch, name); ch == nil {
			return nil
		}
	}
	return ch
}

// ignoredTemplates reads the files under dir/templates that dir's .helmignore (with Helm's
// defaults) excludes from a package, as `helm package` / loader.LoadDir decide.
func ignoredTemplates(t *testing.T, dir string) []*chart.File {
	t.Helper()
	rules := ignore.Empty()
	if _, err := os.Stat(filepath.Join(dir, ignore.HelmIgnore)); err == nil {
		if rules, err = ignore.ParseFile(filepath.Join(dir, ignore.HelmIgnore)); err != nil {
			t.Fatal(err)
		}
	}
	rules.AddDefaults()
	var out []*chart.File
	err := filepath.WalkDir(filepath.Join(dir, "templates"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if !ignoredPath(rules, dir, filepath.ToSlash(rel)) {
			return nil
		}
		data, err := os.ReadFile(p)
		out = append(out, &chart.File{Name: filepath.ToSlash(rel), Data: data})
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// ignoredPath applies the rules to the file and to each directory above it, as LoadDir
// skips an ignored directory whole.
func ignoredPath(rules *ignore.Rules, root, rel string) bool {
	parts := strings.Split(rel, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(p)))
		if err == nil && rules.Ignore(p, fi) {
			return true
		}
	}
	return false
}
