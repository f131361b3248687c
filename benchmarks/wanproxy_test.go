package benchmarks

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// fakeClock is a settable clock for the limiters.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func startProxy(t *testing.T, reg *registrytest.Registry, opts ProxyOptions) *Proxy {
	t.Helper()
	p, err := StartProxy(reg.Server.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func do(t *testing.T, c *http.Client, method, url string, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestTokenBucketAccounting(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	b := newTokenBucket(1000, 100, clk.now)
	if w := b.reserve(100); w != 0 {
		t.Fatalf("burst: wait %v, want 0", w)
	}
	if w := b.reserve(100); w != 100*time.Millisecond {
		t.Fatalf("100 bytes past the burst at 1000 B/s: wait %v, want 100ms", w)
	}
	clk.add(50 * time.Millisecond) // refills 50: debt 100 → 50
	if w := b.reserve(50); w != 100*time.Millisecond {
		t.Fatalf("after 50ms: wait %v, want 100ms", w)
	}
	clk.add(time.Hour) // refill is capped at the burst
	if !b.allow() || b.tokens != 99 {
		t.Fatalf("after an hour: tokens %v, want burst-1 = 99", b.tokens)
	}
}

func TestHubLimiterHeadersAnd429(t *testing.T) {
	reg := registrytest.New(t)
	img, _ := random.Image(512, 1)
	ref, _ := name.NewTag(reg.Host+"/lib/app:1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Unix(1000, 0)}
	p := startProxy(t, reg, ProxyOptions{Hub: &HubLimit{Pulls: 3, Window: time.Minute}, Now: clk.now})
	url := p.URL + "/v2/lib/app/manifests/1"
	for i, want := range []string{"2;w=60", "1;w=60", "0;w=60"} {
		resp := do(t, p.Client(), http.MethodGet, url, "")
		if resp.StatusCode != 200 || resp.Header.Get("ratelimit-remaining") != want || resp.Header.Get("ratelimit-limit") != "3;w=60" {
			t.Fatalf("GET %d: %d limit=%q remaining=%q, want 200 3;w=60 %s", i, resp.StatusCode,
				resp.Header.Get("ratelimit-limit"), resp.Header.Get("ratelimit-remaining"), want)
		}
	}
	if resp := do(t, p.Client(), http.MethodHead, url, ""); resp.StatusCode != 200 || resp.Header.Get("ratelimit-remaining") != "0;w=60" {
		t.Fatalf("HEAD past the budget: %d remaining=%q, want 200 (HEADs are free)", resp.StatusCode, resp.Header.Get("ratelimit-remaining"))
	}
	clk.add(20 * time.Second)
	resp := do(t, p.Client(), http.MethodGet, url, "")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "40" || resp.Header.Get("ratelimit-remaining") != "0;w=60" {
		t.Fatalf("GET past the budget: %d Retry-After=%q remaining=%q, want 429 40 0;w=60", resp.StatusCode,
			resp.Header.Get("Retry-After"), resp.Header.Get("ratelimit-remaining"))
	}
	// Blob GETs are not pulls.
	if resp := do(t, p.Client(), http.MethodGet, p.URL+"/v2/lib/app/tags/list", ""); resp.StatusCode != 200 {
		t.Fatalf("tags list under the pull limit: %d", resp.StatusCode)
	}
	clk.add(41 * time.Second)
	if resp := do(t, p.Client(), http.MethodGet, url, ""); resp.StatusCode != 200 || resp.Header.Get("ratelimit-remaining") != "2;w=60" {
		t.Fatalf("GET in a new window: %d remaining=%q", resp.StatusCode, resp.Header.Get("ratelimit-remaining"))
	}
	c := p.Counts(nil)
	if c.Kinds[registrytest.ManifestGet] != 5 || c.Injected["hub"] != 1 || c.Throttled != 1 || c.Kinds[registrytest.ManifestHead] != 1 {
		t.Fatalf("counts: %+v", c)
	}
}

func TestECRLimiterQuotas(t *testing.T) {
	reg := registrytest.New(t)
	clk := &fakeClock{t: time.Unix(0, 0)}
	p := startProxy(t, reg, ProxyOptions{ECR: &ECRLimit{}, Now: clk.now})
	throttled := func(method, path string, n int) int {
		k := 0
		for i := 0; i < n; i++ {
			if do(t, p.Client(), method, p.URL+path, "{}").StatusCode == http.StatusTooManyRequests {
				k++
			}
		}
		return k
	}
	if k := throttled(http.MethodPut, "/v2/a/manifests/x", 12); k != 2 {
		t.Fatalf("12 manifest PUTs in one instant: %d throttled, want 2 (10/s)", k)
	}
	if k := throttled(http.MethodPost, "/v2/a/blobs/uploads/", 103); k != 3 {
		t.Fatalf("103 upload starts in one instant: %d throttled, want 3 (100/s)", k)
	}
	clk.add(100 * time.Millisecond) // one more PUT token
	if k := throttled(http.MethodPut, "/v2/a/manifests/x", 2); k != 1 {
		t.Fatalf("2 PUTs 100ms later: %d throttled, want 1", k)
	}
	if k := throttled(http.MethodGet, "/v2/a/manifests/x", 20); k != 0 {
		t.Fatalf("manifest GETs are not limited: %d throttled", k)
	}
	if got := p.Counts(nil).Injected["ecr"]; got != 6 {
		t.Fatalf("ecr 429s counted %d, want 6", got)
	}
}

func TestFaultInjectionIsSeeded(t *testing.T) {
	reg := registrytest.New(t)
	run := func() []int {
		p := startProxy(t, reg, ProxyOptions{Faults: &Faults{Rate: 0.3, Seed: 9}})
		var codes []int
		for i := 0; i < 100; i++ {
			codes = append(codes, do(t, p.Client(), http.MethodHead, p.URL+"/v2/a/manifests/x", "").StatusCode)
		}
		for i := 0; i < 20; i++ {
			if c := do(t, p.Client(), http.MethodGet, p.URL+"/v2/", "").StatusCode; c != 200 {
				t.Fatalf("ping answered %d: the ping is never faulted", c)
			}
		}
		if p.Counts(nil).Injected["fault"] == 0 {
			t.Fatal("no fault recorded")
		}
		return codes
	}
	a, b := run(), run()
	faults := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("request %d: %d then %d with the same seed", i, a[i], b[i])
		}
		if a[i] != http.StatusNotFound {
			faults++
		}
	}
	if faults < 15 || faults > 45 {
		t.Fatalf("%d faults in 100 requests at rate 0.3", faults)
	}
}

func TestBandwidthCapAndRTT(t *testing.T) {
	reg := registrytest.New(t)
	img, _ := random.Image(400<<10, 1)
	ref, _ := name.NewTag(reg.Host+"/big/app:1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	size, _ := layers[0].Size()
	p := startProxy(t, reg, ProxyOptions{BytesPerSecond: 1 << 20, RTT: 30 * time.Millisecond})
	start := time.Now()
	resp := do(t, p.Client(), http.MethodGet, p.URL+"/v2/big/app/blobs/"+d.String(), "")
	el := time.Since(start)
	if resp.StatusCode != 200 {
		t.Fatalf("blob GET: %d", resp.StatusCode)
	}
	// (size - burst) at 1 MiB/s, plus the connection's and the request's round trips.
	floor := time.Duration(float64(size-bucketBurst)/float64(1<<20)*float64(time.Second)) + 60*time.Millisecond
	if el < floor {
		t.Fatalf("%d bytes at 1 MiB/s with 30ms RTT took %v, want ≥ %v", size, el, floor)
	}
	c := p.Counts(nil)
	if c.BlobGetBytes != size || c.Connections != 1 {
		t.Fatalf("counted %d blob bytes over %d connections, want %d over 1", c.BlobGetBytes, c.Connections, size)
	}
}

func TestTLSHandshakesCounted(t *testing.T) {
	reg := registrytest.New(t)
	p := startProxy(t, reg, ProxyOptions{TLS: true})
	c := p.Client()
	for i := 0; i < 3; i++ {
		do(t, c, http.MethodGet, p.URL+"/v2/", "")
	}
	if got := p.TLSHandshakes(); got != 1 {
		t.Fatalf("3 requests on one kept-alive client: %d handshakes, want 1", got)
	}
	tr := c.Transport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	c2 := &http.Client{Transport: tr}
	for i := 0; i < 2; i++ {
		do(t, c2, http.MethodGet, p.URL+"/v2/", "")
	}
	if got := p.TLSHandshakes(); got != 3 {
		t.Fatalf("2 more requests without keep-alive: %d handshakes, want 3", got)
	}
}
