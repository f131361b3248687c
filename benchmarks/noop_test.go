package benchmarks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkNoopRerun: the 200-chart / 500-image fleet (small blobs: a rerun moves none)
// copied cold by ours and by regsync, then rerun unchanged, the two alternating, on
// loopback and under WAN emulation. Metrics: median rerun wall of each and the ratio per
// scenario; the log holds the targets (wall ≤ regsync's, 0 source manifest GETs, ≤ 1
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
	wan := ProxyOptions{RTT: 50 * time.Millisecond, BytesPerSecond: 20_000_000}
	scenarios := []NoopScenario{{Name: "loopback"}, {Name: "wan", Src: wan, Dst: wan}}
	b.ResetTimer()
	res, err := MeasureNoop(ctx, bench, ours, &Regsync{Bin: bin}, scenarios, 3*b.N, 8, 5*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	facts := bench.Fleet.Facts()
	var lines []string
	for _, r := range res {
		o, g, q := r.Wall()
		b.ReportMetric(o.Seconds()*1000, r.Scenario+"-ours-ms")
		b.ReportMetric(g.Seconds()*1000, r.Scenario+"-regsync-ms")
		b.ReportMetric(q, r.Scenario+"-x")
		for _, t := range NoopTargets(facts, r) {
			lines = append(lines, "| "+t.Target+" | "+t.Measured+" | "+t.Verdict+" |")
		}
	}
	b.Logf("\n%s", strings.Join(lines, "\n"))
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
