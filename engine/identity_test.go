package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages"
)

type countingProgress struct {
	mu               sync.Mutex
	queued, finished int
	bytes            int64
}

func (c *countingProgress) AddonsPlanned(int)          {}
func (c *countingProgress) AddonFinished(string, bool) {}
func (c *countingProgress) ImageQueued()               { c.mu.Lock(); c.queued++; c.mu.Unlock() }
func (c *countingProgress) ImageFinished(b int64, _ bool) {
	c.mu.Lock()
	c.finished++
	c.bytes += b
	c.mu.Unlock()
}

// Job identity is decided once, by the pool: a job two addons submit is one progress event
// and one count in the report's totals, the report's images still list it per addon.
func TestJobIdentityOnceForProgressAndReport(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	for i, img := range images(t, 2) {
		push(t, fmt.Sprintf("%s/app%d:1", src.Host, i), img)
	}
	ctx := context.Background()
	prog := &countingProgress{}
	pool := NewPool(ctx, PoolOptions{Concurrency: 2, Client: newClient(t), Progress: prog})
	a, b := job(src.Host+"/app0:1", dst.Host), job(src.Host+"/app1:1", dst.Host)
	addons := []*AddonReport{{Addon: "one", Status: StatusSuccess}, {Addon: "two", Status: StatusSuccess}}
	pending := [][]*Pending{{pool.Submit(a), pool.Submit(b)}, {pool.Submit(a)}}
	unique := pool.Close()
	for i, ps := range pending {
		for _, p := range ps {
			addons[i].addImage(stages.FoundImage{}, p.Wait(ctx))
		}
	}
	rep := newReport(addons, dst.Host, Options{}, 0)
	rep.addJobs(unique)
	if prog.queued != 2 || prog.finished != 2 {
		t.Fatalf("progress: %d queued, %d finished; want 2 each", prog.queued, prog.finished)
	}
	if rep.UniqueJobs != 2 || rep.Totals.Copied != 2 || rep.Totals.Images != 3 {
		t.Fatalf("report: %d unique jobs, %d copied, %d images; want 2, 2, 3", rep.UniqueJobs, rep.Totals.Copied, rep.Totals.Images)
	}
	if rep.Totals.Bytes <= 0 || rep.Totals.Bytes != prog.bytes {
		t.Fatalf("report bytes %d, progress bytes %d: want the same, counted once", rep.Totals.Bytes, prog.bytes)
	}
}
