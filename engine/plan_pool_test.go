package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// With --no-skip-existing a sync copies an existing tag again: the plan says to_copy for
// it, drift when the tag held another digest, and the sync's copy over other content
// records that drift too.
func TestPlanNoSkipExisting(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	imgs := images(t, 3)
	same := push(t, src.Host+"/same:1", imgs[0])
	push(t, dst.Host+"/mirror/same:1", imgs[0])
	moved := push(t, src.Host+"/moved:1", imgs[1])
	old := push(t, dst.Host+"/mirror/moved:1", imgs[2])
	c := newClient(t)
	ctx := context.Background()
	run := func(scan bool) map[string]JobResult {
		pool := NewPool(ctx, PoolOptions{Client: c, ScanOnly: scan, Policy: Policy{SkipExisting: false}})
		out := map[string]JobResult{}
		for _, n := range []string{"same", "moved"} {
			out[n] = pool.Submit(job(src.Host+"/"+n+":1", dst.Host)).Wait(ctx)
		}
		pool.Close()
		return out
	}
	plan := run(true)
	if r := plan["same"]; r.Outcome != OutcomeToCopy || r.Drift != "" || r.SourceDigest != same {
		t.Errorf("plan, same digest: %+v", r)
	}
	if r := plan["moved"]; r.Outcome != OutcomeToCopy || !strings.Contains(r.Drift, old) || !strings.Contains(r.Drift, moved) {
		t.Errorf("plan, moved: %+v", r)
	}
	sync := run(false)
	if r := sync["same"]; r.Outcome != OutcomeCopied || r.Drift != "" {
		t.Errorf("sync, same digest: %+v", r)
	}
	if r := sync["moved"]; r.Outcome != OutcomeCopied || r.Drift != plan["moved"].Drift {
		t.Errorf("sync, moved: %+v, want the plan's drift %q", r, plan["moved"].Drift)
	}
}
