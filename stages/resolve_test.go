package stages

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// loopbackClient refuses every host but the loopback: tests never reach the internet, and a
// dependency a test forgot to mirror fails loudly instead of going out.
func loopbackClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("test dialled %s: only loopback servers are allowed", addr)
		}
		return dial(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}

func newTestResolver(t *testing.T, opts ResolverOptions) *Resolver {
	t.Helper()
	if opts.HTTPClient == nil {
		opts.HTTPClient = loopbackClient()
	}
	if opts.Registry == nil {
		opts.Registry = testRegistryClient(t, registry.ClientOptions{}, "127.0.0.1")
	}
	r, err := NewResolver(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// closedURL is the URL of a server that no longer listens: an unreachable repository.
func closedURL(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u
}

func TestResolveHTTPVersions(t *testing.T) {
	dir := chartrepotest.Corpus(t, "metrics-server")
	repo := chartrepotest.NewHTTPRepo(t)
	for _, v := range []string{"3.12.0", "3.12.2", "3.13.0", "4.0.0-rc.1"} {
		repo.AddChartVersion(t, dir, v)
	}
	r := newTestResolver(t, ResolverOptions{})
	ctx := context.Background()
	cases := []struct {
		constraint string
		opts       ResolveOptions
		want       string
	}{
		{"3.12.0", ResolveOptions{}, "3.12.0"},
		{"~3.12", ResolveOptions{}, "3.12.2"},
		{">=3.0 <4", ResolveOptions{}, "3.13.0"},
		{"3.12.*", ResolveOptions{}, "3.12.2"},
		{"", ResolveOptions{}, "3.13.0"},
		{"3.12.0", ResolveOptions{Latest: true}, "3.13.0"},
		{"", ResolveOptions{Prerelease: true}, "4.0.0-rc.1"},
	}
	for _, c := range cases {
		rc, err := r.Resolve(ctx, ChartRef{Repository: repo.URL + "/", Name: "metrics-server", Constraint: c.constraint}, c.opts)
		if err != nil {
			t.Fatalf("%q: %v", c.constraint, err)
		}
		if rc.Version != c.want {
			t.Errorf("%q %+v: got %s, want %s", c.constraint, c.opts, rc.Version, c.want)
		}
		wantURL := repo.URL + "/metrics-server-" + c.want + ".tgz"
		if len(rc.URLs) != 1 || rc.URLs[0] != wantURL || len(rc.Digest) != 64 || rc.IsOCI() {
			t.Errorf("%q: resolved %+v, want URL %s and a digest", c.constraint, rc, wantURL)
		}
	}
	if n := repo.Count("/index.yaml"); n != 1 {
		t.Errorf("index.yaml fetched %d times for %d resolutions, want 1", n, len(cases))
	}
}

func TestResolveIndexOncePerRunUnderConcurrency(t *testing.T) {
	c := chartrepotest.Corpus
	repo := chartrepotest.NewHTTPRepo(t, c(t, "grafana"), c(t, "metrics-server"), c(t, "keda"), c(t, "traefik"))
	r := newTestResolver(t, ResolverOptions{})
	release, arrived := repo.Hold()
	names := []string{"grafana", "metrics-server", "keda", "traefik"}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() {
			_, err := r.Resolve(context.Background(), ChartRef{Repository: repo.URL, Name: names[i%len(names)]}, ResolveOptions{})
			errs <- err
		})
	}
	<-arrived // the first index request is at the server and held there
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := repo.Count("/index.yaml"); n != 1 {
		t.Fatalf("index.yaml requested %d times by 32 concurrent resolutions, want 1", n)
	}
}

func TestResolveFailedIndexIsRetried(t *testing.T) {
	repo := chartrepotest.NewHTTPRepo(t, chartrepotest.Corpus(t, "keda"))
	r := newTestResolver(t, ResolverOptions{})
	repo.Fail("/index.yaml", http.StatusInternalServerError)
	ref := ChartRef{Repository: repo.URL, Name: "keda"}
	if _, err := r.Resolve(context.Background(), ref, ResolveOptions{}); err == nil {
		t.Fatal("resolved from a failing repository")
	}
	repo.Fail("/index.yaml", 0)
	if _, err := r.Resolve(context.Background(), ref, ResolveOptions{}); err != nil {
		t.Fatalf("a failed index fetch was remembered: %v", err)
	}
}

func TestResolveBadRepositories(t *testing.T) {
	keda := chartrepotest.Corpus(t, "keda")
	cases := []struct {
		name  string
		setup func(*chartrepotest.HTTPRepo)
		url   func(*chartrepotest.HTTPRepo) string
		want  []string
	}{
		{"404", func(r *chartrepotest.HTTPRepo) { r.Fail("/index.yaml", 404) }, nil, []string{"cannot fetch index.yaml", "404"}},
		{"500", func(r *chartrepotest.HTTPRepo) { r.Fail("/index.yaml", 500) }, nil, []string{"cannot fetch index.yaml", "500"}},
		{"unreachable", nil, func(*chartrepotest.HTTPRepo) string { return closedURL(t) }, []string{"cannot fetch index.yaml", "connection refused"}},
		{"malformed yaml", func(r *chartrepotest.HTTPRepo) { r.SetIndex([]byte("entries: [unclosed\n\t- {")) }, nil, []string{"index.yaml is malformed"}},
		{"html page", func(r *chartrepotest.HTTPRepo) { r.SetIndex([]byte("<html><body>Not a repo</body></html>")) }, nil, []string{"index.yaml is malformed"}},
		{"no apiVersion", func(r *chartrepotest.HTTPRepo) { r.SetIndex([]byte("entries: {}\n")) }, nil, []string{"malformed", "no apiVersion"}},
		{"empty", func(r *chartrepotest.HTTPRepo) { r.SetIndex([]byte("  \n")) }, nil, []string{"malformed", "empty"}},
		{"version not found", nil, nil, []string{"version 1.0.0 not found", "nearest available: 2.20.2 (1 listed)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := chartrepotest.NewHTTPRepo(t, keda)
			if c.setup != nil {
				c.setup(repo)
			}
			u := repo.URL
			if c.url != nil {
				u = c.url(repo)
			}
			r := newTestResolver(t, ResolverOptions{})
			_, err := r.Resolve(context.Background(), ChartRef{Repository: u, Name: "keda", Constraint: "1.0.0"}, ResolveOptions{})
			if err == nil {
				t.Fatal("resolved")
			}
			for _, w := range append(c.want, `"keda"`, u) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestResolveChartNotInIndex(t *testing.T) {
	repo := chartrepotest.NewHTTPRepo(t, chartrepotest.Corpus(t, "keda"))
	r := newTestResolver(t, ResolverOptions{})
	_, err := r.Resolve(context.Background(), ChartRef{Repository: repo.URL, Name: "kedaa"}, ResolveOptions{})
	if err == nil || !strings.Contains(err.Error(), `chart "kedaa" not found in repository `+repo.URL) {
		t.Fatalf("got %v", err)
	}
}

func TestResolveRepoMirrorRewritesRepositoryAndArchiveURLs(t *testing.T) {
	const upstream = "https://charts.example.invalid/stable"
	repo := chartrepotest.NewHTTPRepo(t)
	repo.SetArchiveBase(upstream + "/archives") // the mirror serves a copy of the upstream index
	repo.AddChartDir(t, chartrepotest.Corpus(t, "external-dns"))
	r := newTestResolver(t, ResolverOptions{RepoMirrors: map[string]string{
		upstream + "/":                         repo.URL + "/",
		"https://charts.example.invalid/other": "http://127.0.0.1:1",
	}})
	rc, err := r.Resolve(context.Background(), ChartRef{Repository: upstream, Name: "external-dns"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := repo.URL + "/archives/external-dns-" + rc.Version + ".tgz"
	if rc.Repository != repo.URL || len(rc.URLs) != 1 || rc.URLs[0] != want || rc.Ref.Repository != upstream {
		t.Fatalf("resolved %+v, want repository %s and URL %s", rc, repo.URL, want)
	}
	if repo.Count("/index.yaml") != 1 {
		t.Errorf("mirror index requests: %d", repo.Count("/index.yaml"))
	}
}

func TestResolveBasicAuthPerRepository(t *testing.T) {
	repo := chartrepotest.NewHTTPRepo(t, chartrepotest.Corpus(t, "argo-rollouts"))
	repo.RequireBasicAuth("robot", "s3cr3t-pass")
	ref := ChartRef{Repository: repo.URL, Name: "argo-rollouts"}

	anon := newTestResolver(t, ResolverOptions{})
	_, err := anon.Resolve(context.Background(), ref, ResolveOptions{})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("anonymous: %v", err)
	}
	wrong := newTestResolver(t, ResolverOptions{Credentials: func(u string) (string, string, bool) {
		return "robot", "wrong-pass", u == repo.URL
	}})
	_, err = wrong.Resolve(context.Background(), ref, ResolveOptions{})
	if err == nil || strings.Contains(err.Error(), "wrong-pass") {
		t.Fatalf("wrong password: %v (must fail without echoing the password)", err)
	}
	good := newTestResolver(t, ResolverOptions{Credentials: func(u string) (string, string, bool) {
		return "robot", "s3cr3t-pass", u == repo.URL
	}})
	rc, err := good.Resolve(context.Background(), ref, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFetcher(FetcherOptions{CacheDir: t.TempDir(), HTTPClient: loopbackClient(), Credentials: func(u string) (string, string, bool) {
		return "robot", "s3cr3t-pass", u == repo.URL
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(context.Background(), rc); err != nil {
		t.Fatalf("fetch with basic auth: %v", err)
	}
}

func TestResolveOCITags(t *testing.T) {
	reg := registrytest.New(t)
	ch, err := loader.LoadDir(chartrepotest.Corpus(t, "external-dns"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1.19.0", "1.20.0", "1.20.1+build.7"} {
		ch.Metadata.Version = v
		chartrepotest.PushOCIChart(t, reg, "charts/infra", ch)
	}
	r := newTestResolver(t, ResolverOptions{})
	ctx := context.Background()
	repoURL := "oci://" + reg.Host + "/charts"
	for _, c := range []struct{ constraint, want, tag string }{
		{"1.19.0", "1.19.0", "1.19.0"},
		{"~1.20", "1.20.1+build.7", "1.20.1_build.7"},
		{"", "1.20.1+build.7", "1.20.1_build.7"},
	} {
		rc, err := r.Resolve(ctx, ChartRef{Repository: repoURL, OCINamespace: "infra", Name: "external-dns", Constraint: c.constraint}, ResolveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := reg.Host + "/charts/infra/external-dns:" + c.tag
		if rc.Version != c.want || rc.OCIRef != want || !rc.IsOCI() {
			t.Errorf("%q: got %s %s, want %s %s", c.constraint, rc.Version, rc.OCIRef, c.want, want)
		}
	}
	if n := reg.Count(registrytest.TagsList); n != 1 {
		t.Errorf("tags listed %d times, want once per run", n)
	}
	_, err = r.Resolve(ctx, ChartRef{Repository: repoURL, OCINamespace: "infra", Name: "external-dns", Constraint: "2.0.0"}, ResolveOptions{})
	if err == nil || !strings.Contains(err.Error(), "nearest available: 1.20.1+build.7, 1.20.0, 1.19.0") ||
		!strings.Contains(err.Error(), reg.Host+"/charts/infra/external-dns") {
		t.Errorf("missing OCI version: %v", err)
	}
	_, err = r.Resolve(ctx, ChartRef{Repository: repoURL, Name: "absent"}, ResolveOptions{})
	if err == nil || !strings.Contains(err.Error(), `chart "absent"`) {
		t.Errorf("absent OCI chart: %v", err)
	}
}

func TestResolveRelativeArchiveURLs(t *testing.T) {
	repo := chartrepotest.NewHTTPRepo(t)
	repo.SetArchiveBase(chartrepotest.Relative)
	repo.AddChartDir(t, chartrepotest.Corpus(t, "keda"))
	if !strings.Contains(string(repo.IndexYAML()), "- keda-") {
		t.Fatalf("index does not list a relative URL:\n%s", repo.IndexYAML())
	}
	rc, err := newTestResolver(t, ResolverOptions{}).Resolve(context.Background(), ChartRef{Repository: repo.URL, Name: "keda"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := repo.URL + "/keda-" + rc.Version + ".tgz"; len(rc.URLs) != 1 || rc.URLs[0] != want {
		t.Fatalf("URLs %v, want %s", rc.URLs, want)
	}
}
