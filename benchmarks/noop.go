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

// NoopResult is ours (one or more variants) against regsync rerunning over an unchanged
// fleet in one scenario: each tool copies the fleet cold once (untimed) into its own
// destination, then reruns Reruns times, the tools taking turns.
type NoopResult struct {
	Scenario string
	Reruns   int
	// Reruns and cold runs by tool name.
	Runs map[string][]RunResult
	Cold map[string]RunResult
	// Regsync is the peer's name in Runs.
	Regsync string
	// Replays names, for each of ours, the replay of its reruns in Runs: each rerun's
	// registry requests sent again right after it by a plain client (replay.go).
	Replays map[string]string
	// Starts is ours' process start, measured after each round of reruns: the wall of
	// `airgap-charts version` less a hello world's (StartProbe); empty when not measured.
	Starts []time.Duration
}

// StartProbe is how MeasureNoop times ours' process start: Ours is the command line of
// ours doing nothing (`version`), Hello a trivial Go program's (BuildHello); zero: not
// timed.
type StartProbe struct {
	Ours  []string
	Hello string
}

// Start is the median of the process starts measured; 0 when none were.
func (r NoopResult) Start() time.Duration { return median(r.Starts) }

// Floor is what a run of tool cannot take less than: the median replay of its requests
// plus ours' process start. 0 when either was not measured.
func (r NoopResult) Floor(tool string) time.Duration {
	pw, st := r.ReplayWall(tool), r.Start()
	if pw <= 0 || st <= 0 {
		return 0
	}
	return pw + st
}

// Wall is the median rerun wall of tool and of regsync, and their ratio.
func (r NoopResult) Wall(tool string) (ours, regsync time.Duration, ratio float64) {
	ours, regsync = r.median(tool, wallOf), r.median(r.Regsync, wallOf)
	if regsync > 0 {
		ratio = float64(ours) / float64(regsync)
	}
	return ours, regsync, ratio
}

// CPU is the median rerun CPU (user + system) of tool and of regsync.
func (r NoopResult) CPU(tool string) (ours, regsync time.Duration) {
	return r.median(tool, cpuOf), r.median(r.Regsync, cpuOf)
}

// ReplayWall is the median wall of the replays of tool's reruns; 0 when there were none.
func (r NoopResult) ReplayWall(tool string) time.Duration {
	return r.median(r.Replays[tool], wallOf)
}

func wallOf(x RunResult) time.Duration { return x.Stats.Wall }
func cpuOf(x RunResult) time.Duration  { return x.Stats.CPU }

func (r NoopResult) median(tool string, of func(RunResult) time.Duration) time.Duration {
	var out []time.Duration
	for _, x := range r.Runs[tool] {
		out = append(out, of(x))
	}
	return median(out)
}

// MeasureNoop runs the comparison of each of ours (variants) with regsync in every
// scenario. With replayBin (BuildReplay's), each rerun of ours is followed by a replay of
// its requests; with start, each round of reruns is followed by a timing of ours' process
// start.
func MeasureNoop(ctx context.Context, b *Bench, ours []Tool, regsync Tool, replayBin string, start StartProbe, scenarios []NoopScenario, reruns, conc int, timeout time.Duration) ([]NoopResult, error) {
	var out []NoopResult
	tools := append(append([]Tool{}, ours...), regsync)
	for _, sc := range scenarios {
		r := NoopResult{Scenario: sc.Name, Reruns: max(1, reruns), Runs: map[string][]RunResult{}, Cold: map[string]RunResult{},
			Regsync: regsync.Name(), Replays: map[string]string{}}
		err := func() error {
			var sessions []*Session
			defer func() {
				for _, s := range sessions {
					s.Close()
				}
			}()
			for _, t := range tools {
				s, err := b.NewSession(t, sc.Name, conc, sc.Src, sc.Dst)
				if err != nil {
					return err
				}
				sessions = append(sessions, s)
				c := s.Run(ctx, "cold", timeout)
				if c.Status != "ok" {
					return fmt.Errorf("%s: %s cold: %s %s", sc.Name, t.Name(), c.Status, c.Err)
				}
				r.Cold[t.Name()] = c
			}
			for range r.Reruns {
				for i, s := range sessions {
					w := s.Run(ctx, "warm", timeout)
					if w.Status != "ok" {
						return fmt.Errorf("%s: %s rerun: %s %s", sc.Name, tools[i].Name(), w.Status, w.Err)
					}
					r.Runs[tools[i].Name()] = append(r.Runs[tools[i].Name()], w)
					if replayBin == "" || i >= len(ours) {
						continue
					}
					rp := s.Replay(ctx, replayBin, tools[i].Name(), timeout)
					if rp.Status != "ok" {
						return fmt.Errorf("%s: %s: %s %s", sc.Name, rp.Tool, rp.Status, rp.Err)
					}
					r.Replays[tools[i].Name()] = rp.Tool
					r.Runs[rp.Tool] = append(r.Runs[rp.Tool], rp)
				}
				if len(start.Ours) == 0 {
					continue
				}
				f, err := MeasureStartup(ctx, 1, start.Ours, []string{start.Hello})
				if err != nil {
					return fmt.Errorf("%s: process start: %w", sc.Name, err)
				}
				r.Starts = append(r.Starts, max(0, f[0].Wall-f[1].Wall))
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
func NoopTargets(f FleetFacts, r NoopResult, tool string) []TargetLine {
	ow, rw, q := r.Wall(tool)
	fl := r.Floor(tool)
	v := "met"
	if q > 1.0 {
		v = fmt.Sprintf("MISSED by %.0f%% (limit 1.0×)", (q-1)*100)
		if fl > 0 && rw > 0 && fl >= rw {
			v += fmt.Sprintf("; below the floor of %.2f×: its requests and process start alone take longer than regsync's rerun", float64(fl)/float64(rw))
		}
	}
	oc, rc := r.CPU(tool)
	out := []TargetLine{{
		Target:   fmt.Sprintf("no-op rerun %s, %s, %d charts / %d images: wall ≤ regsync's (median of %d)", r.Scenario, tool, f.Charts, f.Images, r.Reruns),
		Measured: fmt.Sprintf("%.2fs vs %.2fs = %.2f×", ow.Seconds(), rw.Seconds(), q), Verdict: v,
	}, {
		Target:   fmt.Sprintf("(no-op rerun %s, %s: CPU of the process, user + system, median)", r.Scenario, tool),
		Measured: fmt.Sprintf("%.2fs vs regsync's %.2fs", oc.Seconds(), rc.Seconds()), Verdict: "-",
	}}
	if pw := r.ReplayWall(tool); pw > 0 && rw > 0 {
		out = append(out, TargetLine{
			Target:   fmt.Sprintf("(no-op rerun %s, %s: its registry requests sent again by a plain client right after each rerun, median)", r.Scenario, tool),
			Measured: fmt.Sprintf("%.2fs = %.2f× regsync's; %s takes %.2f× its replay", pw.Seconds(), float64(pw)/float64(rw), tool, float64(ow)/float64(pw)),
			Verdict:  "-",
		})
	}
	if fl > 0 && rw > 0 {
		out = append(out, TargetLine{
			Target:   fmt.Sprintf("(no-op rerun %s, %s: floor = its replay + ours' process start (`version` less a hello world's, %.1f ms), median)", r.Scenario, tool, ms(r.Start())),
			Measured: fmt.Sprintf("%.2fs = %.2f× regsync's; %s takes %.2f× its floor", fl.Seconds(), float64(fl)/float64(rw), tool, float64(ow)/float64(fl)),
			Verdict:  "-",
		})
	}
	worst := map[string]CountCheck{}
	var order []string
	rss := r.Cold[tool].Stats.PeakRSS
	for _, run := range r.Runs[tool] {
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
		out = append(out, TargetLine{Target: fmt.Sprintf("no-op rerun %s, %s, %s", r.Scenario, tool, name), Measured: fmt.Sprintf("%d (worst rerun)", c.Got), Verdict: v})
	}
	v = "met"
	if rss > 150<<20 {
		v = fmt.Sprintf("MISSED by %d MB", (rss-150<<20)>>20)
	}
	out = append(out, TargetLine{Target: fmt.Sprintf("peak RSS ≤ 150 MB (%s, %s, %d charts / %d images, cold and reruns)", r.Scenario, tool, f.Charts, f.Images),
		Measured: fmt.Sprintf("%d MB", rss>>20), Verdict: v})
	return out
}
