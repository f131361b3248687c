package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// OursPlan runs `airgap-charts plan` with the flags ours syncs with: read only. It names
// itself as ours, so that the plan scenario's rows and targets are ours'.
type OursPlan struct {
	Ours *Ours
}

// Name implements Tool.
func (p OursPlan) Name() string { return p.Ours.Name() }

// Run implements Tool. Exit codes 4 (changes pending) and 5 (drift found) are a plan's
// findings, not failures: the note says which.
func (p OursPlan) Run(ctx context.Context, env RunEnv) (ToolStats, error) {
	args := p.Ours.Args(env)
	args[0] = "plan"
	res, err := runProc(ctx, filepath.Join(env.WorkDir, "airgap-charts.log"), p.Ours.Bin, args...)
	st := ToolStats{Wall: res.wall, CPU: res.cpu, PeakRSS: res.maxRSS, Procs: 1, Note: "nothing to do"}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case 4:
			st.Note, err = "changes pending", nil
		case 5:
			st.Note, err = "drift found", nil
		}
	}
	return st, err
}

// RunPlanScenario syncs the fleet into a fresh destination (step "cold"), then plans
// against it, now warm (step "warm-plan"), through counting proxies.
func RunPlanScenario(ctx context.Context, b *Bench, ours *Ours, concurrency int, timeout time.Duration) ([]RunResult, error) {
	s, err := b.NewSession(ours, "plan", concurrency, ProxyOptions{}, ProxyOptions{})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	cold := s.Run(ctx, "cold", timeout)
	if cold.Status != "ok" {
		return []RunResult{cold}, nil
	}
	s.tool = OursPlan{Ours: ours}
	return []RunResult{cold, s.Run(ctx, "warm-plan", timeout)}, nil
}

// PlanChecks are the targets of a plan against a warm destination: at most one source
// HEAD per image, no pull, no blob, no write, at most one destination request per image
// (and one per chart, plus the one pull-budget probe of the host, on chart repositories).
func PlanChecks(f FleetFacts, plan RunResult) []CountCheck {
	writes := 0
	for _, k := range []registrytest.Kind{registrytest.ManifestPut, registrytest.ManifestDel, registrytest.UploadStart,
		registrytest.UploadChunk, registrytest.UploadEnd, registrytest.Mount} {
		writes += plan.DstAll.Kinds[k]
	}
	return []CountCheck{
		le("plan: source manifest HEAD requests (<= 1 per image)", plan.Src.Kinds[registrytest.ManifestHead], f.Images),
		eq("plan: source manifest GET requests", plan.Src.Kinds[registrytest.ManifestGet], 0),
		eq("plan: source blob GET requests", plan.Src.Kinds[registrytest.BlobGet], 0),
		eq("plan: destination write requests", writes, 0),
		eq("plan: destination blob GET requests", plan.DstAll.Kinds[registrytest.BlobGet], 0),
		le("plan: destination requests on image repositories (<= 1 per image)", plan.Dst.Total, f.Images),
		le(fmt.Sprintf("plan: destination requests on chart repositories (<= 1 per chart, %d, + 1 probe)", f.Charts),
			plan.DstAll.Total-plan.Dst.Total, f.Charts+1),
	}
}
