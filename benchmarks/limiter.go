package benchmarks

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// tokenBucket holds up to burst tokens refilled at rate per second. Its clock is injectable
// so its accounting can be tested without waiting.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

func newTokenBucket(rate, burst float64, now func() time.Time) *tokenBucket {
	if now == nil {
		now = time.Now
	}
	return &tokenBucket{rate: rate, burst: burst, tokens: burst, last: now(), now: now}
}

func (b *tokenBucket) refill() {
	t := b.now()
	if el := t.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(b.burst, b.tokens+el*b.rate)
	}
	b.last = t
}

// reserve takes n tokens, going into debt if needed, and says how long the caller must wait
// before it may use them.
func (b *tokenBucket) reserve(n int) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill()
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// allow takes one token if one is there.
func (b *tokenBucket) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill()
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// HubLimit emulates Docker Hub's pull limit: Pulls manifest GETs per Window (a fixed window
// that starts at the first request); HEADs are free.
type HubLimit struct {
	Pulls  int
	Window time.Duration
}

type hubLimiter struct {
	mu    sync.Mutex
	lim   HubLimit
	start time.Time
	used  int
	now   func() time.Time
}

// check answers a manifest request: it sets the ratelimit headers on h and says whether the
// request may go on. Only GETs count.
func (l *hubLimiter) check(method string, h http.Header) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.now()
	if l.start.IsZero() || t.Sub(l.start) >= l.lim.Window {
		l.start, l.used = t, 0
	}
	w := int(l.lim.Window.Seconds())
	h.Set("ratelimit-limit", fmt.Sprintf("%d;w=%d", l.lim.Pulls, w))
	h.Set("docker-ratelimit-source", "airgap-bench")
	allowed := true
	if method == http.MethodGet {
		if l.used >= l.lim.Pulls {
			allowed = false
		} else {
			l.used++
		}
	}
	h.Set("ratelimit-remaining", fmt.Sprintf("%d;w=%d", l.lim.Pulls-l.used, w))
	if !allowed {
		retry := l.lim.Window - t.Sub(l.start)
		h.Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
	}
	return allowed
}

// ECRLimit emulates ECR's default API quotas on the registry data plane; zero fields take
// ECR's defaults (PutImage 10/s, InitiateLayerUpload and CompleteLayerUpload 100/s).
type ECRLimit struct {
	ManifestPutPerSecond float64
	UploadPerSecond      float64
}

type ecrLimiter struct {
	put, start, complete *tokenBucket
}

func newECRLimiter(l ECRLimit, now func() time.Time) *ecrLimiter {
	if l.ManifestPutPerSecond <= 0 {
		l.ManifestPutPerSecond = 10
	}
	if l.UploadPerSecond <= 0 {
		l.UploadPerSecond = 100
	}
	return &ecrLimiter{
		put:      newTokenBucket(l.ManifestPutPerSecond, l.ManifestPutPerSecond, now),
		start:    newTokenBucket(l.UploadPerSecond, l.UploadPerSecond, now),
		complete: newTokenBucket(l.UploadPerSecond, l.UploadPerSecond, now),
	}
}

// check says whether a request of kind may go on.
func (e *ecrLimiter) check(kind string) bool {
	switch kind {
	case "manifest PUT":
		return e.put.allow()
	case "upload start", "mount":
		return e.start.allow()
	case "upload complete":
		return e.complete.allow()
	}
	return true
}

// Faults injects errors into a fraction of the registry requests (the /v2/ ping is spared),
// drawn from a seeded generator so a run is repeatable.
type Faults struct {
	Rate  float64
	Seed  uint64
	Codes []int // status codes to draw from; nil: 429, 500, 502, 503
}

type faultInjector struct {
	mu    sync.Mutex
	rate  float64
	codes []int
	rng   *rand.Rand
}

func newFaultInjector(f Faults) *faultInjector {
	codes := f.Codes
	if len(codes) == 0 {
		codes = []int{http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}
	}
	return &faultInjector{rate: f.Rate, codes: codes, rng: rand.New(rand.NewPCG(f.Seed, 0x6661756c))}
}

// draw returns a status code to inject, or 0.
func (f *faultInjector) draw() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rng.Float64() >= f.rate {
		return 0
	}
	return f.codes[f.rng.IntN(len(f.codes))]
}
