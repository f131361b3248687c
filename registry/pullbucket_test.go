package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// copyEach copies src/repo:1 to dst/repo:1 for every repo at once and returns the error
// of each (nil: copied).
func copyEach(c *Client, src, dst string, repos []string) map[string]error {
	var mu sync.Mutex
	errs := map[string]error{}
	var wg sync.WaitGroup
	for _, repo := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Copy(context.Background(), MustParseImageRef(src+"/"+repo+":1"), MustParseImageRef(dst+"/"+repo+":1"), PlatformAuto)
			mu.Lock()
			errs[repo] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	return errs
}

// A --rate-limit budget of 3 pulls and two 2-platform images (3 pulls each: the index and
// its two platform manifests): one image is copied whole, the other refused before it
// takes a pull, with the count of pulls still needed; no pull is wasted on a half copy.
func TestRateLimitBudgetCompletesWholeImages(t *testing.T) {
	for round := range 5 { // the two copies race differently each round
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			src, dst := registrytest.New(t), registrytest.New(t)
			idx, _, _ := multiArch(t)
			pushIndex(t, src.Host+"/a:1", idx)
			idx2, _, _ := multiArch(t)
			pushIndex(t, src.Host+"/b:1", idx2)
			c := newTestClient(t, ClientOptions{Concurrency: 2,
				RateLimits: []HostRate{{Host: src.Host, Kind: KindManifestGet, N: 3, Period: time.Hour}}})
			errs := copyEach(c, src.Host, dst.Host, []string{"a", "b"})
			var done, refused []string
			for repo, err := range errs {
				var pb *PullBudgetError
				switch {
				case err == nil:
					done = append(done, repo)
				case errors.As(err, &pb) && pb.Budget != "" && strings.Contains(err.Error(), "more manifest pull(s) needed"):
					refused = append(refused, repo)
				default:
					t.Fatalf("copy %s: %v; want success or a PullBudgetError", repo, err)
				}
			}
			if len(done) != 1 || len(refused) != 1 {
				t.Fatalf("copied %v, refused %v; want one whole image copied and one refused", done, refused)
			}
			if n := src.Count(registrytest.ManifestGet); n != 3 {
				t.Fatalf("%d manifest GETs, want the 3 of the copied image", n)
			}
			if got, want := remoteDigest(t, dst.Host+"/"+done[0]+":1"), remoteDigest(t, src.Host+"/"+done[0]+":1"); got != want {
				t.Fatalf("destination %s, source %s", got, want)
			}
			if n := c.RefusedPulls()[src.Host]; n < 1 {
				t.Fatalf("RefusedPulls = %v, want the pulls still needed", c.RefusedPulls())
			}
		})
	}
}

// pacedClient is a client with a --rate-limit of 1 pull per period on host, whose budget
// counts as spent past a 10ms wait (5s in a run).
func pacedClient(t *testing.T, host string, period time.Duration, opts ClientOptions) *Client {
	opts.RateLimits = []HostRate{{Host: host, Kind: KindManifestGet, N: 1, Period: period}}
	c := newTestClient(t, opts)
	c.limits.state(host).pulls.spentAfter = 10 * time.Millisecond
	return c
}

// --on-budget fail (the default): a pull past a spent --rate-limit budget is refused at
// once, naming the budget and the pulls still needed; nothing reaches the registry.
func TestRateLimitBudgetSpentFails(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	pushImage(t, src.Host+"/a:1", platformImage(t, "linux", "amd64"))
	pushImage(t, src.Host+"/b:1", platformImage(t, "linux", "amd64"))
	c := pacedClient(t, src.Host, time.Hour, ClientOptions{Concurrency: 1})
	ctx := context.Background()
	if _, err := c.Copy(ctx, MustParseImageRef(src.Host+"/a:1"), MustParseImageRef(dst.Host+"/a:1"), PlatformAuto); err != nil {
		t.Fatal(err)
	}
	_, err := c.Copy(ctx, MustParseImageRef(src.Host+"/b:1"), MustParseImageRef(dst.Host+"/b:1"), PlatformAuto)
	var pb *PullBudgetError
	if !errors.As(err, &pb) || pb.Refused != 1 || !strings.Contains(err.Error(), "--rate-limit 1 per 1h0m0s") {
		t.Fatalf("second copy: %v; want a PullBudgetError naming the budget and 1 pull needed", err)
	}
	if n := src.Count(registrytest.ManifestGet); n != 1 {
		t.Fatalf("%d manifest GETs, want 1", n)
	}
}

// --on-budget wait: a spent --rate-limit budget is waited for, with one log line saying
// until when; every copy completes.
func TestRateLimitBudgetSpentWaits(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	pushImage(t, src.Host+"/a:1", platformImage(t, "linux", "amd64"))
	pushImage(t, src.Host+"/b:1", platformImage(t, "linux", "amd64"))
	obs, logs := observer.New(zapcore.InfoLevel)
	c := pacedClient(t, src.Host, 300*time.Millisecond, ClientOptions{Concurrency: 1, WaitForBudget: true, Logger: zap.New(obs)})
	ctx := context.Background()
	for _, repo := range []string{"a", "b"} {
		if _, err := c.Copy(ctx, MustParseImageRef(src.Host+"/"+repo+":1"), MustParseImageRef(dst.Host+"/"+repo+":1"), PlatformAuto); err != nil {
			t.Fatalf("copy %s: %v", repo, err)
		}
	}
	waits := logs.FilterMessageSnippet("pull budget (--rate-limit 1 per 300ms)").All()
	if len(waits) != 1 {
		t.Fatalf("logged %v; want one line about waiting for the pull budget", logs.All())
	}
	if _, ok := waits[0].ContextMap()["until"].(time.Time); !ok {
		t.Fatalf("the wait line %v does not say until when", waits[0].ContextMap())
	}
	if len(c.RefusedPulls()) != 0 {
		t.Fatalf("RefusedPulls = %v while waiting was allowed", c.RefusedPulls())
	}
}

// A 429 that says nothing about a quota is backed off by its own request: other requests
// to the host go on meanwhile (here a whole copy completes while the throttled one waits
// out a long Retry-After).
func TestRandom429DoesNotPauseTheHost(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	pushImage(t, src.Host+"/a:1", platformImage(t, "linux", "amd64"))
	pushImage(t, src.Host+"/b:1", platformImage(t, "linux", "amd64"))
	throttled := make(chan struct{})
	var once sync.Once
	src.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if isManifestGet(r) && strings.Contains(r.URL.Path, "/a/") {
			once.Do(func() { close(throttled) })
			w.Header().Set("Retry-After", "600")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	})
	pushImage(t, src.Host+"/warm:1", platformImage(t, "linux", "amd64"))
	c := newTestClient(t, ClientOptions{})
	// The host's scheme and challenge are learned first (that first request is one at a
	// time whatever its answer).
	if _, err := c.SourceDigest(context.Background(), MustParseImageRef(src.Host+"/warm:1"), PlatformAuto); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	aDone := make(chan error, 1)
	go func() {
		_, err := c.Copy(ctx, MustParseImageRef(src.Host+"/a:1"), MustParseImageRef(dst.Host+"/a:1"), PlatformAuto)
		aDone <- err
	}()
	<-throttled
	if _, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/b:1"), MustParseImageRef(dst.Host+"/b:1"), PlatformAuto); err != nil {
		t.Fatalf("copy b while a backs off: %v", err)
	}
	select {
	case err := <-aDone:
		t.Fatalf("copy a ended (%v) before its Retry-After", err)
	default:
	}
	cancel()
	if err := <-aDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("copy a after cancel: %v", err)
	}
}

// The delay shared by a host's 429s doubles with each one in a row, pauses the host from
// the second, and restarts at the first other answer.
func TestThrottleDelayGrowsAndResets(t *testing.T) {
	h, err := newHostLimits(nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := retryPolicy{base: 100 * time.Millisecond, max: 10 * time.Second, maxPause: time.Minute}
	for i := range 4 {
		d, storm := h.throttleDelay("r.example", p, 0)
		low := p.base << i / 2
		if d < low || d > p.base<<i {
			t.Fatalf("429 #%d: delay %s, want in [%s, %s]", i+1, d, low, p.base<<i)
		}
		if storm != (i >= 1) {
			t.Fatalf("429 #%d: storm %v", i+1, storm)
		}
	}
	h.answered("r.example", &http.Response{StatusCode: http.StatusOK})
	if d, storm := h.throttleDelay("r.example", p, 0); d > p.base || storm {
		t.Fatalf("after a success: delay %s storm %v, want at most %s and no storm", d, storm, p.base)
	}
	if d, _ := h.throttleDelay("other.example", p, 3*time.Second); d != 3*time.Second {
		t.Fatalf("Retry-After 3s undercut: %s", d)
	}
}

// TestScarceWaitIsBounded: an image that took its first pull and never learns its needs
// (its group not ended) holds the next image back for a bounded wait only, after which the
// next image takes its pull; before, it waited for the rest of the run.
func TestScarceWaitIsBounded(t *testing.T) {
	b := newPullBucket(3, time.Hour)
	b.spentAfter = 20 * time.Millisecond
	ctx := context.Background()
	if err := b.take(ctx, 1, takeStart, time.Now()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		since := time.Now()
		for {
			err := b.take(ctx, 1, takeStart, since)
			if !errors.Is(err, errScarce) {
				done <- err
				return
			}
			if err := b.awaitStart(ctx, since); err != nil {
				done <- err
				return
			}
		}
	}()
	if err := <-done; err != nil {
		t.Fatalf("second image's first pull: %v", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.unsized != 2 || b.tokens > 1.01 {
		t.Errorf("unsized %d, tokens %.2f: want both images started and 2 pulls taken", b.unsized, b.tokens)
	}
}
