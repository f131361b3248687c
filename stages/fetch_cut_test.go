package stages

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// An archive download whose connection drops in the middle is started again, and the
// archive lands whole (its digest checked).
func TestFetchRetriesAnArchiveCutInTheMiddle(t *testing.T) {
	repo := chartrepotest.NewHTTPRepo(t)
	repo.SetArchiveBase(chartrepotest.Relative)
	repo.AddChartDir(t, chartrepotest.Corpus(t, "grafana"))
	target, _ := url.Parse(repo.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var cuts, archiveGets atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".tgz") {
			archiveGets.Add(1)
			if cuts.Add(1) == 1 {
				conn, buf, err := w.(http.Hijacker).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(100000) + "\r\n\r\n" + strings.Repeat("x", 1000))
				_ = buf.Flush()
				conn.Close()
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	ctx := context.Background()
	rc, err := newTestResolver(t, ResolverOptions{}).Resolve(ctx, ChartRef{Repository: front.URL, Name: "grafana"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := newTestFetcher(t, t.TempDir()).Fetch(ctx, rc)
	if err != nil {
		t.Fatalf("fetch after a cut download: %v", err)
	}
	if fc.Chart.Name() != "grafana" || archiveGets.Load() != 2 {
		t.Fatalf("chart %s after %d archive GETs, want grafana after 2", fc.Chart.Name(), archiveGets.Load())
	}
}
