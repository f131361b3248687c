package stages

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// TestCorpusResolveFetchDependencies runs resolve → fetch → dependencies for every corpus
// chart, from an HTTP repository and from an OCI registry, all charts at once, and checks
// that Helm would accept each resulting chart.
func TestCorpusResolveFetchDependencies(t *testing.T) {
	corpus := chartrepotest.CorpusDir(t)
	entries, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	var names, dirs []string
	versions := map[string]string{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(corpus, e.Name())
		ch, err := loader.LoadDir(dir)
		if err != nil {
			t.Fatalf("corpus %s: %v", e.Name(), err)
		}
		names, dirs = append(names, e.Name()), append(dirs, dir)
		versions[e.Name()] = ch.Metadata.Version
	}
	// The mirror also serves the dependencies kube-prometheus-stack does not vendor.
	httpRepo := chartrepotest.NewHTTPRepo(t, append(dirs,
		filepath.Join(corpus, "prometheus/charts/kube-state-metrics"),
		filepath.Join(corpus, "prometheus/charts/prometheus-node-exporter"))...)
	reg := registrytest.New(t)
	chartrepotest.PushOCI(t, reg, "corpus", dirs...)

	mirrors := map[string]string{
		"https://prometheus-community.github.io/helm-charts": httpRepo.URL,
		"https://grafana-community.github.io/helm-charts":    httpRepo.URL,
		"https://dandydeveloper.github.io/charts":            closedURL(t),
		"oci://ghcr.io/external-secrets/charts":              "oci://" + reg.Host + "/nothing-here",
	}
	for _, src := range []struct{ kind, repo string }{{"http", httpRepo.URL}, {"oci", "oci://" + reg.Host + "/corpus"}} {
		t.Run(src.kind, func(t *testing.T) {
			httpRepo.Reset()
			r := newTestResolver(t, ResolverOptions{RepoMirrors: mirrors})
			f := newTestFetcher(t, t.TempDir())
			var mu sync.Mutex
			graph := map[string][]Dependency{}
			g, ctx := errgroup.WithContext(context.Background())
			g.SetLimit(runtime.NumCPU())
			start := time.Now()
			for _, name := range names {
				g.Go(func() error {
					rc, err := r.Resolve(ctx, ChartRef{Repository: src.repo, Name: name, Constraint: versions[name]}, ResolveOptions{})
					if err != nil {
						return err
					}
					fc, err := f.Fetch(ctx, rc)
					if err != nil {
						return err
					}
					deps, err := ResolveDependencies(ctx, fc.Chart, DependencyOptions{Include: true, Resolver: r, Fetcher: f})
					if err != nil {
						return err
					}
					if err := action.CheckDependencies(fc.Chart, fc.Chart.Metadata.Dependencies); err != nil {
						return fmt.Errorf("%s: Helm would refuse it: %w", name, err)
					}
					if fc.Chart.Name() != name || fc.Chart.Metadata.Version != versions[name] {
						return fmt.Errorf("%s: fetched %s %s", name, fc.Chart.Name(), fc.Chart.Metadata.Version)
					}
					mu.Lock()
					graph[name] = deps
					mu.Unlock()
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(start)
			t.Logf("%d charts resolved, fetched and completed in %v (%.1f charts/s)", len(names), elapsed.Round(time.Millisecond),
				float64(len(names))/elapsed.Seconds())
			var lines []string
			for name, deps := range graph {
				for _, d := range deps {
					lines = append(lines, fmt.Sprintf("%-22s %-28s %-9s %-8s %s", name, d.Name, d.Version, d.State, d.Reason))
				}
			}
			sort.Strings(lines)
			t.Logf("dependency graph:\n%s", strings.Join(lines, "\n"))

			state := func(chartName, dep string) string {
				d, _ := depByName(graph[chartName], dep)
				return d.State
			}
			for _, c := range []struct{ chart, dep, want string }{
				{"argo-cd", "redis-ha", DepDropped},
				{"external-secrets", "bitwarden-sdk-server", DepDropped},
				{"kube-prometheus-stack", "grafana", DepFetched},
				{"kube-prometheus-stack", "kube-state-metrics", DepFetched},
				{"kube-prometheus-stack", "crds", DepVendored},
				{"kube-prometheus-stack", "prometheus-windows-exporter", DepDropped},
				{"prometheus", "alertmanager", DepVendored},
			} {
				if got := state(c.chart, c.dep); got != c.want {
					t.Errorf("%s → %s: %q, want %q", c.chart, c.dep, got, c.want)
				}
			}
			if n := httpRepo.Count("/index.yaml"); n != 1 {
				t.Errorf("index.yaml fetched %d times in the run, want 1", n)
			}
		})
	}
}
