package stages

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

func newTestFetcher(t *testing.T, dir string) *Fetcher {
	t.Helper()
	f, err := NewFetcher(FetcherOptions{CacheDir: dir, HTTPClient: loopbackClient(),
		Registry: testRegistryClient(t, registry.ClientOptions{}, "127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFetchHTTPVerifiesAndCaches(t *testing.T) {
	repo := chartrepotest.NewHTTPRepo(t, chartrepotest.Corpus(t, "grafana"))
	cache := t.TempDir()
	ctx := context.Background()
	rc, err := newTestResolver(t, ResolverOptions{}).Resolve(ctx, ChartRef{Repository: repo.URL, Name: "grafana", Constraint: "12.11.1"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := newTestFetcher(t, cache).Fetch(ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(fc.ArchivePath)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if fc.Digest != "sha256:"+hex.EncodeToString(sum[:]) || fc.Digest != "sha256:"+rc.Digest {
		t.Errorf("digest %s, archive is %x, index says %s", fc.Digest, sum, rc.Digest)
	}
	if fc.Chart.Name() != "grafana" || fc.Chart.Metadata.Version != "12.11.1" || filepath.Dir(fc.ArchivePath) != cache {
		t.Errorf("fetched %s %s at %s", fc.Chart.Name(), fc.Chart.Metadata.Version, fc.ArchivePath)
	}
	if !strings.Contains(filepath.Base(fc.ArchivePath), "grafana-12.11.1-"+rc.Digest[:16]) {
		t.Errorf("cache name %s is not keyed by name, version and digest", fc.ArchivePath)
	}
	if n := repo.ArchiveRequests(); n != 1 {
		t.Errorf("archive requests: %d", n)
	}

	// A rerun: new resolver, new fetcher, same cache directory. Nothing is downloaded.
	repo.Reset()
	rc2, err := newTestResolver(t, ResolverOptions{}).Resolve(ctx, ChartRef{Repository: repo.URL, Name: "grafana"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fc2, err := newTestFetcher(t, cache).Fetch(ctx, rc2)
	if err != nil {
		t.Fatal(err)
	}
	if n := repo.ArchiveRequests(); n != 0 {
		t.Errorf("rerun made %d archive requests, want 0", n)
	}
	if fc2.Chart == fc.Chart || fc2.ArchivePath != fc.ArchivePath {
		t.Errorf("rerun shares the chart object or changed path")
	}
}

func TestFetchHTTPConcurrentFetchesShareOneDownload(t *testing.T) {
	repo := chartrepotest.NewHTTPRepo(t, chartrepotest.Corpus(t, "keda"))
	ctx := context.Background()
	rc, err := newTestResolver(t, ResolverOptions{}).Resolve(ctx, ChartRef{Repository: repo.URL, Name: "keda"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := newTestFetcher(t, t.TempDir())
	release, arrived := repo.Hold()
	charts := make(chan *chart.Chart, 8)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			fc, err := f.Fetch(ctx, rc)
			errs <- err
			charts <- fc.Chart
		}()
	}
	<-arrived
	release()
	seen := map[*chart.Chart]bool{}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		seen[<-charts] = true
	}
	if n := repo.ArchiveRequests(); n != 1 {
		t.Errorf("8 concurrent fetches made %d archive requests, want 1", n)
	}
	if len(seen) != 8 {
		t.Errorf("fetches share chart objects: %d distinct of 8", len(seen))
	}
}

func TestFetchHTTPDigestMismatch(t *testing.T) {
	repo := chartrepotest.NewHTTPRepo(t, chartrepotest.Corpus(t, "keda"), chartrepotest.Corpus(t, "metrics-server"))
	other, err := os.ReadFile(mustPackage(t, "metrics-server"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rc, err := newTestResolver(t, ResolverOptions{}).Resolve(ctx, ChartRef{Repository: repo.URL, Name: "keda"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	repo.ReplaceArchive("keda-"+rc.Version+".tgz", other)
	cache := t.TempDir()
	_, err = newTestFetcher(t, cache).Fetch(ctx, rc)
	if err == nil || !strings.Contains(err.Error(), "digest mismatch") || !strings.Contains(err.Error(), `chart "keda"`) {
		t.Fatalf("got %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(cache, "*")); len(left) != 0 {
		t.Errorf("a refused archive stayed in the cache: %v", left)
	}
}

func mustPackage(t *testing.T, name string) string {
	p, _ := chartrepotest.Package(t, chartrepotest.Corpus(t, name))
	return p
}

func TestFetchHTTPBadArchives(t *testing.T) {
	md := &chart.Metadata{APIVersion: "v2", Name: "demo", Version: "1.0.0"}
	good := tarEntry{name: "demo/Chart.yaml", body: goodChartYAML}
	cases := []struct {
		name string
		data func(*testing.T) []byte
		want error
		msg  string
	}{
		{"not gzip", func(*testing.T) []byte { return []byte("<html>Moved</html>") }, nil, "not a gzip-compressed chart archive"},
		{"dot dot", func(t *testing.T) []byte { return makeTgz(t, good, tarEntry{name: "demo/../../x", body: "x"}) }, ErrUnsafeArchive, "parent directory"},
		{"absolute", func(t *testing.T) []byte { return makeTgz(t, good, tarEntry{name: "/tmp/x", body: "x"}) }, ErrUnsafeArchive, "absolute"},
		{"symlink", func(t *testing.T) []byte {
			return makeTgz(t, good, tarEntry{name: "demo/values.yaml", typ: tar.TypeSymlink, link: "../../etc/shadow"})
		}, ErrUnsafeArchive, "link"},
		{"bomb", func(t *testing.T) []byte { return makeTgz(t, good, tarEntry{name: "demo/files/z", size: 51 << 20}) }, ErrArchiveTooLarge, "52428800"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := chartrepotest.NewHTTPRepo(t)
			repo.AddArchive(t, md, "demo-1.0.0.tgz", c.data(t))
			ctx := context.Background()
			rc, err := newTestResolver(t, ResolverOptions{}).Resolve(ctx, ChartRef{Repository: repo.URL, Name: "demo"}, ResolveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = newTestFetcher(t, t.TempDir()).Fetch(ctx, rc)
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			for _, w := range []string{c.msg, `chart "demo" 1.0.0`, repo.URL} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestFetchHTTPArchive404(t *testing.T) {
	repo := chartrepotest.NewHTTPRepo(t, chartrepotest.Corpus(t, "keda"))
	ctx := context.Background()
	rc, err := newTestResolver(t, ResolverOptions{}).Resolve(ctx, ChartRef{Repository: repo.URL, Name: "keda"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	repo.Fail("/keda-"+rc.Version+".tgz", 404)
	_, err = newTestFetcher(t, t.TempDir()).Fetch(ctx, rc)
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), `chart "keda"`) {
		t.Fatalf("got %v", err)
	}
}

func TestFetchOCIVerifiesAndCaches(t *testing.T) {
	reg := registrytest.New(t)
	chartrepotest.PushOCI(t, reg, "mirror/charts", chartrepotest.Corpus(t, "aws-load-balancer-controller"))
	ctx := context.Background()
	cache := t.TempDir()
	ref := ChartRef{Repository: "oci://" + reg.Host + "/mirror/charts", Name: "aws-load-balancer-controller"}
	rc, err := newTestResolver(t, ResolverOptions{}).Resolve(ctx, ref, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := newTestFetcher(t, cache).Fetch(ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	if fc.Chart.Name() != "aws-load-balancer-controller" || fc.Chart.Metadata.Version != rc.Version || !strings.HasPrefix(fc.Digest, "sha256:") {
		t.Fatalf("fetched %+v", fc)
	}
	if n := reg.Count(registrytest.BlobGet); n != 1 {
		t.Errorf("blob GETs: %d, want the chart layer only", n)
	}
	reg.Reset()
	fc2, err := newTestFetcher(t, cache).Fetch(ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.Count(registrytest.BlobGet); n != 0 || fc2.Digest != fc.Digest {
		t.Errorf("rerun: %d blob GETs (want 0), digest %s vs %s", n, fc2.Digest, fc.Digest)
	}
	// The cached layer changed on disk: loading it pulls the layer again.
	if err := os.WriteFile(fc.ArchivePath, []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg.Reset()
	fc3, err := newTestFetcher(t, cache).Fetch(ctx, rc)
	if err != nil || fc3.Chart.Name() != "aws-load-balancer-controller" || fc3.Digest != fc.Digest {
		t.Fatalf("after the cache file changed: %+v %v", fc3, err)
	}
	if n := reg.Count(registrytest.BlobGet); n != 1 {
		t.Errorf("a changed cache file: %d blob GETs, want the layer again", n)
	}
	// A tag that is not there.
	rc.OCIRef = reg.Host + "/mirror/charts/aws-load-balancer-controller:0.0.1"
	if _, err := newTestFetcher(t, t.TempDir()).Fetch(ctx, rc); err == nil || !strings.Contains(err.Error(), "aws-load-balancer-controller") {
		t.Errorf("missing tag: %v", err)
	}
}

// A cached archive whose digest the index names is taken without reading it; when it is
// loaded and its bytes are no longer that digest's (changed in the cache), it is removed,
// downloaded again and loaded.
func TestFetchHTTPChangedCacheFileIsDownloadedAgain(t *testing.T) {
	repo := chartrepotest.NewHTTPRepo(t, chartrepotest.Corpus(t, "grafana"))
	cache := t.TempDir()
	ctx := context.Background()
	rc, err := newTestResolver(t, ResolverOptions{}).Resolve(ctx, ChartRef{Repository: repo.URL, Name: "grafana"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := newTestFetcher(t, cache)
	first, err := f.Fetch(ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(first.ArchivePath, []byte("changed in the cache"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo.Reset()
	fc, err := f.FetchArchive(ctx, rc)
	if err != nil || fc.Digest != first.Digest || fc.Chart != nil {
		t.Fatalf("archive: %+v %v", fc, err)
	}
	if n := repo.ArchiveRequests(); n != 0 {
		t.Errorf("taking a cached archive made %d archive requests", n)
	}
	if err := f.Load(ctx, &fc); err != nil {
		t.Fatal(err)
	}
	if n := repo.ArchiveRequests(); n != 1 {
		t.Errorf("a changed cache file was downloaded %d times, want once", n)
	}
	if fc.Chart == nil || fc.Chart.Name() != "grafana" {
		t.Fatalf("loaded %+v", fc.Chart)
	}
	if d, err := FileDigest(fc.ArchivePath); err != nil || d != first.Digest {
		t.Errorf("the cache file is %s (%v), want %s again", d, err, first.Digest)
	}
}
