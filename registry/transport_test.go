package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/airgap-charts/airgap-charts/registry/transport"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// Both copies' first manifest GETs answered 429 with Retry-After, then success: each
// waits out its own Retry-After before trying again, so nothing reaches the host inside it.
// (Whether the host as a whole is paused is the storm test's: registry/transport.)
func TestRetryAfter429IsWaitedOut(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	pushImage(t, src.Host+"/a:1", platformImage(t, "linux", "amd64"))
	pushImage(t, src.Host+"/b:1", platformImage(t, "linux", "amd64"))
	var mu sync.Mutex
	var throttled []time.Time
	var seen []time.Time
	src.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, time.Now())
		if isManifestGet(r) && len(throttled) < 2 {
			throttled = append(throttled, time.Now())
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	})
	c := newTestClient(t, ClientOptions{Concurrency: 2})
	start := time.Now()
	var wg sync.WaitGroup
	for _, repo := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/"+repo+":1"), MustParseImageRef(dst.Host+"/"+repo+":1"), PlatformAuto); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(throttled) != 2 {
		t.Fatalf("throttled %d times, want 2", len(throttled))
	}
	if el := time.Since(start); el < 1900*time.Millisecond {
		t.Fatalf("copies finished after %s: Retry-After not honoured", el)
	}
	last := throttled[len(throttled)-1]
	for _, at := range seen {
		if at.After(last.Add(100*time.Millisecond)) && at.Before(last.Add(900*time.Millisecond)) {
			t.Fatalf("a request reached the host %s after its 429, inside the Retry-After pause", at.Sub(last))
		}
	}
}

// 500 on a blob GET and a manifest PUT: retried, the copy succeeds.
func TestRetry500ThenSuccess(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	img := platformImage(t, "linux", "amd64")
	pushImage(t, src.Host+"/a:1", img)
	fail := func(reg *registrytest.Registry, kind registrytest.Kind) *int {
		n := new(int)
		var mu sync.Mutex
		reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			k, _ := registrytest.Classify(r)
			mu.Lock()
			defer mu.Unlock()
			if k == kind && *n == 0 {
				*n++
				w.WriteHeader(http.StatusInternalServerError)
				return true
			}
			return false
		})
		return n
	}
	blobFail := fail(src, registrytest.BlobGet)
	putFail := fail(dst, registrytest.ManifestPut)
	c := newTestClient(t, ClientOptions{})
	if _, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/a:1"), MustParseImageRef(dst.Host+"/a:1"), PlatformAuto); err != nil {
		t.Fatal(err)
	}
	if *blobFail != 1 || *putFail != 1 {
		t.Fatalf("failures served: blob %d, put %d", *blobFail, *putFail)
	}
	if got := remoteDigest(t, dst.Host+"/a:1"); got != digestOf(t, img) {
		t.Fatalf("digest %s, want %s", got, digestOf(t, img))
	}
}

// --rate-limit: manifest GETs to the host are spaced by the token bucket.
func TestManifestGetRateLimit(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	for i := range 5 {
		pushImage(t, fmt.Sprintf("%s/r%d:1", src.Host, i), platformImage(t, "linux", "amd64"))
	}
	var mu sync.Mutex
	var gets []time.Time
	src.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if isManifestGet(r) {
			mu.Lock()
			gets = append(gets, time.Now())
			mu.Unlock()
		}
		return false
	})
	c := newTestClient(t, ClientOptions{Concurrency: 5, RateLimits: []transport.HostRate{{Host: src.Host, Kind: transport.KindManifestGet, N: 2, Period: 400 * time.Millisecond}}})
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Copy(context.Background(), MustParseImageRef(fmt.Sprintf("%s/r%d:1", src.Host, i)), MustParseImageRef(fmt.Sprintf("%s/r%d:1", dst.Host, i)), PlatformAuto); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(gets) != 5 {
		t.Fatalf("manifest GETs = %d, want 5", len(gets))
	}
	// Burst 2, then one every 200ms: the 5th no earlier than 600ms after the first.
	if span := gets[4].Sub(gets[0]); span < 550*time.Millisecond {
		t.Fatalf("5 manifest GETs within %s: budget of 2 per 400ms not honoured", span)
	}
}

// Docker Hub's ratelimit-remaining header: the run stops cleanly before the budget is
// spent, saying how many pulls it still needed; HEADs cost nothing.
func TestPullBudgetHeaderStopsCleanly(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	for i := range 4 {
		pushImage(t, fmt.Sprintf("%s/r%d:1", src.Host, i), platformImage(t, "linux", "amd64"))
	}
	var mu sync.Mutex
	remaining := 3
	src.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if isManifestGet(r) {
			remaining--
		}
		w.Header().Set("ratelimit-remaining", fmt.Sprintf("%d;w=21600", remaining))
		return false
	})
	c := newTestClient(t, ClientOptions{Concurrency: 1})
	ctx := context.Background()
	var failed []error
	for i := range 4 {
		_, err := c.Copy(ctx, MustParseImageRef(fmt.Sprintf("%s/r%d:1", src.Host, i)), MustParseImageRef(fmt.Sprintf("%s/r%d:1", dst.Host, i)), PlatformAuto)
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) != 1 {
		t.Fatalf("failures %v, want exactly the 4th copy refused", failed)
	}
	var pb *transport.PullBudgetError
	if !errors.As(failed[0], &pb) || pb.Refused != 1 || pb.Window != 6*time.Hour {
		t.Fatalf("err = %v, want a transport.PullBudgetError with 1 refused pull and a 6h window", failed[0])
	}
	if !strings.Contains(failed[0].Error(), "1 more manifest pull(s) needed") {
		t.Fatalf("message %q does not say how many pulls were needed", failed[0])
	}
	if got := src.Count(registrytest.ManifestGet); got != 3 {
		t.Fatalf("manifest GETs = %d, want 3 (the budget)", got)
	}
	if got := c.RefusedPulls()[src.Host]; got != 1 {
		t.Fatalf("RefusedPulls = %v", c.RefusedPulls())
	}
	// Existence and digest checks are HEADs: still allowed.
	if _, err := c.SourceDigest(ctx, MustParseImageRef(src.Host+"/r3:1"), PlatformAuto); err != nil {
		t.Fatalf("HEAD after the budget was spent: %v", err)
	}
}

// Credentials from docker config.json reach the registry; a wrong token fails with an
// error that does not contain it.
func TestAuthFromDockerConfigAndNoSecretInErrors(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	pushImage(t, src.Host+"/private:1", platformImage(t, "linux", "amd64"))
	const user, good = "robot", "s3cr3t-good-token"
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+good))
	src.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") == want {
			return false
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return true
	})
	writeConfig := func(dir, token string) {
		auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + token))
		cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, src.Host, auth)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()

	bad := "wr0ng-token-value"
	c := newTestClient(t, ClientOptions{})
	writeConfig(os.Getenv("DOCKER_CONFIG"), bad)
	_, err := c.Copy(ctx, MustParseImageRef(src.Host+"/private:1"), MustParseImageRef(dst.Host+"/private:1"), PlatformAuto)
	if err == nil {
		t.Fatal("copy with a wrong token succeeded")
	}
	for _, secret := range []string{bad, base64.StdEncoding.EncodeToString([]byte(user + ":" + bad))} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error leaks the credential: %v", err)
		}
	}

	c2 := newTestClient(t, ClientOptions{})
	writeConfig(os.Getenv("DOCKER_CONFIG"), good)
	if _, err := c2.Copy(ctx, MustParseImageRef(src.Host+"/private:1"), MustParseImageRef(dst.Host+"/private:1"), PlatformAuto); err != nil {
		t.Fatalf("copy with docker config credentials: %v", err)
	}
}

// Flag credentials win for their hosts; other hosts fall through the chain.
func TestFlagKeychain(t *testing.T) {
	c := newTestClient(t, ClientOptions{DockerHubUser: "u", DockerHubToken: "hub", PublicECRPassword: "pub", PrivateECRPassword: "priv"})
	cases := map[string]string{
		"index.docker.io": "hub",
		"public.ecr.aws":  "pub",
		"111122223333.dkr.ecr.us-east-1.amazonaws.com": "priv",
		"quay.io": "",
	}
	for host, want := range cases {
		repo, err := c.destRepo(MustParseImageRef(host + "/x/y:1"))
		if err != nil {
			t.Fatal(err)
		}
		auth, err := c.keychain.Resolve(repo)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := auth.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Password != want {
			t.Fatalf("%s: password %q, want %q", host, cfg.Password, want)
		}
	}
}

// With PullBudgetWait, a spent budget is waited out for its window instead of failing.
func TestPullBudgetWaitsForWindow(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	pushImage(t, src.Host+"/a:1", platformImage(t, "linux", "amd64"))
	pushImage(t, src.Host+"/b:1", platformImage(t, "linux", "amd64"))
	var mu sync.Mutex
	var firstAnswer time.Time
	src.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if isManifestGet(r) && firstAnswer.IsZero() {
			firstAnswer = time.Now()
			w.Header().Set("ratelimit-remaining", "0;w=1")
		}
		return false
	})
	c := newTestClient(t, ClientOptions{PullBudgetWait: 5 * time.Second})
	ctx := context.Background()
	for _, repo := range []string{"a", "b"} {
		if _, err := c.Copy(ctx, MustParseImageRef(src.Host+"/"+repo+":1"), MustParseImageRef(dst.Host+"/"+repo+":1"), PlatformAuto); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(firstAnswer); el < 900*time.Millisecond {
		t.Fatalf("second pull after %s: the 1s window was not waited for", el)
	}
}

// An insecure TLS registry (self-signed) is reached without certificate verification.
func TestInsecureTLSRegistry(t *testing.T) {
	src := registrytest.New(t, registrytest.WithTLS())
	dst := registrytest.New(t)
	img := platformImage(t, "linux", "amd64")
	// Seed through a plain client of the test server's own TLS config.
	plain := registrytest.New(t)
	seed := newTestClient(t, ClientOptions{Insecure: []string{src.Host, plain.Host}})
	pushImage(t, plain.Host+"/seed:1", img)
	if _, err := seed.Copy(context.Background(), MustParseImageRef(plain.Host+"/seed:1"), MustParseImageRef(src.Host+"/app:1"), PlatformAuto); err != nil {
		t.Fatalf("push to TLS registry: %v", err)
	}
	if !seed.Insecure(src.Host) || seed.Insecure("example.com") {
		t.Fatal("Insecure() does not follow the option")
	}
	c := newTestClient(t, ClientOptions{Insecure: []string{"127.0.0.1"}}) // bare host: every port
	res, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/app:1"), MustParseImageRef(dst.Host+"/app:1"), PlatformAuto)
	if err != nil {
		t.Fatal(err)
	}
	if res.DestDigest != digestOf(t, img) {
		t.Fatalf("digest %s, want %s", res.DestDigest, digestOf(t, img))
	}
	strict := newStrictClient(t, ClientOptions{})
	if _, err := strict.SourceDigest(context.Background(), MustParseImageRef(src.Host+"/app:1"), PlatformAuto); err == nil {
		t.Fatal("a self-signed registry was trusted without --insecure-registry")
	}
}

// The retry clock is the client's to give: a 429 asking for 30s and a 503 are each waited
// out through RetryWait (here recording the waits and returning at once), the 429's wait
// at least its Retry-After, and the copy completes without sitting out either.
func TestRetryWaitsThroughTheGivenClock(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	pushImage(t, src.Host+"/app:1", platformImage(t, "linux", "amd64"))
	var answered atomic.Int32
	src.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if k, _ := registrytest.Classify(r); k != registrytest.ManifestGet && k != registrytest.ManifestHead {
			return false
		}
		switch answered.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "30")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		case 2:
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	var mu sync.Mutex
	var waits []time.Duration
	c := newTestClient(t, ClientOptions{RetryWait: func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return ctx.Err()
	}})
	if _, err := c.Copy(context.Background(), MustParseImageRef(src.Host+"/app:1"), MustParseImageRef(dst.Host+"/app:1"), PlatformAuto); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 2 {
		t.Fatalf("waits %v: want one for the 429 and one for the 503", waits)
	}
	if waits[0] < 30*time.Second {
		t.Errorf("the 429's wait %s is shorter than its Retry-After of 30s", waits[0])
	}
	if waits[1] <= 0 || waits[1] >= 30*time.Second {
		t.Errorf("the 503's backoff %s: want a short exponential backoff", waits[1])
	}
}
