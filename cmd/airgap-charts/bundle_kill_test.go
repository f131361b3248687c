package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/engine"
	"github.com/airgap-charts/airgap-charts/registry/bundle"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// killAt holds the nth request matching match until the client goes away, reporting its
// arrival; every other matching request is counted by key once it is let through.
type killAt struct {
	mu      sync.Mutex
	n, seen int
	match   func(*http.Request) (string, bool)
	served  map[string]int
	arrived chan struct{}
}

func newKillAt(reg *registrytest.Registry, n int, match func(*http.Request) (string, bool)) *killAt {
	k := &killAt{n: n, match: match, served: map[string]int{}, arrived: make(chan struct{}, 1)}
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		key, ok := k.match(r)
		if !ok {
			return false
		}
		k.mu.Lock()
		k.seen++
		hold := k.seen == k.n
		k.mu.Unlock()
		if !hold {
			if r.ContentLength > 0 {
				// An upload counts once the registry has its whole body: one cut off by
				// the kill is sent again, rightly.
				r.Body = &eofCounter{ReadCloser: r.Body, done: func() { k.count(key) }}
			} else {
				k.count(key)
			}
			return false
		}
		k.arrived <- struct{}{}
		// The server notices a closed connection only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done() // until the killed process's connection closes
		return true
	})
	return k
}

func (k *killAt) count(key string) {
	k.mu.Lock()
	k.served[key]++
	k.mu.Unlock()
}

// eofCounter calls done when the body has been read to its end.
type eofCounter struct {
	io.ReadCloser
	done func()
	once sync.Once
}

func (e *eofCounter) Read(p []byte) (int, error) {
	n, err := e.ReadCloser.Read(p)
	if err == io.EOF {
		e.once.Do(e.done)
	}
	return n, err
}

// twice lists the keys served more than once.
func (k *killAt) twice() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for key, n := range k.served {
		if n > 1 {
			out = append(out, key)
		}
	}
	return out
}

// runKilled starts bin, waits for k's held request, kills the process (SIGKILL).
func runKilled(t *testing.T, bin string, k *killAt, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case <-k.arrived:
	case err := <-waited:
		t.Fatalf("the run ended (%v) before the moment to kill it:\n%s", err, lastLines(out.String(), 5))
	}
	_ = cmd.Process.Kill()
	<-waited
}

// TestBundleKilledExportAndImportRerun kills a real export (SIGKILL) while it fetches a
// blob and a real import while it uploads one, then runs each again: the reruns complete,
// no blob is fetched from the source twice, and no blob is uploaded to a repository twice.
func TestBundleKilledExportAndImportRerun(t *testing.T) {
	bin := buildBinary(t)
	src := registrytest.New(t)
	var refs []string
	for _, r := range []string{"team/a:1", "team/b:1", "team/c:1"} {
		ref := src.Host + "/" + r
		tag, _ := name.NewTag(ref, name.Insecure)
		img, _ := random.Image(24<<10, 3)
		if err := remote.Write(tag, img); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	tmpl := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: k\nspec:\n  template:\n    spec:\n      containers:\n"
	values := ""
	for i, r := range refs {
		tmpl += "      - name: c" + string(rune('a'+i)) + "\n        image: {{ .Values.i" + string(rune('a'+i)) + " | quote }}\n"
		values += "i" + string(rune('a'+i)) + ": " + r + "\n"
	}
	charts := chartrepotest.NewHTTPRepo(t)
	charts.AddChart(t, &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "k", Version: "1.0.0"},
		Raw:       []*chart.File{{Name: "values.yaml", Data: []byte(values)}},
		Values:    map[string]any{"ia": refs[0], "ib": refs[1], "ic": refs[2]},
		Templates: []*chart.File{{Name: "templates/d.yaml", Data: []byte(tmpl)}},
	})
	dir := t.TempDir()
	vf := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(vf, []byte("addons:\n  - chart: k\n    repository: "+charts.URL+"\n    version: 1.0.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(dir, "bundle")
	exportArgs := []string{"export", "--values", vf, "--to", b, "--part-size", "64KiB", "--insecure-registry", src.Host, "--log-format", "json"}

	blobGet := func(r *http.Request) (string, bool) {
		if k, _ := registrytest.Classify(r); k == registrytest.BlobGet {
			return r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:], true
		}
		return "", false
	}
	k := newKillAt(src, 7, blobGet)
	runKilled(t, bin, k, exportArgs...)
	src.Quiesce() // a request the killed process had sent is answered now, not counted as the rerun's
	if _, err := os.Stat(filepath.Join(b, "bundle.json")); err == nil {
		t.Fatal("the killed export left bundle.json, as if complete")
	}
	// What the killed export left whole on disk is not fetched again; the rest once.
	whole := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(b, "parts", "part-*.tar*"))
	for _, f := range files {
		for _, e := range bundle.ScanPart(f).Entries {
			whole[e.Digest] = true
		}
	}
	k.mu.Lock()
	k.served = map[string]int{}
	k.mu.Unlock()
	if out, err := exec.Command(bin, exportArgs...).CombinedOutput(); err != nil {
		t.Fatalf("export rerun: %v\n%s", err, lastLines(string(out), 10))
	}
	if tw := k.twice(); len(tw) > 0 {
		t.Errorf("blobs fetched twice by the rerun: %v", tw)
	}
	for d := range whole {
		if _, ok := k.served[d]; ok {
			t.Errorf("blob %s was whole after the kill and fetched again", d)
		}
	}
	if len(whole) == 0 {
		t.Error("the killed export left no whole blob: the kill came too early to prove anything")
	}
	if out, err := exec.Command(bin, "bundle", "verify", b).CombinedOutput(); err != nil {
		t.Errorf("bundle verify after the resumed export: %v\n%s", err, out)
	}

	dst := registrytest.New(t)
	upload := func(r *http.Request) (string, bool) {
		if k, repo := registrytest.Classify(r); k == registrytest.UploadEnd {
			return repo + "@" + r.URL.Query().Get("digest"), true
		}
		return "", false
	}
	ki := newKillAt(dst, 5, upload)
	importArgs := []string{"import", "--from", b, "--target-registry", dst.Host, "--target-kind", "oci", "--insecure-registry", dst.Host,
		"--output-dir", filepath.Join(dir, "out"), "--log-format", "json"}
	runKilled(t, bin, ki, importArgs...)
	dst.Quiesce()
	if out, err := exec.Command(bin, importArgs...).CombinedOutput(); err != nil {
		t.Fatalf("import rerun: %v\n%s", err, lastLines(string(out), 10))
	}
	if _, err := os.Stat(filepath.Join(dir, "out", engine.LockFileName)); err != nil {
		t.Errorf("import wrote no lock in its --output-dir: %v", err)
	}
	if _, err := os.Stat(engine.LockFileName); err == nil {
		t.Errorf("import wrote its lock into the working directory")
	}
	if tw := ki.twice(); len(tw) > 0 {
		t.Errorf("blobs uploaded twice across the kill: %v", tw)
	}
	if n := len(ki.served); n < 12 {
		t.Errorf("blobs uploaded: %d distinct, want at least the 12 image blobs", n)
	}
}
