package engine

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// A rerun under an unchanged lock asks every locked image's destination tag before its
// addon has even resolved its chart (the chart repository holds the index back until the
// destination has seen them all), and still asks each source tag and destination tag once:
// a tag moved at the source since the lock is reported.
func TestRerunAsksLockedImagesFirst(t *testing.T) {
	w := newLockWorld(t)
	var mu sync.Mutex
	hold := false
	heads := 0
	seen := make(chan struct{})
	w.dst.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodHead && strings.HasPrefix(r.URL.Path, "/v2/mirror/org/") {
			mu.Lock()
			if heads++; hold && heads == len(lockImages) {
				close(seen)
			}
			mu.Unlock()
		}
		return false
	})
	target, _ := url.Parse(w.charts.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	held := false
	charts := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hold
		mu.Unlock()
		if h {
			select {
			case <-seen:
			case <-time.After(30 * time.Second): // a deadlock guard: the lookups never came first
				mu.Lock()
				held = true
				mu.Unlock()
			}
		}
		proxy.ServeHTTP(rw, r)
	}))
	defer charts.Close()
	opts := w.options(t)
	opts.Addons[0].Repository = charts.URL
	if _, a := w.run(t, opts); a.Status != StatusSuccess {
		t.Fatalf("first run: %s at %s: %s", a.Status, a.Stage, a.Error)
	}
	moved := lockImages[1]
	w.move(t, moved)
	mu.Lock()
	hold, heads = true, 0
	mu.Unlock()
	w.src.Reset()
	w.dst.Reset()
	opts = w.options(t)
	opts.Addons[0].Repository = charts.URL
	_, a := w.run(t, opts)
	if a.Status != StatusDrift {
		t.Fatalf("rerun: %s at %s: %s; want DRIFT for the moved tag", a.Status, a.Stage, a.Error)
	}
	mu.Lock()
	defer mu.Unlock()
	if held {
		t.Errorf("the chart was fetched before the destination was asked about the locked images")
	}
	if n := w.src.Count(registrytest.ManifestHead); n != len(lockImages) {
		t.Errorf("%d source manifest HEADs, want one per locked image (%d)", n, len(lockImages))
	}
	if heads != len(lockImages) {
		t.Errorf("%d destination HEADs on image repositories, want one per image (%d)", heads, len(lockImages))
	}
	if !strings.Contains(strings.Join(a.Warnings, " "), "image "+mustRef(t, moved).String()+": source tag moved since the lock") {
		t.Errorf("the tag moved at the source was not reported: warnings %v", a.Warnings)
	}
}
