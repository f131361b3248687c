package engine

import (
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// The next night brings a new version of an image into a repository the last lock copied
// into (its four layers shared, a layer and a config new): the pool, told so by the run's
// lock, pulls exactly the two blobs the destination lacks. (Without the hint the copy
// opens each blob at the source beside the destination's HEAD, as a cold copy does: 5 to 7
// blob GETs here, as the races fall.)
func TestPoolNewVersionIntoLockedRepositoryPullsOnlyNewBlobs(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	old := images(t, 1)[0]
	old, err := mutate.AppendLayers(old, randomDockerLayer(t), randomDockerLayer(t))
	if err != nil {
		t.Fatal(err)
	}
	next, err := mutate.AppendLayers(old, randomDockerLayer(t))
	if err != nil {
		t.Fatal(err)
	}
	push(t, src.Host+"/app:1", old)
	push(t, src.Host+"/app:2", next)
	ctx := context.Background()
	first := NewPool(ctx, PoolOptions{Concurrency: 2, Client: newClient(t), Policy: Policy{SkipExisting: true}})
	j1 := job(src.Host+"/app:1", dst.Host)
	first.Submit(j1)
	if errs := failures(first.Close()); len(errs) > 0 {
		t.Fatal(errs)
	}
	prior := &Lock{Addons: []LockAddon{{Name: "app", Images: []LockImage{{Source: j1.Source.String(), Destination: j1.Destination.String()}}}}}
	lr, err := newLockRun(Options{}, prior, dst.Host, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	// Another tag of the locked repository counts; the locked tag itself (a plan's lock
	// names tags never copied) and other repositories do not.
	if !lr.CopiedInto(job(src.Host+"/app:2", dst.Host).Destination) || lr.CopiedInto(j1.Destination) ||
		lr.CopiedInto(job(src.Host+"/other:2", dst.Host).Destination) {
		t.Fatalf("CopiedInto: want another tag of the locked repository only")
	}
	src.Reset()
	pool := NewPool(ctx, PoolOptions{Concurrency: 2, Client: newClient(t), Policy: Policy{SkipExisting: true}, Sources: lr})
	p2 := pool.Submit(job(src.Host+"/app:2", dst.Host))
	if errs := failures(pool.Close()); len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := src.Count(registrytest.BlobGet); got != 2 {
		t.Errorf("app:2: %d source blob GETs, want the 2 blobs the destination lacked", got)
	}
	if r := p2.Wait(ctx); r.Outcome != OutcomeCopied {
		t.Errorf("app:2: %s, want copied", r.Outcome)
	}
}

func randomDockerLayer(t *testing.T) v1.Layer {
	t.Helper()
	l, err := random.Layer(2048, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
