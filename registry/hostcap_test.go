package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// --max-per-host: with a cap of 2, six concurrent lookups on one host never have more than
// 2 requests at the registry; the other four wait for a slot, then all complete.
func TestMaxPerHostCapsRequestsInFlight(t *testing.T) {
	reg := registrytest.New(t)
	const n, limit = 6, 2
	for i := range n {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		pushImage(t, fmt.Sprintf("%s/app%d:1", reg.Host, i), img)
	}
	c := newTestClient(t, ClientOptions{MaxPerHost: map[string]int{reg.Host: limit}})
	ctx := context.Background()
	// A first lookup learns the host's auth answer, so that only manifest HEADs follow.
	if _, err := c.SourceDigest(ctx, MustParseImageRef(reg.Host+"/app0:1"), PlatformAuto); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	inflight, peak := 0, 0
	arrived := make(chan struct{}, 4*n)
	release := make(chan struct{})
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodHead || !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		mu.Lock()
		inflight++
		peak = max(peak, inflight)
		mu.Unlock()
		arrived <- struct{}{}
		<-release
		mu.Lock()
		inflight--
		mu.Unlock()
		return false
	})
	waiting := make(chan string, 4*n)
	c.limits.onCapWait = func(host string) { waiting <- host }
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})

	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := c.SourceDigest(ctx, MustParseImageRef(fmt.Sprintf("%s/app%d:1", reg.Host, i)), PlatformAuto)
			errs <- err
		}()
	}
	for got, waits := 0, 0; got < limit || waits < n-limit; {
		select {
		case <-arrived:
			if got++; got > limit {
				t.Fatalf("%d requests reached the registry at once, cap %d", got, limit)
			}
		case h := <-waiting:
			if h != reg.Host {
				t.Fatalf("a request to %s waited for a slot", h)
			}
			waits++
		}
	}
	close(release)
	released = true
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if peak != limit {
		t.Fatalf("at most %d requests in flight, want exactly the cap %d", peak, limit)
	}
}

// A cap names a host as --rate-limit does: docker.io covers Docker Hub's aliases, a mirror
// takes the cap of the hosts pulled through it, "" is every other host.
func TestMaxPerHostCapOf(t *testing.T) {
	h, err := newHostLimits(nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.setCaps(map[string]int{"docker.io": 3, "": 10, "Quay.io": 5}); err != nil {
		t.Fatal(err)
	}
	h.mirror("docker.io", "mirror.example:5000")
	for host, want := range map[string]int{
		"registry-1.docker.io": 3, "index.docker.io": 3, "quay.io": 5,
		"mirror.example:5000": 3, "ghcr.io": 10,
	} {
		if got := cap(h.state(host).inflight); got != want {
			t.Errorf("cap of %s = %d, want %d", host, got, want)
		}
	}
	if err := h.setCaps(map[string]int{"ghcr.io": 0}); err == nil {
		t.Errorf("a cap of 0 was accepted")
	}
}
