package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// throttleRig is a registry whose manifest HEADs can be answered 429 (Retry-After 600)
// and a transport whose retries wait through the rig's hook instead of a timer.
type throttleRig struct {
	reg *registrytest.Registry
	tr  *Transport

	mu       sync.Mutex
	throttle func() bool // answer this HEAD 429? (nil: never)
	heads    int         // manifest HEADs that reached the registry
	waits    []time.Duration
	wait     func(ctx context.Context) error // the retry's wait (nil: none)
}

func newThrottleRig(t *testing.T) *throttleRig {
	t.Helper()
	r := &throttleRig{reg: registrytest.New(t)}
	pushRandom(t, r.reg.Host+"/app:1")
	r.reg.Intercept(func(w http.ResponseWriter, req *http.Request) bool {
		if req.Method != http.MethodHead {
			return false
		}
		r.mu.Lock()
		r.heads++
		th := r.throttle
		r.mu.Unlock()
		if th != nil && th() {
			w.Header().Set("Retry-After", "600")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	})
	r.tr = newTestTransport(t, Config{RetryWait: func(ctx context.Context, d time.Duration) error {
		r.mu.Lock()
		r.waits = append(r.waits, d)
		wait := r.wait
		r.mu.Unlock()
		if wait == nil {
			return nil
		}
		return wait(ctx)
	}})
	return r
}

func (r *throttleRig) set(throttle func() bool, wait func(ctx context.Context) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.throttle, r.wait = throttle, wait
}

func (r *throttleRig) head(ctx context.Context) error {
	return headManifest(ctx, r.tr, r.reg.Host, "app", "1")
}

// Two 429s in a row among a host's other answers are chance: each request that drew one
// waits out its own Retry-After (600 s, never undercut) and the host is not paused: the
// two retries, and a request that drew none, go through at once. (When two in a row
// paused the host, all three waited out its 600 s.) Then a storm, every answer a 429,
// still pauses the host: once it is paused, a request that drew no 429 does not reach it.
func TestThrottlePairIsChanceStormPauses(t *testing.T) {
	r := newThrottleRig(t)
	var paused []time.Time
	pausedCh := make(chan struct{}, 64)
	r.tr.Limits.onPause = func(host string, until time.Time) {
		r.mu.Lock()
		paused = append(paused, until)
		r.mu.Unlock()
		pausedCh <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a failure's bound
	defer cancel()
	for range throttleWindow {
		if err := r.head(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// The pair: both HEADs are answered 429 together, and neither retries before both
	// 429s were taken in (each request's wait holds until both are waiting).
	arrived := make(chan struct{})
	var pairMu sync.Mutex
	var arrivals int
	answerTogether := func() bool {
		pairMu.Lock()
		arrivals++
		n := arrivals
		pairMu.Unlock()
		switch n {
		case 1:
			<-arrived
			return true
		case 2:
			close(arrived)
			return true
		}
		return false
	}
	bothWaiting := make(chan struct{})
	var waiting int
	r.set(answerTogether, func(ctx context.Context) error {
		r.mu.Lock()
		if waiting++; waiting == 2 {
			close(bothWaiting)
		}
		r.mu.Unlock()
		select {
		case <-bothWaiting:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- r.head(ctx) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("a request that drew one of two 429s: %v", err)
		}
	}
	r.set(nil, nil)
	if err := r.head(ctx); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	if len(paused) != 0 {
		t.Errorf("two 429s among %d answers paused the host until %v", throttleWindow, paused)
	}
	if len(r.waits) != 2 || r.waits[0] != 600*time.Second || r.waits[1] != 600*time.Second {
		t.Errorf("the two throttled requests waited %v, want their Retry-After of 600s each", r.waits)
	}
	r.mu.Unlock()

	// The storm: every HEAD answered 429 until the host is paused.
	r.set(func() bool { return true }, nil)
	stormCtx, stop := context.WithCancel(ctx)
	stormDone := make(chan error, 1)
	go func() { stormDone <- r.head(stormCtx) }()
	select {
	case <-pausedCh:
	case err := <-stormDone:
		t.Fatalf("a request answered 429 every time ended (%v) without pausing the host", err)
	case <-ctx.Done():
		t.Fatal("a storm of 429s never paused the host")
	}
	r.mu.Lock()
	before, until := r.heads, paused[0]
	r.mu.Unlock()
	if left := time.Until(until); left < 590*time.Second {
		t.Fatalf("the storm paused the host for %s, want its Retry-After of 600s", left)
	}
	short, done := context.WithTimeout(ctx, 200*time.Millisecond)
	defer done()
	if err := r.head(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a request to the paused host: %v, want it held until its deadline", err)
	}
	stop()
	<-stormDone
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.heads != before {
		t.Fatalf("%d requests reached the host while it was paused", r.heads-before)
	}
}

// A manifest PUT answered 429 is sent again with its whole body: the manifest lands
// under its tag, byte for byte. (Before, a 429 did not count as an attempt, the retry
// reused the spent body, and the PUT failed: "ContentLength=… with Body length 0".)
func TestThrottledPutResendsItsBody(t *testing.T) {
	reg := registrytest.New(t)
	pushRandom(t, reg.Host+"/app:1")
	manifest, err := crane.Manifest(reg.Host+"/app:1", crane.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	puts := 0
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if k, _ := registrytest.Classify(r); k != registrytest.ManifestPut {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if puts++; puts == 1 {
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	})
	tr := newTestTransport(t, Config{})
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPut, "http://"+reg.Host+"/v2/app/manifests/2", bytes.NewReader(manifest))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", manifestMediaType(t, manifest))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("PUT after a 429: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT after a 429: %s", resp.Status)
	}
	got, err := crane.Manifest(reg.Host+"/app:2", crane.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, manifest) {
		t.Fatalf("the manifest under app:2 differs from the one sent")
	}
	if puts != 2 {
		t.Fatalf("%d PUTs reached the registry, want 2 (a 429, then the retry)", puts)
	}
}

// manifestMediaType is the mediaType a manifest declares.
func manifestMediaType(t *testing.T, b []byte) string {
	t.Helper()
	var m struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.MediaType
}

// A request that must wait out a Retry-After calls its context's yield before waiting; a
// short backoff (a 500 retried after a millisecond here) does not.
func TestLongRetryWaitYields(t *testing.T) {
	r := newThrottleRig(t)
	ctx := context.Background()
	if err := r.head(ctx); err != nil { // the host's scheme is learned first
		t.Fatal(err)
	}
	var mu sync.Mutex
	yields := 0
	yctx := WithYield(ctx, func() {
		mu.Lock()
		yields++
		mu.Unlock()
	})
	first := true
	r.set(func() bool {
		was := first
		first = false
		return was
	}, nil)
	if err := r.head(yctx); err != nil {
		t.Fatal(err)
	}
	if yields != 1 {
		t.Fatalf("a Retry-After of 600s: %d yields, want 1", yields)
	}
	// A 500, retried after the test transport's millisecond: no yield.
	served := false
	r.set(nil, nil)
	r.reg.Intercept(func(w http.ResponseWriter, req *http.Request) bool {
		if req.Method == http.MethodHead && !served {
			served = true
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	})
	if err := r.head(yctx); err != nil {
		t.Fatal(err)
	}
	if !served || yields != 1 {
		t.Fatalf("a 500 retried at once: served %v, %d yields in all, want still 1", served, yields)
	}
}
