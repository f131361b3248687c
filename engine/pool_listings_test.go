package engine

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// heldSource is a SourceChecker whose checks, warmed or not, wait for release: a source
// host answering tag checks slowly.
type heldSource struct{ release chan struct{} }

func (h heldSource) CheckSource(ctx context.Context, _ *registry.Client, job ImageJob) (SourceCheck, error) {
	select {
	case <-h.release:
	case <-ctx.Done():
	}
	return SourceCheck{Pull: job}, nil
}

func (h heldSource) WarmSource(ctx context.Context, c *registry.Client, job ImageJob) {
	_, _ = h.CheckSource(ctx, c, job)
}

// TestPoolListingsDoNotWaitBehindTagChecks: the referrer tag listings of a rerun's source
// repositories are asked while its tag checks are still waiting for their answers, each
// kind with a bound of its own: with --concurrency 1 (two lookups at once of each kind)
// and every tag check held, all four repositories are listed. (Behind one shared bound the
// held checks took both places, and one listing was asked.)
func TestPoolListingsDoNotWaitBehindTagChecks(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	imgs := images(t, 4)
	for i, img := range imgs {
		push(t, fmt.Sprintf("%s/lib/app%d:1", src.Host, i), img)
	}
	listed := make(chan string, 16)
	src.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if k, repo := registrytest.Classify(r); k == registrytest.TagsList {
			listed <- repo
		}
		return false
	})
	rp, err := newReferrerPolicy(Options{Referrers: "all", OutputDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	held := heldSource{release: make(chan struct{})}
	var once sync.Once
	releaseAll := func() { once.Do(func() { close(held.release) }) }
	defer releaseAll()
	pool := NewPool(context.Background(), PoolOptions{Concurrency: 1, Client: newClient(t), Policy: Policy{SkipExisting: true},
		Referrers: rp, Sources: held})
	for i := range imgs {
		pool.Submit(job(fmt.Sprintf("%s/lib/app%d:1", src.Host, i), dst.Host))
	}
	seen := map[string]bool{}
	deadline := time.After(15 * time.Second) // a failure's bound, not a synchronisation
	for len(seen) < len(imgs) {
		select {
		case repo := <-listed:
			seen[repo] = true
		case <-deadline:
			releaseAll()
			pool.Close()
			t.Fatalf("%d of %d source repositories listed while the tag checks were held: %v", len(seen), len(imgs), seen)
		}
	}
	releaseAll()
	for _, r := range pool.Close() {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Job.Source, r.Err)
		}
	}
}
