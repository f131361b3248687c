package benchmarks

import (
	"context"
	"testing"
	"time"
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
	t.Logf("cold %v (peak RSS %d MiB), warm %v", cold.Stats.Wall, cold.Stats.PeakRSS>>20, warm.Stats.Wall)
}
