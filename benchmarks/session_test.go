package benchmarks

import (
	"context"
	"maps"
	"net/http"
	"runtime"
	"strings"
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
	b, s, _ := refStyleSession(ctx, t, FleetOptions{Seed: 11, Charts: 5, Images: 12}, 4)
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

// TestSessionReplaysARunsReads replays a warm rerun's requests with the plain client: the
// proxies see the same requests again, kind for kind; a run that wrote cannot be replayed,
// and a replay whose answers differ from the recorded run's fails, naming the request.
func TestSessionReplaysARunsReads(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b, s, ref := refStyleSession(ctx, t, FleetOptions{Seed: 12, Charts: 4, Images: 9}, 3)
	replay, err := BuildReplay(ctx, b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if cold := s.Run(ctx, "cold", time.Minute); cold.Status != "ok" {
		t.Fatalf("cold: %s %s", cold.Status, cold.Err)
	}
	if rp := s.Replay(ctx, replay, ref.Name(), time.Minute); rp.Status != "failed" || !strings.Contains(rp.Err, "only reads can be replayed") {
		t.Fatalf("replay of a cold copy: %s %q, want it refused (it wrote)", rp.Status, rp.Err)
	}
	warm := s.Run(ctx, "warm", time.Minute)
	if warm.Status != "ok" {
		t.Fatalf("warm: %s %s", warm.Status, warm.Err)
	}
	rp := s.Replay(ctx, replay, ref.Name(), time.Minute)
	if rp.Status != "ok" || rp.Tool != ReplayName(ref.Name()) {
		t.Fatalf("replay of the warm run: %s %s %q", rp.Tool, rp.Status, rp.Err)
	}
	if warm.Src.Total == 0 || !maps.Equal(rp.Src.Kinds, warm.Src.Kinds) || !maps.Equal(rp.DstAll.Kinds, warm.DstAll.Kinds) {
		t.Fatalf("replay saw source %v / destination %v, the run %v / %v", rp.Src.Kinds, rp.DstAll.Kinds, warm.Src.Kinds, warm.DstAll.Kinds)
	}
	missing := strings.Join([]string{http.MethodHead, s.dst.URL + "/v2/nowhere/manifests/v1", "200", ""}, "\t")
	bad := s.runTool(ctx, &replayTool{bin: replay, of: "made-up", lines: []string{missing}, workers: 1}, "replay", time.Minute)
	if bad.Status != "failed" || !strings.Contains(bad.Err, "line 1: HEAD") || !strings.Contains(bad.Err, "status 404, the recorded run got 200") {
		t.Fatalf("a replay answered 404 where the run got 200: %s %q, want it failed, naming the request", bad.Status, bad.Err)
	}
}

// refStyleSession is a bench of fleet with one session of the reference-style peer (built
// from this module) at conc, closed with the test.
func refStyleSession(ctx context.Context, t *testing.T, fleet FleetOptions, conc int) (*Bench, *Session, Tool) {
	t.Helper()
	dir := t.TempDir()
	ref, err := BuildRefStyle(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBench(ctx, fleet, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	s, err := b.NewSession(ref, "loopback", conc, ProxyOptions{}, ProxyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return b, s, ref
}
