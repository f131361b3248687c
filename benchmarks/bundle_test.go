package benchmarks

import (
	"context"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// TestBenchBundleSmoke runs a direct sync and export+import of the same small fleet through
// counting proxies: the export reads each source blob once, the import uploads each once,
// and importing the bundle again sends at most one request per image. Walls and their
// ratio are logged, not asserted.
func TestBenchBundleSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	dir := t.TempDir()
	ours, err := BuildOurs(ctx, dir)
	if err != nil {
		t.Fatalf("build ours: %v", err)
	}
	b, err := NewBench(ctx, FleetOptions{Seed: 42, Charts: 5, Images: 12}, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	facts := b.Fleet.Facts()
	direct, err := b.NewSession(ours, "bundle-direct", 8, ProxyOptions{}, ProxyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	sync := direct.Run(ctx, "cold", 60*time.Second)
	if sync.Status != "ok" {
		t.Fatalf("direct sync %s: %s", sync.Status, sync.Err)
	}
	s, err := b.NewSession(&OursBundle{Ours: ours}, "bundle", 8, ProxyOptions{}, ProxyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cold := s.Run(ctx, "cold", 60*time.Second)
	if cold.Status != "ok" {
		t.Fatalf("export+import %s: %s", cold.Status, cold.Err)
	}
	checks := []CountCheck{
		eq("export: source blob GETs (= distinct blobs)", cold.Src.Kinds[registrytest.BlobGet], facts.DistinctBlobs),
		eq("import: destination uploads completed (= distinct blobs)", cold.Dst.OK[registrytest.UploadEnd], facts.DistinctBlobs),
	}
	warm := s.Run(ctx, "warm", 60*time.Second)
	if warm.Status != "ok" {
		t.Fatalf("export+import again %s: %s", warm.Status, warm.Err)
	}
	checks = append(checks,
		eq("again: source blob GETs", warm.Src.Kinds[registrytest.BlobGet], 0),
		le("again: destination requests on image repositories (<= 1 per image)", warm.Dst.Total, facts.Images))
	for _, c := range checks {
		t.Log(c)
		if !c.OK {
			t.Error(c)
		}
	}
	t.Logf("direct sync %v; export+import %v (%s), %.2fx; peak RSS %d MiB; again %v (%s)",
		sync.Stats.Wall, cold.Stats.Wall, cold.Stats.Note, cold.Stats.Wall.Seconds()/sync.Stats.Wall.Seconds(),
		cold.Stats.PeakRSS>>20, warm.Stats.Wall, warm.Stats.Note)
}
