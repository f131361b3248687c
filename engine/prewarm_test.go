package engine

import (
	"context"
	"fmt"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// The last lock's images whose addon has the same inputs are asked about at the destination
// with no job submitted, and Close returns only once every one of those asks is answered;
// an entry made from other inputs is left to its addon.
func TestPoolPrewarmAsksTheLocksImagesAndCloseWaitsForIt(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	imgs := images(t, 5)
	var same, other []LockImage
	for i, img := range imgs {
		push(t, fmt.Sprintf("%s/mirror/lib/app%d:1", dst.Host, i), img)
		j := job(fmt.Sprintf("%s/lib/app%d:1", src.Host, i), dst.Host)
		li := LockImage{Source: j.Source.String(), Destination: j.Destination.String()}
		if i < 4 {
			same = append(same, li)
		} else {
			other = append(other, li)
		}
	}
	dst.Reset()
	l := &lockRun{
		prior:  &Lock{Addons: []LockAddon{{Name: "a", Inputs: "in", Images: same}, {Name: "b", Inputs: "old", Images: other}}},
		inputs: map[string]string{"a": "in", "b": "new"},
	}
	pool := NewPool(context.Background(), PoolOptions{Concurrency: 1, Client: newClient(t), Policy: Policy{SkipExisting: true}})
	pool.prewarm(l, registry.PlatformAuto)
	if results := pool.Close(); len(results) != 0 {
		t.Fatalf("%d job results, want none (no job was submitted)", len(results))
	}
	if got := dst.Count(registrytest.ManifestHead); got != len(same) {
		t.Fatalf("destination HEADs after Close = %d, want %d (the same-inputs entry's images): %v", got, len(same), dst.Counts())
	}
}
