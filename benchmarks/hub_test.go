package benchmarks

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// hubFigures are the source-side numbers of one hub-scenario run.
type hubFigures struct {
	pullsDrawn   int // manifest GETs the hub limiter charged (answered by the registry)
	hub429       int // 429s the hub limiter answered: avoidable when the budget sufficed
	injected429  int // random 429s the fault injector answered (any request)
	manifestGets int // every manifest GET the proxy saw
}

func figuresOf(r RunResult) hubFigures {
	return hubFigures{
		pullsDrawn:   r.Src.OK[registrytest.ManifestGet],
		hub429:       r.Src.Injected["hub"],
		injected429:  r.Src.Injected["fault"],
		manifestGets: r.Src.Kinds[registrytest.ManifestGet],
	}
}

// hubFleet is the fleet of the hub tests: a small one, or with HUB_TRIAL=1 the trial's
// (airgap-bench -charts 20 -images 50 and its default layer sizes).
func hubFleet(pinned float64) FleetOptions {
	if os.Getenv("HUB_TRIAL") != "" {
		return FleetOptions{Seed: 1, Charts: 20, Images: 50, BaseLayers: 12, BaseLayerSize: 1 << 20,
			UniqueLayerSize: 128 << 10, PinnedFraction: pinned}
	}
	return FleetOptions{Seed: 1, Charts: 10, Images: 25, PinnedFraction: pinned}
}

// TestHubBudget runs ours (the built binary) through the hub scenario of issue 6: a
// Docker-Hub-like limit of M manifest GETs per window on the source, 5% random 429s with
// Retry-After: 1 on every request, --rate-limit docker.io=M/1h through --registry-mirror.
//   - harness: M as airgap-bench sets it (manifests × 1.1 + 2), pinned references in the
//     fleet: no failure, no 429 from the limiter, warm rerun 0 pulls.
//   - exact: M = the manifests the run needs (no pinned references, so no two jobs share
//     a manifest): no failure, every pull of the budget drawn and no more, warm 0 pulls.
//   - short: M = 10 fewer: the run stops without a limiter 429 or a wait for the hour-long
//     window, having drawn the whole budget, and says more pulls were needed.
func TestHubBudget(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	ours, err := BuildOurs(ctx, dir)
	if err != nil {
		t.Fatalf("build ours: %v", err)
	}
	run := func(t *testing.T, b *Bench, budget int) (cold, warm RunResult) {
		t.Helper()
		hub := ProxyOptions{Hub: &HubLimit{Pulls: budget, Window: time.Hour},
			Faults: &Faults{Rate: 0.05, Seed: b.Fleet.Options.Seed, Codes: []int{429}}}
		s, err := b.NewSession(ours, "hub", 8, hub, ProxyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		cold = s.Run(ctx, "cold", 2*time.Minute)
		cf := figuresOf(cold)
		t.Logf("cold, budget %d for %d manifests: %s in %.1fs; pulls drawn %d, limiter 429s %d, injected 429s %d, manifest GETs %d. %s",
			budget, b.Fleet.Manifests(), cold.Status, cold.Stats.Wall.Seconds(), cf.pullsDrawn, cf.hub429, cf.injected429, cf.manifestGets, tail(cold.Stats.Note, 300))
		warm = s.Run(ctx, "warm", time.Minute)
		wf := figuresOf(warm)
		t.Logf("warm: %s in %.1fs; pulls drawn %d, limiter 429s %d, injected 429s %d", warm.Status, warm.Stats.Wall.Seconds(), wf.pullsDrawn, wf.hub429, wf.injected429)
		return cold, warm
	}
	pass := func(t *testing.T, cold, warm RunResult) {
		t.Helper()
		if cold.Status != "ok" {
			t.Errorf("cold run %s: %s", cold.Status, tail(cold.Err, 600))
		}
		if n := cold.Src.Injected["hub"]; n != 0 {
			t.Errorf("cold run drew %d 429s from the pull limiter with a sufficient budget", n)
		}
		if warm.Status != "ok" || warm.Src.Kinds[registrytest.ManifestGet] != 0 || warm.Src.Injected["hub"] != 0 {
			t.Errorf("warm run %s with %d manifest GETs and %d limiter 429s, want ok, 0 and 0: %s",
				warm.Status, warm.Src.Kinds[registrytest.ManifestGet], warm.Src.Injected["hub"], tail(warm.Err, 600))
		}
	}

	t.Run("harness", func(t *testing.T) {
		b, err := NewBench(ctx, hubFleet(0), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		cold, warm := run(t, b, b.Fleet.Manifests()*11/10+2)
		pass(t, cold, warm)
	})

	exact, err := NewBench(ctx, hubFleet(-1), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer exact.Close()
	need := exact.Fleet.Manifests()
	t.Run("exact", func(t *testing.T) {
		cold, warm := run(t, exact, need)
		pass(t, cold, warm)
		if got := cold.Src.OK[registrytest.ManifestGet]; got != need {
			t.Errorf("cold run drew %d pulls, want the %d manifests", got, need)
		}
		if cold.Src.Injected["fault"] == 0 {
			t.Error("no injected 429: the run proves nothing")
		}
	})
	t.Run("short", func(t *testing.T) {
		budget := need - 10
		cold, _ := run(t, exact, budget)
		if cold.Status != "failed" || !strings.Contains(cold.Stats.Note, "more manifest pull(s) needed") {
			t.Errorf("cold run %s (%s), want failed addons saying more pulls were needed", cold.Status, tail(cold.Err, 400))
		}
		if got, n := cold.Src.OK[registrytest.ManifestGet], cold.Src.Injected["hub"]; got != budget || n != 0 {
			t.Errorf("cold run drew %d pulls and %d limiter 429s, want the whole budget (%d) and 0", got, n, budget)
		}
	})
}
