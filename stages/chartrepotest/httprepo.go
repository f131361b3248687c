package chartrepotest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"
)

// HTTPRepo is a chart repository on httptest: GET /index.yaml (with an ETag, answering
// If-None-Match) and GET /NAME-VERSION.tgz.
type HTTPRepo struct {
	Server *httptest.Server
	// URL is the repository URL (no trailing slash).
	URL string

	mu          sync.Mutex
	index       *repo.IndexFile
	archives    map[string][]byte
	counts      map[string]int
	notModified map[string]int
	failures    map[string]int
	rawIndex    []byte
	user, pass  string
	archiveBase string
	hold        chan struct{}
	arrived     chan string
}

// NewHTTPRepo packages each chart directory and serves them; the server closes when the
// test ends.
func NewHTTPRepo(t testing.TB, chartDirs ...string) *HTTPRepo {
	t.Helper()
	r := &HTTPRepo{index: repo.NewIndexFile(), archives: map[string][]byte{},
		counts: map[string]int{}, notModified: map[string]int{}, failures: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Server.Close)
	r.URL = r.Server.URL
	for _, dir := range chartDirs {
		r.AddChartDir(t, dir)
	}
	return r
}

// AddChartDir packages a chart directory and adds it to the index.
func (r *HTTPRepo) AddChartDir(t testing.TB, dir string) {
	t.Helper()
	path, md := Package(t, dir)
	r.addFile(t, path, md)
}

// AddChartVersion packages a chart directory as another version (the corpus holds one
// version per chart) and adds it to the index.
func (r *HTTPRepo) AddChartVersion(t testing.TB, dir, version string) {
	t.Helper()
	ch, err := loader.LoadDir(dir)
	if err != nil {
		t.Fatalf("load chart %s: %v", dir, err)
	}
	ch.Metadata.Version = version
	r.AddChart(t, ch)
}

// AddChart packages an in-memory chart (one a test changed: a version, subcharts removed)
// and adds it to the index.
func (r *HTTPRepo) AddChart(t testing.TB, ch *chart.Chart) {
	t.Helper()
	path, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatalf("package chart %s: %v", ch.Name(), err)
	}
	r.addFile(t, path, ch.Metadata)
}

func (r *HTTPRepo) addFile(t testing.TB, path string, md *chart.Metadata) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r.AddArchive(t, md, filepath.Base(path), data)
}

// ReplaceArchive serves data as filename from now on, the index keeping the digest it
// lists (a test of digest verification uses it).
func (r *HTTPRepo) ReplaceArchive(filename string, data []byte) {
	r.mu.Lock()
	r.archives["/"+filename] = data
	r.mu.Unlock()
}

// AddArchive serves data as filename and lists it in the index under md's name and version
// with data's digest, whatever data holds (tests of bad archives use it).
func (r *HTTPRepo) AddArchive(t testing.TB, md *chart.Metadata, filename string, data []byte) {
	t.Helper()
	sum := sha256.Sum256(data)
	r.mu.Lock()
	defer r.mu.Unlock()
	base := r.URL
	switch r.archiveBase {
	case "":
	case Relative:
		base = ""
	default:
		base = r.archiveBase
	}
	mdCopy := *md
	if err := r.index.MustAdd(&mdCopy, filename, base, hex.EncodeToString(sum[:])); err != nil {
		t.Fatalf("index %s: %v", filename, err)
	}
	r.index.SortEntries()
	r.archives["/"+filename] = data
}

// Relative, given to SetArchiveBase, lists archive URLs relative to the repository.
const Relative = "relative"

// SetArchiveBase makes charts added from now on list their archive URL under base instead
// of the server (as an index copied from another repository does), or as a bare file name
// with Relative; "" restores absolute URLs on the server.
func (r *HTTPRepo) SetArchiveBase(base string) {
	r.mu.Lock()
	r.archiveBase = strings.TrimRight(base, "/")
	r.mu.Unlock()
}

// RequireBasicAuth makes every request need these credentials (401 otherwise).
func (r *HTTPRepo) RequireBasicAuth(user, pass string) {
	r.mu.Lock()
	r.user, r.pass = user, pass
	r.mu.Unlock()
}

// Fail makes requests for path ("/index.yaml", "/argo-cd-10.1.1.tgz") answer status; 0
// removes the failure.
func (r *HTTPRepo) Fail(path string, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if status == 0 {
		delete(r.failures, path)
		return
	}
	r.failures[path] = status
}

// SetIndex serves data as index.yaml instead of the generated index (nil restores it).
func (r *HTTPRepo) SetIndex(data []byte) {
	r.mu.Lock()
	r.rawIndex = data
	r.mu.Unlock()
}

// Hold makes every request wait, after being counted, until release is called; arrived
// receives one value per request held.
func (r *HTTPRepo) Hold() (release func(), arrived <-chan string) {
	ch := make(chan struct{})
	arr := make(chan string, 1024)
	r.mu.Lock()
	r.hold, r.arrived = ch, arr
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			r.hold = nil
			r.mu.Unlock()
			close(ch)
		})
	}, arr
}

// IndexYAML is the index as served.
func (r *HTTPRepo) IndexYAML() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rawIndex != nil {
		return r.rawIndex
	}
	data, err := yaml.Marshal(r.index)
	if err != nil {
		panic(fmt.Sprintf("marshal index: %v", err))
	}
	return data
}

// ArchivePaths lists the archive paths served ("/grafana-12.11.1.tgz").
func (r *HTTPRepo) ArchivePaths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for p := range r.archives {
		out = append(out, p)
	}
	return out
}

// Count is how many requests reached path (any answer).
func (r *HTTPRepo) Count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[path]
}

// NotModified is how many requests for path were answered 304 Not Modified (the index
// carries an ETag, the hash of its content, and honours If-None-Match).
func (r *HTTPRepo) NotModified(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.notModified[path]
}

// ArchiveRequests is how many requests reached any .tgz path.
func (r *HTTPRepo) ArchiveRequests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for p, c := range r.counts {
		if strings.HasSuffix(p, ".tgz") {
			n += c
		}
	}
	return n
}

// Reset forgets the counts.
func (r *HTTPRepo) Reset() {
	r.mu.Lock()
	r.counts = map[string]int{}
	r.notModified = map[string]int{}
	r.mu.Unlock()
}

func (r *HTTPRepo) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.counts[req.URL.Path]++
	hold, arrived, status, user, pass := r.hold, r.arrived, r.failures[req.URL.Path], r.user, r.pass
	data, isArchive := r.archives[req.URL.Path]
	r.mu.Unlock()
	if hold != nil {
		select {
		case arrived <- req.URL.Path:
		default:
		}
		select {
		case <-hold:
		case <-req.Context().Done():
			return
		}
	}
	if user != "" {
		u, p, ok := req.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="charts"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	switch {
	case req.Method != http.MethodGet && req.Method != http.MethodHead:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	case req.URL.Path == "/index.yaml":
		data := r.IndexYAML()
		sum := sha256.Sum256(data)
		etag := `"` + hex.EncodeToString(sum[:16]) + `"`
		w.Header().Set("ETag", etag)
		if req.Header.Get("If-None-Match") == etag {
			r.mu.Lock()
			r.notModified[req.URL.Path]++
			r.mu.Unlock()
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/x-yaml")
		_, _ = w.Write(data)
	case isArchive:
		w.Header().Set("Content-Type", "application/gzip")
		_, _ = w.Write(data)
	default:
		http.NotFound(w, req)
	}
}
