package benchmarks

import (
	"fmt"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// TargetLine is one issue-6 target as measured in a run.
type TargetLine struct {
	Target   string
	Measured string
	Verdict  string // met, MISSED (by how much), or not measured (why)
}

// Find returns the run of tool in scenario/step, if any.
func (r *Results) Find(tool, scenario, step string) (RunResult, bool) {
	for _, x := range r.Runs {
		if x.Tool == tool && x.Scenario == scenario && x.Step == step {
			return x, true
		}
	}
	return RunResult{}, false
}

// bestPeer is the fastest peer that succeeded in scenario/step.
func (r *Results) bestPeer(scenario, step string) (RunResult, bool) {
	var best RunResult
	found := false
	for _, x := range r.Runs {
		if x.Tool == "airgap-charts" || x.Scenario != scenario || x.Step != step || x.Status != "ok" {
			continue
		}
		if !found || x.Stats.Wall < best.Stats.Wall {
			best, found = x, true
		}
	}
	return best, found
}

// Targets evaluates the issue-6 targets against ours.
func (r *Results) Targets(f FleetFacts) []TargetLine {
	var out []TargetLine
	notRun := func(target, why string) { out = append(out, TargetLine{target, "-", "not measured: " + why}) }
	ours := "airgap-charts"
	checks := func(scenario, step string, fn func(RunResult) []CountCheck) {
		run, ok := r.Find(ours, scenario, step)
		if !ok || run.Status != "ok" {
			notRun(scenario+" "+step+" request counts", "ours "+statusOf(run, ok))
			return
		}
		for _, c := range fn(run) {
			v := "met"
			if !c.OK {
				v = fmt.Sprintf("MISSED (got %d, want %s)", c.Got, c.Want)
			}
			out = append(out, TargetLine{c.Name, fmt.Sprint(c.Got), v})
		}
	}
	checks("loopback", "cold", func(x RunResult) []CountCheck { return ColdChecks(f, x) })
	checks("loopback", "warm", func(x RunResult) []CountCheck { return WarmChecks(f, x) })
	checks("plan", "warm-plan", func(x RunResult) []CountCheck { return PlanChecks(f, x) })
	ratio := func(target, scenario, step string, limit float64, against func() (RunResult, bool)) {
		run, ok := r.Find(ours, scenario, step)
		if !ok || run.Status != "ok" {
			notRun(target, "ours "+statusOf(run, ok))
			return
		}
		peer, ok := against()
		if !ok {
			notRun(target, "no peer succeeded")
			return
		}
		q := run.Stats.Wall.Seconds() / peer.Stats.Wall.Seconds()
		m := fmt.Sprintf("%.2fs vs %s %.2fs = %.2f×", run.Stats.Wall.Seconds(), peer.Tool, peer.Stats.Wall.Seconds(), q)
		v := "met"
		if q > limit {
			v = fmt.Sprintf("MISSED by %.0f%% (limit %.1f×)", (q/limit-1)*100, limit)
		}
		out = append(out, TargetLine{target, m, v})
	}
	ratio("cold wall under WAN ≤ 0.7× best peer", "wan", "cold", 0.7, func() (RunResult, bool) { return r.bestPeer("wan", "cold") })
	ratio("cold wall on loopback ≤ 1.0× best peer", "loopback", "cold", 1.0, func() (RunResult, bool) { return r.bestPeer("loopback", "cold") })
	ratio("warm wall ≤ regsync's", "loopback", "warm", 1.0, func() (RunResult, bool) {
		x, ok := r.Find("regsync", "loopback", "warm")
		return x, ok && x.Status == "ok"
	})
	var rss int64
	for _, x := range r.Runs {
		if x.Tool == ours && x.Status == "ok" {
			rss = max(rss, x.Stats.PeakRSS)
		}
	}
	if rss == 0 {
		notRun("peak RSS ≤ 150 MB", "no successful run of ours")
	} else {
		v := "met"
		if rss > 150<<20 {
			v = fmt.Sprintf("MISSED by %d MB", (rss-150<<20)>>20)
		}
		out = append(out, TargetLine{fmt.Sprintf("peak RSS ≤ 150 MB (fleet of %d charts / %d images; the target is set for 200 / 500)", f.Charts, f.Images), fmt.Sprintf("%d MB", rss>>20), v})
	}
	if run, ok := r.Find(ours, "hub", "cold"); !ok || run.Status != "ok" {
		notRun("hub budget: run finishes with no failures", "ours "+statusOf(run, ok))
	} else {
		out = append(out, TargetLine{"hub budget: run finishes with no failures", "ok", "met"})
		v := "met"
		if n := run.Src.Injected["hub"]; n > 0 {
			v = fmt.Sprintf("MISSED: %d avoidable 429s", n)
		}
		out = append(out, TargetLine{"hub budget: no 429 from the pull limit", fmt.Sprint(run.Src.Injected["hub"]), v})
	}
	if run, ok := r.Find(ours, "hub", "warm"); ok && run.Status == "ok" {
		n := run.Src.Kinds[registrytest.ManifestGet]
		v := "met"
		if n > 0 {
			v = fmt.Sprintf("MISSED by %d pulls", n)
		}
		out = append(out, TargetLine{"hub budget: warm rerun draws 0 pulls", fmt.Sprint(n), v})
	} else {
		notRun("hub budget: warm rerun draws 0 pulls", "ours "+statusOf(run, ok))
	}
	return out
}

func statusOf(r RunResult, ok bool) string {
	if !ok {
		return "did not run"
	}
	if r.Err != "" {
		return r.Status + ": " + tail(r.Err, 200)
	}
	return r.Status
}
