package chartrepotest

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

func get(t *testing.T, url string, auth ...string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if len(auth) == 2 {
		req.SetBasicAuth(auth[0], auth[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func TestHTTPRepoServesHelmIndexAndArchives(t *testing.T) {
	r := NewHTTPRepo(t, Corpus(t, "keda"), Corpus(t, "prometheus/charts/alertmanager"))
	status, body := get(t, r.URL+"/index.yaml")
	if status != 200 {
		t.Fatalf("index: %d", status)
	}
	// Helm's own loader reads the index.
	p := filepath.Join(t.TempDir(), "index.yaml")
	if err := os.WriteFile(p, body, 0o600); err != nil {
		t.Fatal(err)
	}
	idx, err := repo.LoadIndexFile(p)
	if err != nil {
		t.Fatal(err)
	}
	cv, err := idx.Get("alertmanager", "")
	if err != nil || cv.Version != "1.42.0" || len(cv.URLs) != 1 {
		t.Fatalf("alertmanager entry %+v: %v", cv, err)
	}
	status, archive := get(t, cv.URLs[0])
	sum := sha256.Sum256(archive)
	if status != 200 || hex.EncodeToString(sum[:]) != cv.Digest {
		t.Fatalf("archive %s: %d, digest %x vs index %s", cv.URLs[0], status, sum, cv.Digest)
	}
	if ch, err := loader.LoadArchive(strings.NewReader(string(archive))); err != nil || ch.Name() != "alertmanager" {
		t.Fatalf("archive does not load: %v", err)
	}
	if r.Count("/index.yaml") != 1 || r.ArchiveRequests() != 1 {
		t.Errorf("counts: index %d archives %d", r.Count("/index.yaml"), r.ArchiveRequests())
	}

	r.Fail("/index.yaml", 503)
	if status, _ := get(t, r.URL+"/index.yaml"); status != 503 {
		t.Errorf("failure injection: %d", status)
	}
	r.Fail("/index.yaml", 0)
	r.SetIndex([]byte("garbage: ["))
	if _, body := get(t, r.URL+"/index.yaml"); string(body) != "garbage: [" {
		t.Errorf("raw index: %q", body)
	}
	r.RequireBasicAuth("u", "p")
	if status, _ := get(t, r.URL+"/index.yaml"); status != 401 {
		t.Errorf("no credentials: %d", status)
	}
	if status, _ := get(t, r.URL+"/index.yaml", "u", "p"); status != 200 {
		t.Errorf("credentials: %d", status)
	}
}

func TestPushOCIStoresHelmArtifacts(t *testing.T) {
	reg := registrytest.New(t)
	refs := PushOCI(t, reg, "team/charts", Corpus(t, "metrics-server"), Corpus(t, "external-dns"))
	if len(refs) != 2 || !strings.HasPrefix(refs[0], reg.Host+"/team/charts/metrics-server:") {
		t.Fatalf("refs %v", refs)
	}
	put := map[string]bool{}
	for _, q := range reg.Requests() {
		if q.Kind == registrytest.ManifestPut && q.Status == http.StatusCreated {
			put[q.Repository] = true
		}
	}
	if !put["team/charts/metrics-server"] || !put["team/charts/external-dns"] || len(put) != 2 {
		t.Errorf("manifests stored in %v", put)
	}
	res, err := ociClient(t).Pull(refs[1])
	if err != nil {
		t.Fatal(err)
	}
	if res.Chart.Meta.Name != "external-dns" {
		t.Errorf("pulled %s", res.Chart.Meta.Name)
	}
}

func TestServeCorpusServesVendoredChartsAndListsUpstreams(t *testing.T) {
	s := ServeCorpus(t)
	for _, key := range []string{"kube-prometheus-stack 88.5.3", "kube-state-metrics 8.4.0", "prometheus-node-exporter 4.56.1", "grafana 12.11.1"} {
		if _, ok := s.Served[key]; !ok {
			t.Errorf("%s not served (served %v)", key, s.Served)
		}
	}
	status, body := get(t, s.HTTP.URL+"/index.yaml")
	if status != 200 || !strings.Contains(string(body), "kube-state-metrics-8.4.0.tgz") {
		t.Errorf("index.yaml (%d) lacks the vendored kube-state-metrics", status)
	}
	want := map[string]bool{"https://prometheus-community.github.io/helm-charts": false, "https://grafana-community.github.io/helm-charts": false,
		"https://dandydeveloper.github.io/charts": false, "oci://ghcr.io/external-secrets/charts": false}
	for _, u := range s.Upstreams {
		if _, ok := want[u]; ok {
			want[u] = true
		}
	}
	for u, seen := range want {
		if !seen {
			t.Errorf("upstream %s not listed in %v", u, s.Upstreams)
		}
	}
	if m := s.Mirrors(s.OCIRepository); len(m) != len(s.Upstreams) || m["https://grafana-community.github.io/helm-charts"] != s.OCIRepository {
		t.Errorf("mirrors %v", m)
	}
	if _, err := ociClient(t).Pull(s.Registry.Host + "/" + CorpusOCINamespace + "/grafana:12.11.1"); err != nil {
		t.Errorf("grafana not in the registry: %v", err)
	}
}
