package benchmarks

import (
	"context"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// TestBenchSmoke runs airgap-charts (the built binary) cold then warm on a small fleet through
// counting proxies, and checks the deterministic request-count targets of issue 6.
func TestBenchSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	dir := t.TempDir()
	ours, err := BuildOurs(ctx, dir)
	if err != nil {
		t.Fatalf("build ours: %v", err)
	}
	b, err := NewBench(ctx, FleetOptions{Seed: 42, Charts: 10, Images: 25}, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s, err := b.NewSession(ours, "smoke", 8, ProxyOptions{}, ProxyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cold := s.Run(ctx, "cold", 60*time.Second)
	if cold.Status != "ok" {
		t.Fatalf("cold run %s: %s", cold.Status, cold.Err)
	}
	for _, c := range ColdChecks(b.Fleet.Facts(), cold) {
		t.Log(c)
		if !c.OK {
			t.Error(c)
		}
	}
	warm := s.Run(ctx, "warm", 30*time.Second)
	if warm.Status != "ok" {
		t.Fatalf("warm run %s: %s", warm.Status, warm.Err)
	}
	for _, c := range WarmChecks(b.Fleet.Facts(), warm) {
		t.Log(c)
		if !c.OK {
			t.Error(c)
		}
	}
	// Tags moved at the source: ours, given --overwrite-existing in this step as the peers
	// replace a moved tag, pulls exactly the new blobs and succeeds.
	moved, err := b.Fleet.MoveTags(0.2)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Fleet.ApplyMove(ctx, b.Source.Host, moved); err != nil {
		t.Fatal(err)
	}
	mv := s.Run(ctx, "moved", 30*time.Second)
	if mv.Status != "ok" {
		t.Fatalf("moved run %s: %s", mv.Status, mv.Err)
	}
	// Every blob new to its repository arrives once, uploaded or mounted, and only what is
	// uploaded is pulled: a blob the repository held is asked about at the destination and
	// never opened at the source (the tag was being replaced: registry.WithDestinationHeld).
	need, held := movedRepoBlobs(b.Fleet, moved)
	gets, ups, mounts := mv.Src.Kinds[registrytest.BlobGet], mv.Dst.Kinds[registrytest.UploadEnd], mv.Dst.Mounted
	if need == 0 || held == 0 || ups+mounts != need || gets != ups {
		t.Errorf("moved run: %d blobs new to their repositories, %d held already (%d moved tags): %d source blob GETs, %d uploads, %d mounts",
			need, held, len(moved), gets, ups, mounts)
	}
	t.Logf("cold %v (peak RSS %d MiB), warm %v, moved (%d tags) %v", cold.Stats.Wall, cold.Stats.PeakRSS>>20, warm.Stats.Wall, len(moved), mv.Stats.Wall)
}

// movedRepoBlobs counts the blobs the moved tags hold that their repositories did not
// (need: what a copy of the moved tags must bring to the destination, by upload or mount)
// and those they did (held).
func movedRepoBlobs(f *Fleet, moved []int) (need, held int) {
	per := f.repoBlobs()
	for _, i := range moved {
		repo := f.Images[i].Repository
		for _, h := range f.moved[i].Blobs {
			if per[repo][h] {
				held++
				continue
			}
			per[repo][h] = true
			need++
		}
	}
	return need, held
}
