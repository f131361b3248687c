package engine

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// sourceLog records when each repository's requests reached a source registry.
type sourceLog struct {
	mu   sync.Mutex
	seen map[string][]time.Time // repository → arrival times
	all  []time.Time
}

func (l *sourceLog) add(repo string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string][]time.Time{}
	}
	l.seen[repo] = append(l.seen[repo], at)
	l.all = append(l.all, at)
}

func (l *sourceLog) first(repo string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.seen[repo]) == 0 {
		return time.Time{}
	}
	return l.seen[repo][0]
}

// Through the pool: a source answers 429 with Retry-After twice to one image's manifest
// GET, then serves it. The job succeeds after waiting out both, its retries a Retry-After
// apart. A 429 about one request does not pause its host: the host's other images,
// released once app0 drew its first 429, reach the host and are copied while app0 waits,
// and a worker on another host is not held either. (A storm of 429s, most of the host's
// answers, does pause the host: registry/transport's TestThrottlePairIsChanceStormPauses.)
func TestPool429RetryAfterHoldsOnlyItsJob(t *testing.T) {
	a, b, dst := registrytest.New(t), registrytest.New(t), registrytest.New(t)
	imgs := images(t, 5)
	for i, name := range []string{"app0", "app1", "app2", "app3"} {
		push(t, a.Host+"/"+name+":1", imgs[i])
	}
	push(t, b.Host+"/other:1", imgs[4])
	a.Reset()
	b.Reset()

	var mu sync.Mutex
	var throttled []time.Time
	firstThrottle := make(chan struct{})
	logA, logB := &sourceLog{}, &sourceLog{}
	a.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		kind, repo := registrytest.Classify(r)
		now := time.Now()
		logA.add(repo, now)
		mu.Lock()
		defer mu.Unlock()
		if repo == "app0" && kind == registrytest.ManifestGet && len(throttled) < 2 {
			throttled = append(throttled, now)
			if len(throttled) == 1 {
				close(firstThrottle)
			}
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	})
	b.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		_, repo := registrytest.Classify(r)
		logB.add(repo, time.Now())
		return false
	})
	// Every job but app0's waits at its destination preflight until app0 drew its 429, so
	// the other workers reach the source while app0 waits out its Retry-After.
	dst.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if kind, repo := registrytest.Classify(r); kind == registrytest.ManifestHead && !strings.HasSuffix(repo, "/app0") {
			select {
			case <-firstThrottle:
			case <-r.Context().Done():
			}
		}
		return false
	})

	ctx := context.Background()
	c := newClient(t)
	// First reads teach the client that both hosts ask for no credentials; until then one
	// read at a time goes to a host, and app0's held GET would hold the others' too.
	if _, _, err := c.HeadManifest(ctx, job(a.Host+"/app0:1", dst.Host).Destination); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.HeadManifest(ctx, registry.MustParseImageRef(a.Host+"/app1:1")); err != nil {
		t.Fatal(err)
	}
	pool := NewPool(ctx, PoolOptions{Concurrency: 5, Client: c, Policy: Policy{SkipExisting: true}})
	first := pool.Submit(job(a.Host+"/app0:1", dst.Host))
	for _, name := range []string{"app1", "app2", "app3"} {
		pool.Submit(job(a.Host+"/"+name+":1", dst.Host))
	}
	pool.Submit(job(b.Host+"/other:1", dst.Host))
	results := pool.Close()
	if errs := failures(results); len(errs) > 0 || byOutcome(results)[OutcomeCopied] != 5 {
		t.Fatalf("results %v %v", byOutcome(results), errs)
	}
	if len(throttled) != 2 {
		t.Fatalf("429s served = %d, want 2", len(throttled))
	}
	if d := first.Wait(ctx).Duration; d < 1900*time.Millisecond {
		t.Fatalf("throttled job took %s: Retry-After 1 twice not honoured", d)
	}
	if gap := throttled[1].Sub(throttled[0]); gap < 950*time.Millisecond {
		t.Fatalf("the retry came %s after the first 429, before its Retry-After", gap)
	}
	for _, name := range []string{"app1", "app2", "app3"} {
		if at := logA.first(name); at.IsZero() || !at.Before(throttled[1]) {
			t.Fatalf("%s first reached the host %s after app0's first 429, not before its retry: a 429 about one request held the others", name, at.Sub(throttled[0]))
		}
	}
	if at := logB.first("other"); at.IsZero() || at.After(throttled[0].Add(900*time.Millisecond)) {
		t.Fatalf("the other host's job started %s after the 429: it was held by another host's 429", at.Sub(throttled[0]))
	}
}

// With one place (--concurrency 1), a job whose manifest GET must wait out a Retry-After
// of a second gives its place to the next job: that job, on another host, is copied while
// the first waits, and the first then completes too. (Holding its place, the first kept
// the second waiting for its whole second.)
func TestPoolJobWaitingOutRetryAfterLendsItsPlace(t *testing.T) {
	a, b, dst := registrytest.New(t), registrytest.New(t), registrytest.New(t)
	imgs := images(t, 2)
	push(t, a.Host+"/slow:1", imgs[0])
	push(t, b.Host+"/next:1", imgs[1])
	var mu sync.Mutex
	var gets []time.Time // slow's manifest GETs
	a.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		kind, repo := registrytest.Classify(r)
		if repo != "slow" || kind != registrytest.ManifestGet {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		gets = append(gets, time.Now())
		if len(gets) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	})
	nextLog := &sourceLog{} // next's manifest GETs: its copy's pulls
	b.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if kind, repo := registrytest.Classify(r); kind == registrytest.ManifestGet {
			nextLog.add(repo, time.Now())
		}
		return false
	})
	ctx := context.Background()
	c := newClient(t)
	// First reads teach the client each host's scheme (a host's first request goes alone).
	for _, ref := range []string{a.Host + "/slow:1", b.Host + "/next:1", dst.Host + "/none:1"} {
		if _, _, err := c.HeadManifest(ctx, registry.MustParseImageRef(ref)); err != nil {
			t.Fatal(err)
		}
	}
	pool := NewPool(ctx, PoolOptions{Concurrency: 1, Client: c, Policy: Policy{SkipExisting: true}})
	slow := pool.Submit(job(a.Host+"/slow:1", dst.Host))
	next := pool.Submit(job(b.Host+"/next:1", dst.Host))
	results := pool.Close()
	if errs := failures(results); len(errs) > 0 || byOutcome(results)[OutcomeCopied] != 2 {
		t.Fatalf("results %v %v", byOutcome(results), errs)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(gets) != 2 || gets[1].Sub(gets[0]) < 950*time.Millisecond {
		t.Fatalf("slow's manifest GETs at %v: want a 429 and a retry a Retry-After later", gets)
	}
	at := nextLog.first("next")
	if at.IsZero() || !at.Before(gets[1]) {
		t.Fatalf("next was first pulled %s after slow's 429, not while slow waited", at.Sub(gets[0]))
	}
	if n := next.Wait(ctx); n.Outcome != OutcomeCopied || slow.Wait(ctx).Outcome != OutcomeCopied {
		t.Fatalf("next %s, slow %s", n.Outcome, slow.Wait(ctx).Outcome)
	}
}
