package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// slotHog is a Progress that, when the addon's first image is done, takes a chart-stage
// slot and keeps it, as another addon starting its chart stages at that moment would.
type slotHog struct {
	slots *semaphore.Weighted
	once  sync.Once
}

func (h *slotHog) AddonsPlanned(int)          {}
func (h *slotHog) AddonFinished(string, bool) {}
func (h *slotHog) ImageQueued()               {}
func (h *slotHog) ImageFinished(int64, bool) {
	h.once.Do(func() { _ = h.slots.Acquire(context.Background(), 1) })
}

// TestPublishDoesNotWaitForChartStageSlots: an addon whose images are in place publishes
// its chart even while every chart-stage slot is taken by other addons. (It used to queue
// for a chart-stage slot: with many addons no chart was published until every addon had
// rendered, and a Ctrl-C before then left none published.)
func TestPublishDoesNotWaitForChartStageSlots(t *testing.T) {
	w := newE2EWorld(t, []string{"metrics-server"})
	dst := registrytest.New(t)
	ctx := context.Background()
	slots := semaphore.NewWeighted(1)
	opts := w.options(dst.Host, t.TempDir())
	opts.ChartConcurrency = 1
	opts.Progress = &slotHog{slots: slots}
	opts = opts.withDefaults()
	env, err := newRunEnv(ctx, opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer env.close()
	pool := NewPool(ctx, PoolOptions{Concurrency: 2, Client: env.client, Preflight: env.preflight, Policy: Policy{SkipExisting: true}})
	defer pool.Close()

	done := make(chan *AddonReport, 1)
	go func() { done <- env.runAddon(ctx, opts.Addons[0], pool, slots) }()
	select {
	case rep := <-done:
		if rep.Status != StatusSuccess || rep.ChartResult != "pushed" {
			t.Fatalf("%s, chart %q: %s", rep.Status, rep.ChartResult, rep.Error)
		}
	case <-time.After(15 * time.Second):
		slots.Release(1)
		<-done
		t.Fatal("the chart's publish waited for a chart-stage slot another addon held")
	}
}
