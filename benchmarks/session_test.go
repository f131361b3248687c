package benchmarks

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// TestSessionMeasuresReferenceStyle drives the harness end to end with the reference-style
// peer (built from this module): it must copy everything cold, and on the warm rerun only
// validate on the source and check the destination.
func TestSessionMeasuresReferenceStyle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	ref, err := BuildRefStyle(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBench(ctx, FleetOptions{Seed: 11, Charts: 5, Images: 12}, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s, err := b.NewSession(ref, "loopback", 4, ProxyOptions{}, ProxyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	refs := 0
	for _, c := range b.Fleet.Charts {
		refs += len(c.Uses)
	}
	// Ballast: the parent's RSS must not leak into the child's measured peak.
	ballast := make([]byte, 256<<20)
	for i := range ballast {
		ballast[i] = byte(i)
	}
	cold := s.Run(ctx, "cold", time.Minute)
	runtime.KeepAlive(ballast)
	if cold.Status != "ok" {
		t.Fatalf("cold: %s %s", cold.Status, cold.Err)
	}
	if got := cold.Dst.OK[registrytest.ManifestPut]; got != b.Fleet.Manifests() {
		t.Fatalf("cold: %d manifest PUTs, want the fleet's %d manifests", got, b.Fleet.Manifests())
	}
	if cold.Src.Kinds[registrytest.BlobGet] < b.Fleet.DistinctBlobs() || cold.Src.BlobGetBytes < b.Fleet.DistinctBytes() {
		t.Fatalf("cold: %d blob GETs / %d bytes, fewer than the %d distinct blobs / %d bytes",
			cold.Src.Kinds[registrytest.BlobGet], cold.Src.BlobGetBytes, b.Fleet.DistinctBlobs(), b.Fleet.DistinctBytes())
	}
	if cold.Stats.PeakRSS < 1<<20 || cold.Stats.PeakRSS > 200<<20 || cold.Stats.Wall <= 0 {
		t.Fatalf("cold: peak RSS %d MiB, wall %v: want a child's own RSS (1–200 MiB; the parent holds 256 MiB)",
			cold.Stats.PeakRSS>>20, cold.Stats.Wall)
	}
	warm := s.Run(ctx, "warm", time.Minute)
	if warm.Status != "ok" {
		t.Fatalf("warm: %s %s", warm.Status, warm.Err)
	}
	if warm.Src.Kinds[registrytest.BlobGet] != 0 || warm.Src.Kinds[registrytest.ManifestGet] != refs {
		t.Fatalf("warm: %d blob GETs and %d manifest GETs, want 0 and one validation per chart image (%d)",
			warm.Src.Kinds[registrytest.BlobGet], warm.Src.Kinds[registrytest.ManifestGet], refs)
	}
	checks := WarmChecks(b.Fleet.Facts(), warm)
	if checks[0].OK || !checks[1].OK {
		t.Fatalf("warm checks on the reference style: %v", checks)
	}
}
