package stages

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// addDemoVersion lists demo VERSION in the repository (the resolver never opens archives).
func addDemoVersion(t *testing.T, repo *chartrepotest.HTTPRepo, version string) {
	t.Helper()
	md := &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "demo", Version: version}
	repo.AddArchive(t, md, "demo-"+version+".tgz", []byte("demo archive "+version))
}

// resolveDemo resolves the newest demo with a fresh Resolver (a new run) using cacheDir.
func resolveDemo(t *testing.T, repoURL, cacheDir string, opts ResolverOptions) ResolvedChart {
	t.Helper()
	opts.IndexCacheDir = cacheDir
	r := newTestResolver(t, opts)
	rc, err := r.Resolve(context.Background(), ChartRef{Repository: repoURL, Name: "demo"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// cacheFiles lists the entries of an index cache directory, read.
func cacheFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = string(data)
	}
	return out
}

func TestIndexCacheNotModifiedSkipsDownload(t *testing.T) {
	repo := chartrepotest.NewHTTPRepo(t)
	addDemoVersion(t, repo, "1.0.0")
	addDemoVersion(t, repo, "1.1.0")
	dir := t.TempDir()

	first := resolveDemo(t, repo.URL, dir, ResolverOptions{})
	if first.Version != "1.1.0" || first.Digest == "" || len(first.URLs) != 1 {
		t.Fatalf("first run resolved %+v", first)
	}
	files := cacheFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("cache holds %d entries after the first run, want 1", len(files))
	}
	host := strings.TrimPrefix(repo.URL, "http://")
	for p, data := range files {
		if strings.Contains(p, host) || strings.Contains(data, host+"/index.yaml") {
			t.Errorf("cache entry %s names the index URL", p)
		}
	}

	second := resolveDemo(t, repo.URL, dir, ResolverOptions{})
	if !reflect.DeepEqual(first, second) {
		t.Errorf("rerun resolved %+v, first run %+v", second, first)
	}
	if n, nm := repo.Count("/index.yaml"), repo.NotModified("/index.yaml"); n != 2 || nm != 1 {
		t.Errorf("index requests %d, answered 304: %d; want 2 and 1", n, nm)
	}
}

func TestIndexCacheChangedIndexIsFetched(t *testing.T) {
	repo := chartrepotest.NewHTTPRepo(t)
	addDemoVersion(t, repo, "1.0.0")
	dir := t.TempDir()
	if rc := resolveDemo(t, repo.URL, dir, ResolverOptions{}); rc.Version != "1.0.0" {
		t.Fatalf("first run resolved %s", rc.Version)
	}
	addDemoVersion(t, repo, "1.2.0") // a new index, a new ETag
	rc := resolveDemo(t, repo.URL, dir, ResolverOptions{})
	if rc.Version != "1.2.0" || !strings.HasSuffix(rc.URLs[0], "/demo-1.2.0.tgz") {
		t.Errorf("after the index changed resolved %s %v, want 1.2.0", rc.Version, rc.URLs)
	}
	if nm := repo.NotModified("/index.yaml"); nm != 0 {
		t.Errorf("a changed index was answered 304 %d times", nm)
	}
	// The entry was replaced: the next run gets a 304 and still sees 1.2.0.
	if rc := resolveDemo(t, repo.URL, dir, ResolverOptions{}); rc.Version != "1.2.0" {
		t.Errorf("third run resolved %s, want 1.2.0", rc.Version)
	}
	if nm := repo.NotModified("/index.yaml"); nm != 1 {
		t.Errorf("third run: %d answers 304, want 1", nm)
	}
}

func TestIndexCacheCorruptEntryIsIgnoredAndRepaired(t *testing.T) {
	repo := chartrepotest.NewHTTPRepo(t)
	addDemoVersion(t, repo, "1.0.0")
	dir := t.TempDir()
	first := resolveDemo(t, repo.URL, dir, ResolverOptions{})
	for p := range cacheFiles(t, dir) {
		if err := os.WriteFile(p, []byte(`{"format":1,"etag":"x","index":{"entries":`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if rc := resolveDemo(t, repo.URL, dir, ResolverOptions{}); !reflect.DeepEqual(rc, first) {
		t.Errorf("with a corrupt entry resolved %+v, want %+v", rc, first)
	}
	if n, nm := repo.Count("/index.yaml"), repo.NotModified("/index.yaml"); n != 2 || nm != 0 {
		t.Errorf("corrupt entry: %d index requests, %d answered 304; want a full fetch", n, nm)
	}
	if rc := resolveDemo(t, repo.URL, dir, ResolverOptions{}); !reflect.DeepEqual(rc, first) {
		t.Errorf("after repair resolved %+v, want %+v", rc, first)
	}
	if nm := repo.NotModified("/index.yaml"); nm != 1 {
		t.Errorf("the repaired entry was not used: %d answers 304", nm)
	}
}

func TestIndexCacheThroughMirrorAndRedirect(t *testing.T) {
	repo := chartrepotest.NewHTTPRepo(t)
	addDemoVersion(t, repo, "2.0.0")
	// The mirror redirects index.yaml to the repository (as a front for a CDN does).
	front := httptest.NewServer(http.RedirectHandler(repo.URL+"/index.yaml", http.StatusFound))
	t.Cleanup(front.Close)
	opts := ResolverOptions{RepoMirrors: map[string]string{"https://charts.example.com": front.URL}}
	dir := t.TempDir()
	first := resolveDemo(t, "https://charts.example.com", dir, opts)
	second := resolveDemo(t, "https://charts.example.com", dir, opts)
	if first.Repository != front.URL || !reflect.DeepEqual(first, second) {
		t.Errorf("through the mirror resolved %+v then %+v", first, second)
	}
	if nm := repo.NotModified("/index.yaml"); nm != 1 {
		t.Errorf("redirected rerun: %d answers 304, want 1", nm)
	}
}

func TestIndexCacheWithBasicAuthWritesNoSecret(t *testing.T) {
	repo := chartrepotest.NewHTTPRepo(t)
	repo.RequireBasicAuth("robot-user", "s3cret-pass")
	addDemoVersion(t, repo, "2.0.0")
	opts := ResolverOptions{Credentials: func(u string) (string, string, bool) {
		return "robot-user", "s3cret-pass", u == repo.URL
	}}
	dir := t.TempDir()
	first := resolveDemo(t, repo.URL, dir, opts)
	second := resolveDemo(t, repo.URL, dir, opts)
	if !reflect.DeepEqual(first, second) || repo.NotModified("/index.yaml") != 1 {
		t.Errorf("authenticated rerun resolved %+v then %+v, %d answers 304 (want 1)", first, second, repo.NotModified("/index.yaml"))
	}
	files := cacheFiles(t, dir)
	if len(files) != 1 {
		t.Errorf("%d cache entries, want 1", len(files))
	}
	for p, data := range files {
		if strings.Contains(data, "s3cret-pass") || strings.Contains(data, "robot-user") {
			t.Errorf("cache entry %s holds the credentials", p)
		}
	}
}

// condServer serves one index.yaml with the validators a test sets and records the
// conditional headers of each request; it answers 304 to any conditional request.
type condServer struct {
	*httptest.Server
	mu                      sync.Mutex
	etag, lastMod, date     string
	full                    int
	ifNoneMatch, ifModSince []string
}

func newCondServer(t *testing.T) *condServer {
	t.Helper()
	s := &condServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if req.URL.Path != "/index.yaml" {
			http.NotFound(w, req)
			return
		}
		inm, ims := req.Header.Get("If-None-Match"), req.Header.Get("If-Modified-Since")
		s.ifNoneMatch, s.ifModSince = append(s.ifNoneMatch, inm), append(s.ifModSince, ims)
		for k, v := range map[string]string{"ETag": s.etag, "Last-Modified": s.lastMod, "Date": s.date} {
			if v != "" {
				w.Header().Set(k, v)
			}
		}
		if inm != "" || ims != "" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		s.full++
		_, _ = w.Write([]byte("apiVersion: v1\nentries:\n  demo:\n  - version: 3.0.0\n    urls: [demo-3.0.0.tgz]\n    digest: abc\n"))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestIndexCacheLastModifiedNeedsSettledFile(t *testing.T) {
	modified := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		age       time.Duration // Date − Last-Modified
		wantCond  bool
		wantFulls int
	}{
		{"written within the second", 1 * time.Second, false, 2},
		{"just written", 0, false, 2},
		{"stable two seconds", 2 * time.Second, true, 1},
		{"stable for hours", 5 * time.Hour, true, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newCondServer(t)
			s.lastMod = modified.Format(http.TimeFormat)
			s.date = modified.Add(c.age).Format(http.TimeFormat)
			dir := t.TempDir()
			first := resolveDemo(t, s.URL, dir, ResolverOptions{})
			second := resolveDemo(t, s.URL, dir, ResolverOptions{})
			if first.Version != "3.0.0" || !reflect.DeepEqual(first, second) {
				t.Errorf("resolved %+v then %+v", first, second)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if got := s.ifModSince[1] != ""; got != c.wantCond {
				t.Errorf("second request If-Modified-Since %q, want sent: %v", s.ifModSince[1], c.wantCond)
			}
			if c.wantCond && s.ifModSince[1] != s.lastMod {
				t.Errorf("If-Modified-Since %q, want %q", s.ifModSince[1], s.lastMod)
			}
			if s.full != c.wantFulls || s.ifNoneMatch[1] != "" {
				t.Errorf("%d full answers (want %d), If-None-Match %q", s.full, c.wantFulls, s.ifNoneMatch[1])
			}
		})
	}
}

func TestIndexCacheETagStillUsedWhenLastModifiedIsFresh(t *testing.T) {
	s := newCondServer(t)
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	s.etag, s.lastMod, s.date = `W/"v1"`, now, now
	dir := t.TempDir()
	resolveDemo(t, s.URL, dir, ResolverOptions{})
	resolveDemo(t, s.URL, dir, ResolverOptions{})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ifNoneMatch[1] != `W/"v1"` || s.ifModSince[1] != "" || s.full != 1 {
		t.Errorf("second request If-None-Match %q If-Modified-Since %q, %d full answers; want the ETag alone and one full answer",
			s.ifNoneMatch[1], s.ifModSince[1], s.full)
	}
}

func TestIndexCacheNoDirSendsNoConditions(t *testing.T) {
	s := newCondServer(t)
	old := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	s.etag, s.lastMod, s.date = `"v1"`, old.Format(http.TimeFormat), old.Add(time.Hour).Format(http.TimeFormat)
	resolveDemo(t, s.URL, "", ResolverOptions{})
	resolveDemo(t, s.URL, "", ResolverOptions{})
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.ifNoneMatch {
		if s.ifNoneMatch[i] != "" || s.ifModSince[i] != "" {
			t.Errorf("request %d without a cache directory sent If-None-Match %q If-Modified-Since %q", i, s.ifNoneMatch[i], s.ifModSince[i])
		}
	}
	if s.full != 2 {
		t.Errorf("%d full answers, want 2", s.full)
	}
}

// statusRecorder keeps the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// TestIndexCacheFileServer: a repository served by http.FileServer (no ETag, Last-Modified
// from the file's time) gets a 304 once its index had been stable when it was served, and a
// full fetch while the file is as new as the response.
func TestIndexCacheFileServer(t *testing.T) {
	for _, c := range []struct {
		name  string
		mtime time.Time
		want  int // status of the second run's answer
	}{
		{"stable file", time.Now().Add(-time.Hour), http.StatusNotModified},
		{"file newer than the answer", time.Now().Add(time.Hour), http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			index := filepath.Join(root, "index.yaml")
			yaml := "apiVersion: v1\nentries:\n  demo:\n  - version: 4.0.0\n    urls: [demo-4.0.0.tgz]\n"
			if err := os.WriteFile(index, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(index, c.mtime, c.mtime); err != nil {
				t.Fatal(err)
			}
			var (
				mu       sync.Mutex
				statuses []int
			)
			files := http.FileServer(http.Dir(root))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
				files.ServeHTTP(rec, req)
				mu.Lock()
				statuses = append(statuses, rec.status)
				mu.Unlock()
			}))
			t.Cleanup(srv.Close)
			dir := t.TempDir()
			for run := 0; run < 2; run++ {
				if rc := resolveDemo(t, srv.URL, dir, ResolverOptions{}); rc.Version != "4.0.0" {
					t.Fatalf("run %d resolved %s", run, rc.Version)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(statuses) != 2 || statuses[0] != http.StatusOK || statuses[1] != c.want {
				t.Errorf("answers %v, want [200 %d]", statuses, c.want)
			}
		})
	}
}

func TestIndexCacheClosedResolverWritesNothing(t *testing.T) {
	repo := chartrepotest.NewHTTPRepo(t)
	addDemoVersion(t, repo, "1.0.0")
	dir := t.TempDir()
	r := newTestResolver(t, ResolverOptions{IndexCacheDir: dir})
	r.Close()
	rc, err := r.Resolve(context.Background(), ChartRef{Repository: repo.URL, Name: "demo"}, ResolveOptions{})
	if err != nil || rc.Version != "1.0.0" {
		t.Fatalf("resolve after Close: %+v, %v", rc, err)
	}
	if files := cacheFiles(t, dir); len(files) != 0 {
		t.Errorf("a closed resolver wrote %d cache entries", len(files))
	}
}
