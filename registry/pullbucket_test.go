package registry

import (
	"context"
	"errors"
	"fmt"
	"github.com/airgap-charts/airgap-charts/registry/transport"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

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
				RateLimits: []transport.HostRate{{Host: src.Host, Kind: transport.KindManifestGet, N: 3, Period: time.Hour}}})
			errs := copyEach(c, src.Host, dst.Host, []string{"a", "b"})
			var done, refused []string
			for repo, err := range errs {
				var pb *transport.PullBudgetError
				switch {
				case err == nil:
					done = append(done, repo)
				case errors.As(err, &pb) && pb.Budget != "" && strings.Contains(err.Error(), "more manifest pull(s) needed"):
					refused = append(refused, repo)
				default:
					t.Fatalf("copy %s: %v; want success or a transport.PullBudgetError", repo, err)
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
