package registry

import (
	"context"
	"errors"
	"fmt"
	"github.com/airgap-charts/airgap-charts/registry/transport"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// hubEmulator answers in front of a registrytest registry like Docker Hub: a fixed budget
// of manifest GETs (HEADs free) advertised in ratelimit-remaining, 429 past it; and, before
// the budget is charged, random 429s with Retry-After: 1 on any request but the /v2/ ping.
// Which request draws an injected 429 depends only on the seed, the request's method, kind
// and repository and how many such requests came before, not on timing across repositories.
type hubEmulator struct {
	seed   uint64
	rate   float64 // share of requests answered with an injected 429
	budget int
	window time.Duration

	// bearer: every request needs a Bearer token from /token first, as on Docker Hub.
	bearer bool

	mu         sync.Mutex
	unauth     int // 401 challenges answered
	used       int
	visits     map[string]int
	limiter429 int // manifest GETs refused because the budget was spent (avoidable)
	injected   int // injected 429s, any request
	injectedMG int // injected 429s on manifest GETs
}

func newHubEmulator(reg *registrytest.Registry, seed uint64, rate float64, budget int) *hubEmulator {
	h := &hubEmulator{seed: seed, rate: rate, budget: budget, window: time.Hour, visits: map[string]int{}}
	reg.Intercept(h.serve)
	return h
}

func (h *hubEmulator) serve(w http.ResponseWriter, r *http.Request) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bearer && r.URL.Path == "/token" {
		fmt.Fprint(w, `{"token":"anonymous-pull"}`)
		return true
	}
	if h.bearer && r.Header.Get("Authorization") != "Bearer anonymous-pull" {
		h.unauth++
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="hub"`, r.Host))
		w.WriteHeader(http.StatusUnauthorized)
		return true
	}
	// Keyed by repository and kind, not path: the images' digests are random.
	kind, repo := registrytest.Classify(r)
	key := fmt.Sprintf("%s %s %s", r.Method, kind, repo)
	visit := h.visits[key]
	h.visits[key]++
	if r.URL.Path != "/v2/" && h.draw(key, visit) {
		h.injected++
		if kind == registrytest.ManifestGet {
			h.injectedMG++
		}
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}
	if kind != registrytest.ManifestGet && kind != registrytest.ManifestHead {
		return false
	}
	w.Header().Set("ratelimit-limit", fmt.Sprintf("%d;w=%d", h.budget, int(h.window.Seconds())))
	if kind == registrytest.ManifestGet {
		if h.used >= h.budget {
			h.limiter429++
			w.Header().Set("ratelimit-remaining", fmt.Sprintf("0;w=%d", int(h.window.Seconds())))
			w.Header().Set("Retry-After", strconv.Itoa(int(h.window.Seconds())))
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		h.used++
	}
	w.Header().Set("ratelimit-remaining", fmt.Sprintf("%d;w=%d", h.budget-h.used, int(h.window.Seconds())))
	return false
}

func (h *hubEmulator) draw(key string, visit int) bool {
	f := fnv.New64a()
	fmt.Fprintf(f, "%d %s %d", h.seed, key, visit)
	return float64(f.Sum64()%10000)/10000 < h.rate
}

func (h *hubEmulator) counts() (pulls, limiter429, injected, injectedMG int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.used, h.limiter429, h.injected, h.injectedMG
}

// hubFleet pushes n images under bench/app-I:1 (every other one a two-platform index) and
// returns their repositories and the manifest GETs a full copy needs (3 per index, 1 per image).
func hubFleet(t *testing.T, reg *registrytest.Registry, n int) (repos []string, manifests int) {
	t.Helper()
	for i := range n {
		repo := fmt.Sprintf("bench/app-%02d", i)
		if i%2 == 0 {
			idx, _, _ := multiArch(t)
			pushIndex(t, reg.Host+"/"+repo+":1", idx)
			manifests += 3
		} else {
			pushImage(t, reg.Host+"/"+repo+":1", platformImage(t, "linux", "amd64"))
			manifests++
		}
		repos = append(repos, repo)
	}
	return repos, manifests
}

// copyAll copies every repo from srcHost to dstHost:1, 8 at a time, and returns the errors.
func copyAll(ctx context.Context, c *Client, srcHost, dstHost string, repos []string) []error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, repo := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := c.Copy(ctx, MustParseImageRef(srcHost+"/"+repo+":1"), MustParseImageRef(dstHost+"/"+repo+":1"), PlatformAuto); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// The issue-6 budget run at the registry level: a budget of exactly the manifest GETs the
// copies need, with seeded random 429s (Retry-After: 1) on 8% of the requests. Every copy
// must succeed and no manifest GET may reach a spent budget: injected 429s and retries
// are not pulls, and pulls still in flight must not be charged twice.
func TestHubBudgetExactWithInjected429s(t *testing.T) {
	for _, seed := range []uint64{5, 7} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			src, dst := registrytest.New(t), registrytest.New(t)
			repos, need := hubFleet(t, src, 12)
			hub := newHubEmulator(src, seed, 0.08, need)
			c := newTestClient(t, ClientOptions{Concurrency: 8})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			errs := copyAll(ctx, c, src.Host, dst.Host, repos)
			pulls, limiter429, injected, injectedMG := hub.counts()
			t.Logf("budget %d: pulls drawn %d, limiter 429s %d, injected 429s %d (%d on manifest GETs)", need, pulls, limiter429, injected, injectedMG)
			if len(errs) > 0 {
				t.Fatalf("%d of %d copies failed with a sufficient budget, first: %v", len(errs), len(repos), errs[0])
			}
			if injectedMG == 0 {
				t.Fatal("no manifest GET drew an injected 429: the test proves nothing")
			}
			if limiter429 != 0 || pulls != need {
				t.Fatalf("pulls %d (want %d), limiter 429s %d (want 0)", pulls, need, limiter429)
			}
			if len(c.RefusedPulls()) != 0 {
				t.Fatalf("RefusedPulls = %v with a sufficient budget", c.RefusedPulls())
			}
		})
	}
}

// A budget smaller than needed: the run spends it exactly, never draws the limiter's 429,
// does not sit out the limiter's hour-long Retry-After, and says how many pulls it needed.
func TestHubBudgetTooSmallStopsCleanly(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	repos, need := hubFleet(t, src, 12)
	budget := need - 5
	hub := newHubEmulator(src, 3, 0.08, budget)
	c := newTestClient(t, ClientOptions{Concurrency: 8})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := copyAll(ctx, c, src.Host, dst.Host, repos)
	pulls, limiter429, injected, _ := hub.counts()
	t.Logf("budget %d of %d: pulls drawn %d, limiter 429s %d, injected 429s %d, refused %v", budget, need, pulls, limiter429, injected, c.RefusedPulls())
	if ctx.Err() != nil {
		t.Fatal("the run did not stop within a minute")
	}
	if len(errs) == 0 {
		t.Fatal("every copy succeeded with a budget 5 pulls short")
	}
	if pulls != budget || limiter429 != 0 {
		t.Fatalf("pulls %d (want the whole budget, %d), limiter 429s %d (want 0)", pulls, budget, limiter429)
	}
	refused := c.RefusedPulls()[src.Host]
	if refused < 1 || refused > need-budget {
		t.Fatalf("RefusedPulls = %v, want between 1 and %d for %s", c.RefusedPulls(), need-budget, src.Host)
	}
	for _, err := range errs {
		var pb *transport.PullBudgetError
		if !errors.As(err, &pb) || !strings.Contains(err.Error(), "more manifest pull(s) needed") {
			t.Fatalf("copy error %v, want a transport.PullBudgetError saying how many pulls were needed", err)
		}
	}

	// A new run while the budget is spent learns so from a free HEAD: no pull, no 429.
	again := newTestClient(t, ClientOptions{Concurrency: 8})
	errs = copyAll(ctx, again, src.Host, dst.Host, repos)
	pulls2, limiter2, _, _ := hub.counts()
	if len(errs) == 0 || pulls2 != budget || limiter2 != 0 || again.RefusedPulls()[src.Host] == 0 {
		t.Fatalf("rerun on a spent budget: %d failures, pulls %d (want %d), limiter 429s %d (want 0), refused %v",
			len(errs), pulls2, budget, limiter2, again.RefusedPulls())
	}
}

// --rate-limit docker.io=N/PERIOD applies to the mirror docker.io is pulled from, and a
// manifest GET answered 429 gives its token back: with N = exactly the pulls needed per
// hour and injected 429s, the run neither waits for the bucket to refill nor bursts past it.
func TestRateLimitFollowsMirrorAndRefunds429(t *testing.T) {
	t.Run("spacing", func(t *testing.T) {
		src, dst := registrytest.New(t), registrytest.New(t)
		var mu sync.Mutex
		var gets []time.Time
		repos, need := hubFleet(t, src, 3) // 3 + 1 + 3 manifests
		src.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
			if isManifestGet(r) {
				mu.Lock()
				gets = append(gets, time.Now())
				mu.Unlock()
			}
			return false
		})
		c := newTestClient(t, ClientOptions{Concurrency: 4, Mirrors: map[string]string{"docker.io": src.Host},
			RateLimits: []transport.HostRate{{Host: "docker.io", Kind: transport.KindManifestGet, N: 2, Period: 400 * time.Millisecond}}})
		if errs := copyAll(context.Background(), c, "docker.io", dst.Host, repos); len(errs) > 0 {
			t.Fatal(errs[0])
		}
		if len(gets) != need {
			t.Fatalf("manifest GETs = %d, want %d", len(gets), need)
		}
		// Burst 2, then one every 200ms.
		if span, min := gets[need-1].Sub(gets[0]), time.Duration(need-2)*200*time.Millisecond-50*time.Millisecond; span < min {
			t.Fatalf("%d manifest GETs through the mirror within %s (< %s): docker.io's rate not applied to its mirror", need, span, min)
		}
	})
	t.Run("refund", func(t *testing.T) {
		src, dst := registrytest.New(t), registrytest.New(t)
		repos, need := hubFleet(t, src, 8)
		hub := newHubEmulator(src, 1, 0.1, need)
		c := newTestClient(t, ClientOptions{Concurrency: 8, Mirrors: map[string]string{"docker.io": src.Host},
			RateLimits: []transport.HostRate{{Host: "docker.io", Kind: transport.KindManifestGet, N: need, Period: time.Hour}}})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		errs := copyAll(ctx, c, "docker.io", dst.Host, repos)
		pulls, limiter429, _, injectedMG := hub.counts()
		if len(errs) > 0 {
			t.Fatalf("%d copies failed (a retried 429 kept its token?), first: %v", len(errs), errs[0])
		}
		if injectedMG == 0 || pulls != need || limiter429 != 0 {
			t.Fatalf("injected 429s on manifest GETs %d (want > 0), pulls %d (want %d), limiter 429s %d", injectedMG, pulls, need, limiter429)
		}
	})
}

// A registry that does not advertise its budget until it is spent: its 429 with
// ratelimit-remaining 0 and an hour-long Retry-After fails that pull at once with a
// transport.PullBudgetError and does not pause the host: HEADs and blobs go on.
func TestSpentBudget429DoesNotPauseHost(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	pushImage(t, src.Host+"/a:1", platformImage(t, "linux", "amd64"))
	pushImage(t, src.Host+"/b:1", platformImage(t, "linux", "amd64"))
	src.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if kind, repo := registrytest.Classify(r); kind == registrytest.ManifestGet && repo == "b" {
			w.Header().Set("ratelimit-remaining", "0;w=3600")
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	})
	c := newTestClient(t, ClientOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Copy(ctx, MustParseImageRef(src.Host+"/b:1"), MustParseImageRef(dst.Host+"/b:1"), PlatformAuto)
	var pb *transport.PullBudgetError
	if !errors.As(err, &pb) || time.Since(start) > 3*time.Second {
		t.Fatalf("copy after %s: %v, want a transport.PullBudgetError at once", time.Since(start), err)
	}
	start = time.Now()
	if _, err := c.SourceDigest(ctx, MustParseImageRef(src.Host+"/a:1"), PlatformAuto); err != nil || time.Since(start) > time.Second {
		t.Fatalf("HEAD after the spent budget took %s: %v (the host was paused)", time.Since(start), err)
	}
	if n := src.Count(registrytest.ManifestGet); n != 1 {
		t.Fatalf("%d manifest GETs, want 1: the refused pull was retried", n)
	}
}

// Docker Hub's flow: Bearer tokens, and a budget already spent when the run starts. The
// first HEAD probe's 401 teaches the auth router the challenge (one 401 for the host, not
// one for the probe and one for the GET); the authenticated HEAD learns the budget is 0:
// no manifest GET, no 429, a transport.PullBudgetError per copy.
func TestHubBudgetSpentAtStartWithBearerAuth(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	repos, need := hubFleet(t, src, 4)
	hub := newHubEmulator(src, 1, 0, 0)
	hub.bearer = true
	c := newTestClient(t, ClientOptions{Concurrency: 4})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errs := copyAll(ctx, c, src.Host, dst.Host, repos)
	pulls, limiter429, _, _ := hub.counts()
	if len(errs) != len(repos) || pulls != 0 || limiter429 != 0 || hub.unauth != 1 {
		t.Fatalf("%d of %d copies failed (want all), pulls %d, limiter 429s %d (want 0 and 0), 401s %d (want 1)",
			len(errs), len(repos), pulls, limiter429, hub.unauth)
	}
	for _, err := range errs {
		var pb *transport.PullBudgetError
		if !errors.As(err, &pb) {
			t.Fatalf("copy error %v, want a transport.PullBudgetError", err)
		}
	}
	if n := src.Count(registrytest.ManifestGet); n != 0 {
		t.Fatalf("%d manifest GETs reached a host whose budget was spent", n)
	}

	// The window passed (a new budget of exactly what is needed): everything copies with
	// the one 401 of a new client and no 429 from the limiter.
	hub2 := newHubEmulator(src, 5, 0.08, need)
	hub2.bearer = true
	c2 := newTestClient(t, ClientOptions{Concurrency: 4})
	if errs := copyAll(ctx, c2, src.Host, dst.Host, repos); len(errs) > 0 {
		t.Fatalf("%d copies failed with the exact budget, first: %v", len(errs), errs[0])
	}
	pulls, limiter429, _, _ = hub2.counts()
	if pulls != need || limiter429 != 0 || hub2.unauth != 1 {
		t.Fatalf("pulls %d (want %d), limiter 429s %d (want 0), 401s %d (want 1)", pulls, need, limiter429, hub2.unauth)
	}
}
