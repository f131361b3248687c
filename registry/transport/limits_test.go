package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// The delay shared by a host's 429s doubles with each one in a row and restarts at the
// first other answer; a Retry-After is never undercut.
func TestThrottleDelayGrowsAndResets(t *testing.T) {
	h, err := newHostLimits(nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := Policy{base: 100 * time.Millisecond, max: 10 * time.Second, maxPause: time.Minute}
	for i := range 4 {
		d, _ := h.throttleDelay("r.example", p, 0)
		low := p.base << i / 2
		if d < low || d > p.base<<i {
			t.Fatalf("429 #%d: delay %s, want in [%s, %s]", i+1, d, low, p.base<<i)
		}
	}
	h.answered("r.example", &http.Response{StatusCode: http.StatusOK})
	if d, _ := h.throttleDelay("r.example", p, 0); d > p.base {
		t.Fatalf("after a success: delay %s, want at most %s", d, p.base)
	}
	if d, _ := h.throttleDelay("other.example", p, 3*time.Second); d != 3*time.Second {
		t.Fatalf("Retry-After 3s undercut: %s", d)
	}
}

// A storm is told from chance by the share of 429s among the host's latest answers: on a
// fresh host the 4th 429 in a row is one; after 16 other answers it takes 8 of the latest
// 16; two in a row among other answers, or one in twenty over thousands of answers, never
// are.
func TestThrottleStormIsAShareOfRecentAnswers(t *testing.T) {
	h, err := newHostLimits(nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := Policy{base: time.Millisecond, max: time.Second, maxPause: time.Minute}
	ok := &http.Response{StatusCode: http.StatusOK}
	storms := func(host string, pattern string) []int {
		var at []int
		for i, c := range pattern {
			if c == 'x' {
				if _, storm := h.throttleDelay(host, p, 0); storm {
					at = append(at, i)
				}
				continue
			}
			h.answered(host, ok)
		}
		return at
	}
	if got := storms("fresh.example", "xxxxxx"); len(got) != 3 || got[0] != 3 {
		t.Fatalf("fresh host, six 429s: storms at %v, want from the 4th (index 3) on", got)
	}
	if got := storms("busy.example", strings.Repeat(".", 16)+"xxxxxxxx"); len(got) != 1 || got[0] != 23 {
		t.Fatalf("after 16 answers, eight 429s: storms at %v, want at the 8th only (index 23)", got)
	}
	if got := storms("pairs.example", strings.Repeat(strings.Repeat(".", 14)+"xx", 50)); len(got) != 0 {
		t.Fatalf("two 429s in a row every 16 answers: storms at %v, want none", got)
	}
	if got := storms("sparse.example", strings.Repeat(strings.Repeat(".", 19)+"x", 500)); len(got) != 0 {
		t.Fatalf("one 429 in twenty: storms at %v, want none", got)
	}
	// Quota 429s are the pull budget's: they count in neither the delay nor the window.
	h.answered("fresh.example", &http.Response{StatusCode: http.StatusTooManyRequests})
	if _, storm := h.throttleDelay("fresh.example", p, 0); !storm {
		t.Fatalf("a quota 429 between two storm 429s ended the storm")
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

// pacedTransport has a --rate-limit of 1 pull per period on host, whose budget counts as
// spent past a 10ms wait (5s in a run).
func pacedTransport(t *testing.T, host string, period time.Duration, c Config) *Transport {
	c.Rates = []HostRate{{Host: host, Kind: KindManifestGet, N: 1, Period: period}}
	tr := newTestTransport(t, c)
	tr.Limits.state(host).pulls.spentAfter = 10 * time.Millisecond
	return tr
}

// --on-budget fail (the default): a pull past a spent --rate-limit budget is refused at
// once, naming the budget and the pulls still needed; nothing reaches the registry.
func TestRateLimitBudgetSpentFails(t *testing.T) {
	src := registrytest.New(t)
	pushRandom(t, src.Host+"/a:1")
	pushRandom(t, src.Host+"/b:1")
	tr := pacedTransport(t, src.Host, time.Hour, Config{})
	ctx := context.Background()
	if err := getManifest(ctx, tr, src.Host, "a", "1"); err != nil {
		t.Fatal(err)
	}
	err := getManifest(ctx, tr, src.Host, "b", "1")
	var pb *PullBudgetError
	if !errors.As(err, &pb) || pb.Refused != 1 || !strings.Contains(err.Error(), "--rate-limit 1 per 1h0m0s") {
		t.Fatalf("second pull: %v; want a PullBudgetError naming the budget and 1 pull needed", err)
	}
	if n := src.Count(registrytest.ManifestGet); n != 1 {
		t.Fatalf("%d manifest GETs, want 1", n)
	}
}

// --on-budget wait: a spent --rate-limit budget is waited for, with one log line saying
// until when; every pull completes.
func TestRateLimitBudgetSpentWaits(t *testing.T) {
	src := registrytest.New(t)
	pushRandom(t, src.Host+"/a:1")
	pushRandom(t, src.Host+"/b:1")
	obs, logs := observer.New(zapcore.InfoLevel)
	tr := pacedTransport(t, src.Host, 300*time.Millisecond, Config{WaitForBudget: true, Log: zap.New(obs)})
	ctx := context.Background()
	for _, repo := range []string{"a", "b"} {
		if err := getManifest(ctx, tr, src.Host, repo, "1"); err != nil {
			t.Fatalf("pull %s: %v", repo, err)
		}
	}
	waits := logs.FilterMessageSnippet("pull budget (--rate-limit 1 per 300ms)").All()
	if len(waits) != 1 {
		t.Fatalf("logged %v; want one line about waiting for the pull budget", logs.All())
	}
	if _, ok := waits[0].ContextMap()["until"].(time.Time); !ok {
		t.Fatalf("the wait line %v does not say until when", waits[0].ContextMap())
	}
	if len(tr.Limits.RefusedPulls()) != 0 {
		t.Fatalf("RefusedPulls = %v while waiting was allowed", tr.Limits.RefusedPulls())
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
	h.Mirror("docker.io", "mirror.example:5000")
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

// --max-per-host: with a cap of 2, six concurrent manifest HEADs on one host never have more than
// 2 requests at the registry; the other four wait for a slot, then all complete.
func TestMaxPerHostCapsRequestsInFlight(t *testing.T) {
	reg := registrytest.New(t)
	const n, limit = 6, 2
	for i := range n {
		pushRandom(t, fmt.Sprintf("%s/app%d:1", reg.Host, i))
	}
	tr := newTestTransport(t, Config{MaxPerHost: map[string]int{reg.Host: limit}})
	ctx := context.Background()

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
	tr.Limits.onCapWait = func(host string) { waiting <- host }
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})

	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- headManifest(ctx, tr, reg.Host, fmt.Sprintf("app%d", i), "1")
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

// Hosts named like private ECR registries get ECR's default quotas (PutImage 10/s, layer
// upload initiate and complete) without being listed; any other host gets none.
func TestECRHostNamesGetDefaultQuotas(t *testing.T) {
	limits, err := newHostLimits(nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"111122223333.dkr.ecr.eu-west-1.amazonaws.com", "111122223333.dkr-ecr.eu-west-1.on.aws"} {
		s := limits.state(host)
		if lim := s.buckets[bucketKind(KindManifestPut)]; lim == nil || lim.Limit() != 10 {
			t.Fatalf("%s: no 10/s manifest PUT bucket", host)
		}
		if s.buckets[bucketKind(KindUpload)+":start"] == nil || s.buckets[bucketKind(KindUpload)+":complete"] == nil {
			t.Fatalf("%s: no upload buckets", host)
		}
	}
	if s := limits.state("ghcr.io"); len(s.buckets) != 0 {
		t.Fatalf("ghcr.io got ECR quotas: %v", s.buckets)
	}
}

// newTestTransport is a transport for loopback registries (every host insecure), without
// retries' waits.
func newTestTransport(t *testing.T, c Config) *Transport {
	t.Helper()
	c.Insecure = func(string) bool { return true }
	if c.RetryBackoff == 0 {
		c.RetryBackoff = time.Millisecond
	}
	tr, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// pushRandom pushes a small random image to ref.
func pushRandom(t *testing.T, ref string) {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
}

func getManifest(ctx context.Context, tr *Transport, host, repo, tag string) error {
	return sendManifest(ctx, tr, http.MethodGet, host, repo, tag)
}

func headManifest(ctx context.Context, tr *Transport, host, repo, tag string) error {
	return sendManifest(ctx, tr, http.MethodHead, host, repo, tag)
}

func sendManifest(ctx context.Context, tr *Transport, method, host, repo, tag string) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+host+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", string(types.DockerManifestSchema2)+","+string(types.OCIManifestSchema1))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s/%s:%s: %s", method, host, repo, tag, resp.Status)
	}
	return nil
}
