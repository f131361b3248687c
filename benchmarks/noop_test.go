package benchmarks

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// BenchmarkNoopRerun: the 200-chart / 500-image fleet (small blobs: a rerun moves none)
// copied cold by ours and by regsync, then rerun unchanged, the two alternating, on
// loopback and under WAN emulation; each rerun of ours is followed by a replay of its
// registry requests by a plain client, the floor of a run making them. Metrics: median
// rerun wall of each, of the replays, and the ratio per scenario; the log holds the targets (wall ≤ regsync's, 0 source manifest GETs, ≤ 1
// destination request per image, peak RSS ≤ 150 MB). Each of -benchtime=Nx is three
// reruns of each tool (1x: three).
func BenchmarkNoopRerun(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	bench, err := NewBench(ctx, FleetOptions{Seed: 1, Charts: 200, Images: 500, BaseLayers: 4, BaseLayerSize: 8 << 10, UniqueLayerSize: 2 << 10}, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer bench.Close()
	ours, err := BuildOurs(ctx, filepath.Join(dir, "bin"))
	if err != nil {
		b.Fatal(err)
	}
	bin, err := goInstall(ctx, helmBinDir(b), RegsyncModule, "regsync")
	if err != nil {
		b.Fatal(err)
	}
	replay, err := BuildReplay(ctx, filepath.Join(dir, "bin"))
	if err != nil {
		b.Fatal(err)
	}
	wan := ProxyOptions{RTT: 50 * time.Millisecond, BytesPerSecond: 20_000_000}
	scenarios := []NoopScenario{{Name: "loopback"}, {Name: "wan", Src: wan, Dst: wan}}
	if only := os.Getenv("AIRGAP_NOOP_SCENARIO"); only != "" { // loopback or wan: one scenario
		scenarios = slices.DeleteFunc(scenarios, func(s NoopScenario) bool { return s.Name != only })
		if len(scenarios) == 0 {
			b.Fatalf("AIRGAP_NOOP_SCENARIO=%s: no such scenario (loopback, wan)", only)
		}
	}
	b.ResetTimer()
	// Ours with its defaults (--referrers all: every image's referrers are looked for on
	// the source again, with HEADs) and as regsync runs (no referrers).
	none := &Ours{Bin: ours.Bin, Extra: []string{"--referrers", "none"}, Label: "--referrers none"}
	variants := []Tool{ours, none}
	hello, err := BuildHello(ctx, filepath.Join(dir, "bin"))
	if err != nil {
		b.Fatal(err)
	}
	start := StartProbe{Ours: []string{ours.Bin, "version"}, Hello: hello}
	res, err := MeasureNoop(ctx, bench, variants, &Regsync{Bin: bin}, replay, start, scenarios, 3*b.N, 8, 5*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	facts := bench.Fleet.Facts()
	var lines []string
	for _, r := range res {
		for i, v := range variants {
			o, g, q := r.Wall(v.Name())
			key := r.Scenario + []string{"-ours", "-ours-refnone"}[i]
			b.ReportMetric(o.Seconds()*1000, key+"-ms")
			b.ReportMetric(q, key+"-x")
			b.ReportMetric(r.ReplayWall(v.Name()).Seconds()*1000, key+"-replay-ms")
			b.ReportMetric(r.Floor(v.Name()).Seconds()*1000, key+"-floor-ms")
			if i == 0 {
				b.ReportMetric(g.Seconds()*1000, r.Scenario+"-regsync-ms")
			}
			for _, t := range NoopTargets(facts, r, v.Name()) {
				lines = append(lines, "| "+t.Target+" | "+t.Measured+" | "+t.Verdict+" |")
			}
			src := r.Runs[v.Name()][0].Src
			lines = append(lines, fmt.Sprintf("| (%s %s: source requests per rerun, all kinds) | %d | - |", r.Scenario, v.Name(), src.Total))
		}
	}
	// Printed, not logged: benchmark logs are cut after a few lines.
	fmt.Println(strings.Join(lines, "\n"))
}

// BenchmarkStartup execs `airgap-charts version` and a trivial Go program built in the
// same run, alternating. Metrics: median wall and CPU of each, and ours over the floor.
func BenchmarkStartup(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	ours, err := BuildOurs(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	hello, err := BuildHello(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	f, err := MeasureStartup(ctx, b.N, []string{ours.Bin, "version"}, []string{hello})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(ms(f[0].Wall), "ours-wall-ms")
	b.ReportMetric(ms(f[0].CPU), "ours-cpu-ms")
	b.ReportMetric(ms(f[1].Wall), "hello-wall-ms")
	b.ReportMetric(ms(f[1].CPU), "hello-cpu-ms")
	b.ReportMetric(ratio(f[0].Wall, f[1].Wall), "wall-x")
}

// TestMeasureStartup runs the startup measurement on two trivial programs: both figures
// are filled in, and the hello program prints what it was built to print.
func TestMeasureStartup(t *testing.T) {
	ctx := context.Background()
	hello, err := BuildHello(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(hello).Output()
	if err != nil || string(out) != "hello\n" {
		t.Fatalf("hello printed %q, %v", out, err)
	}
	f, err := MeasureStartup(ctx, 3, []string{hello}, []string{hello})
	if err != nil {
		t.Fatal(err)
	}
	if len(f) != 2 || f[0].Wall <= 0 || f[1].Wall <= 0 {
		t.Fatalf("figures %+v", f)
	}
	if _, err := MeasureStartup(ctx, 1, []string{filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Fatal("a program that cannot run gave no error")
	}
	_ = os.Remove(hello)
}

// TestNoopTargets reads verdicts off made-up reruns: the median wall against regsync's, the
// worst rerun's request counts, and the peak RSS of cold and reruns.
func TestNoopTargets(t *testing.T) {
	run := func(wall time.Duration, manifestGets, dst int, rss int64) RunResult {
		return RunResult{Stats: ToolStats{Wall: wall, PeakRSS: rss},
			Src: Counts{Kinds: map[registrytest.Kind]int{registrytest.ManifestGet: manifestGets}}, Dst: Counts{Total: dst}}
	}
	r := NoopResult{Scenario: "loopback", Reruns: 3, Regsync: "regsync",
		Cold: map[string]RunResult{"ours": run(time.Second, 10, 900, 160<<20)},
		Runs: map[string][]RunResult{
			"ours":           {run(100*time.Millisecond, 0, 10, 50<<20), run(300*time.Millisecond, 1, 10, 50<<20), run(200*time.Millisecond, 0, 11, 50<<20)},
			"regsync":        {run(100*time.Millisecond, 0, 10, 0), run(100*time.Millisecond, 0, 10, 0), run(100*time.Millisecond, 0, 10, 0)},
			"replay of ours": {run(90*time.Millisecond, 0, 10, 0), run(50*time.Millisecond, 0, 10, 0), run(80*time.Millisecond, 0, 10, 0)},
		},
		Replays: map[string]string{"ours": "replay of ours"},
		Starts:  []time.Duration{10 * time.Millisecond, 30 * time.Millisecond, 20 * time.Millisecond}}
	o, g, q := r.Wall("ours")
	if o != 200*time.Millisecond || g != 100*time.Millisecond || q != 2 {
		t.Fatalf("wall %v vs %v = %v, want the medians 200ms vs 100ms = 2", o, g, q)
	}
	if got := r.ReplayWall("ours"); got != 80*time.Millisecond {
		t.Fatalf("replay wall %v, want the median 80ms", got)
	}
	if got := r.ReplayWall("regsync"); got != 0 {
		t.Fatalf("replay wall of a tool never replayed: %v, want 0", got)
	}
	if got := r.Floor("ours"); got != 100*time.Millisecond {
		t.Fatalf("floor %v, want the median replay 80ms + the median start 20ms", got)
	}
	if got := r.Floor("regsync"); got != 0 {
		t.Fatalf("floor of a tool never replayed: %v, want 0", got)
	}
	lines := NoopTargets(FleetFacts{Charts: 2, Images: 10}, r, "ours")
	verdicts := map[string]string{}
	for _, l := range lines {
		for _, frag := range []string{"wall ≤ regsync's (median of 3)", "right after each rerun, median)", "a hello world's, 20.0 ms), median)", "warm: source manifest GETs", "warm: destination requests on image repositories (<= 1 per image)"} {
			if strings.HasSuffix(l.Target, frag) {
				verdicts[frag] = l.Measured + " " + l.Verdict
			}
		}
	}
	for frag, want := range map[string]string{
		"wall ≤ regsync's (median of 3)":                                    "MISSED by 100% (limit 1.0×); below the floor of 1.00×",
		"right after each rerun, median)":                                   "0.08s = 0.80× regsync's; ours takes 2.50× its replay -",
		"a hello world's, 20.0 ms), median)":                                "0.10s = 1.00× regsync's; ours takes 2.00× its floor -",
		"warm: source manifest GETs":                                        "1 (worst rerun) MISSED",
		"warm: destination requests on image repositories (<= 1 per image)": "11 (worst rerun) MISSED",
	} {
		if !strings.Contains(verdicts[frag], want) {
			t.Errorf("%s: %q, want %q", frag, verdicts[frag], want)
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last.Verdict, "MISSED by 10 MB") {
		t.Errorf("RSS line %+v: the cold run's 160 MB must count", last)
	}
	// A floor under regsync's wall: a miss is ours' own, and the verdict does not excuse it.
	r.Starts = []time.Duration{5 * time.Millisecond}
	if v := NoopTargets(FleetFacts{Charts: 2, Images: 10}, r, "ours")[0].Verdict; v != "MISSED by 100% (limit 1.0×)" {
		t.Errorf("wall verdict with a floor of 0.85×: %q", v)
	}
}
