package benchmarks

import (
	"context"
	"fmt"
	"time"
)

// NoopScenario is one network condition of the no-op rerun comparison.
type NoopScenario struct {
	Name     string
	Src, Dst ProxyOptions
}

// NoopResult is ours against regsync rerunning over an unchanged fleet in one scenario:
// each copies the fleet cold once (untimed), then reruns Reruns times, the two tools
// alternating, each against its own destination.
type NoopResult struct {
	Scenario string
	Reruns   int
	// Ours and Regsync are every rerun, in order.
	Ours, Regsync []RunResult
	// Cold is ours' cold run (its peak RSS is the run's largest).
	Cold RunResult
}

// Wall is the median rerun wall of each, and ours over regsync's.
func (r NoopResult) Wall() (ours, regsync time.Duration, ratio float64) {
	walls := func(rs []RunResult) []time.Duration {
		var out []time.Duration
		for _, x := range rs {
			out = append(out, x.Stats.Wall)
		}
		return out
	}
	ours, regsync = median(walls(r.Ours)), median(walls(r.Regsync))
	if regsync > 0 {
		ratio = float64(ours) / float64(regsync)
	}
	return ours, regsync, ratio
}

// MeasureNoop runs the comparison in every scenario.
func MeasureNoop(ctx context.Context, b *Bench, ours, regsync Tool, scenarios []NoopScenario, reruns, conc int, timeout time.Duration) ([]NoopResult, error) {
	var out []NoopResult
	for _, sc := range scenarios {
		r := NoopResult{Scenario: sc.Name, Reruns: max(1, reruns)}
		so, err := b.NewSession(ours, sc.Name, conc, sc.Src, sc.Dst)
		if err != nil {
			return nil, err
		}
		sr, err := b.NewSession(regsync, sc.Name, conc, sc.Src, sc.Dst)
		if err != nil {
			so.Close()
			return nil, err
		}
		err = func() error {
			defer so.Close()
			defer sr.Close()
			if r.Cold = so.Run(ctx, "cold", timeout); r.Cold.Status != "ok" {
				return fmt.Errorf("%s: ours cold: %s %s", sc.Name, r.Cold.Status, r.Cold.Err)
			}
			if c := sr.Run(ctx, "cold", timeout); c.Status != "ok" {
				return fmt.Errorf("%s: regsync cold: %s %s", sc.Name, c.Status, c.Err)
			}
			for range r.Reruns {
				o, g := so.Run(ctx, "warm", timeout), sr.Run(ctx, "warm", timeout)
				if o.Status != "ok" || g.Status != "ok" {
					return fmt.Errorf("%s: rerun: ours %s %s, regsync %s %s", sc.Name, o.Status, o.Err, g.Status, g.Err)
				}
				r.Ours, r.Regsync = append(r.Ours, o), append(r.Regsync, g)
			}
			return nil
		}()
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// NoopTargets are the no-op rerun targets of one scenario: wall ≤ regsync's, and on
// every rerun of ours no source manifest GET and at most one destination request per
// image; the peak RSS of ours (cold and reruns) ≤ 150 MB.
func NoopTargets(f FleetFacts, r NoopResult) []TargetLine {
	ow, rw, q := r.Wall()
	v := "met"
	if q > 1.0 {
		v = fmt.Sprintf("MISSED by %.0f%% (limit 1.0×)", (q-1)*100)
	}
	out := []TargetLine{{
		Target:   fmt.Sprintf("no-op rerun %s, %d charts / %d images: wall ≤ regsync's (median of %d)", r.Scenario, f.Charts, f.Images, r.Reruns),
		Measured: fmt.Sprintf("%.2fs vs %.2fs = %.2f×", ow.Seconds(), rw.Seconds(), q), Verdict: v,
	}}
	worst := map[string]CountCheck{}
	var order []string
	rss := r.Cold.Stats.PeakRSS
	for _, run := range r.Ours {
		rss = max(rss, run.Stats.PeakRSS)
		for _, c := range WarmChecks(f, run) {
			w, seen := worst[c.Name]
			if !seen {
				order = append(order, c.Name)
			}
			if !seen || c.Got > w.Got {
				worst[c.Name] = c
			}
		}
	}
	for _, name := range order {
		c := worst[name]
		v := "met"
		if !c.OK {
			v = fmt.Sprintf("MISSED (got %d, want %s)", c.Got, c.Want)
		}
		out = append(out, TargetLine{Target: fmt.Sprintf("no-op rerun %s, %s", r.Scenario, name), Measured: fmt.Sprintf("%d (worst rerun)", c.Got), Verdict: v})
	}
	v = "met"
	if rss > 150<<20 {
		v = fmt.Sprintf("MISSED by %d MB", (rss-150<<20)>>20)
	}
	out = append(out, TargetLine{Target: fmt.Sprintf("peak RSS ≤ 150 MB (%s, %d charts / %d images, cold and reruns)", r.Scenario, f.Charts, f.Images),
		Measured: fmt.Sprintf("%d MB", rss>>20), Verdict: v})
	return out
}
