package benchmarks

import (
	"context"
	"testing"
	"time"
)

// TestBenchPlanWarm syncs a small fleet with airgap-charts (the built binary), then plans
// against the warm destination through counting proxies: the plan's request counts meet
// PlanChecks (one source HEAD and at most one destination request per image, nothing
// pulled, nothing written) and it finds nothing to do.
func TestBenchPlanWarm(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	dir := t.TempDir()
	ours, err := BuildOurs(ctx, dir)
	if err != nil {
		t.Fatalf("build ours: %v", err)
	}
	b, err := NewBench(ctx, FleetOptions{Seed: 7, Charts: 8, Images: 20}, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rs, err := RunPlanScenario(ctx, b, ours, 8, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Status != "ok" {
		t.Fatalf("cold sync: %+v", rs[0])
	}
	plan := rs[1]
	if plan.Status != "ok" || plan.Stats.Note != "nothing to do" {
		t.Fatalf("plan %s (%s): %s", plan.Status, plan.Stats.Note, plan.Err)
	}
	for _, c := range PlanChecks(b.Fleet.Facts(), plan) {
		t.Log(c)
		if !c.OK {
			t.Error(c)
		}
	}
	t.Logf("warm plan of %d charts / %d images: %v; source %v; destination %v (all %v)", len(b.Fleet.Charts), len(b.Fleet.Images),
		plan.Stats.Wall, plan.Src.Kinds, plan.Dst.Kinds, plan.DstAll.Kinds)
}
