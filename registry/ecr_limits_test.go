package registry

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// A host listed in ECRHosts gets ECR's default PutImage quota (10 per second, burst 10):
// 15 manifest PUTs span at least 500ms. Real ECR host names get it without being listed.
func TestECRHostsGetDefaultManifestPutQuota(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	pushImage(t, src.Host+"/a:1", platformImage(t, "linux", "amd64"))
	var mu sync.Mutex
	var puts []time.Time
	dst.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if k, _ := registrytest.Classify(r); k == registrytest.ManifestPut {
			mu.Lock()
			puts = append(puts, time.Now())
			mu.Unlock()
		}
		return false
	})
	c := newTestClient(t, ClientOptions{Concurrency: 15, ECRHosts: []string{dst.Host}})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 15 {
		wg.Go(func() {
			if _, err := c.Copy(ctx, MustParseImageRef(src.Host+"/a:1"), MustParseImageRef(fmt.Sprintf("%s/a:t%d", dst.Host, i)), PlatformAuto); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(puts) != 15 {
		t.Fatalf("manifest PUTs = %d, want 15", len(puts))
	}
	first, last := puts[0], puts[0]
	for _, p := range puts {
		if p.Before(first) {
			first = p
		}
		if p.After(last) {
			last = p
		}
	}
	if span := last.Sub(first); span < 450*time.Millisecond {
		t.Fatalf("15 manifest PUTs within %s: ECR's 10/s PutImage quota not applied", span)
	}
}
