package engine

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

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
// GET, then serves it. The job succeeds after both pauses; while the host is paused no
// worker reaches it (the other images of that host wait though they never drew a 429),
// and a worker on another host is not held.
func TestPool429RetryAfterPausesEveryWorkerOnTheHost(t *testing.T) {
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
	// the other workers reach the source while it is paused.
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
	// A first read teaches the client that dst asks for no credentials; until then one
	// read at a time goes to dst, and a held preflight would hold app0's too.
	if _, _, err := c.HeadManifest(ctx, job(a.Host+"/app0:1", dst.Host).Destination); err != nil {
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
	logA.mu.Lock()
	for _, at := range logA.all {
		for _, th := range throttled {
			if at.After(th.Add(100*time.Millisecond)) && at.Before(th.Add(900*time.Millisecond)) {
				logA.mu.Unlock()
				t.Fatalf("a request reached the paused host %s after a 429", at.Sub(th))
			}
		}
	}
	logA.mu.Unlock()
	for _, name := range []string{"app1", "app2", "app3"} {
		if at := logA.first(name); at.Before(throttled[0].Add(900 * time.Millisecond)) {
			t.Fatalf("%s reached the host %s after app0's 429: the pause did not hold every worker", name, at.Sub(throttled[0]))
		}
	}
	if at := logB.first("other"); at.IsZero() || at.After(throttled[0].Add(900*time.Millisecond)) {
		t.Fatalf("the other host's job started %s after the 429: it was held by another host's pause", at.Sub(throttled[0]))
	}
}
