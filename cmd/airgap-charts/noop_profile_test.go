package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/benchmarks"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

var (
	noopProfile = flag.String("noopprofile", "", "BenchmarkNoopInProcess: write a CPU profile of the reruns alone to this file")
	noopKeep    = flag.String("noopkeep", "", "BenchmarkNoopInProcess: copy the last rerun's report and log into this directory")
)

// inProcess runs the CLI in this process with the arguments the benchmarks give the binary,
// so a rerun can be profiled without a profiling flag in the binary.
type inProcess struct {
	extra []string
	log   bytes.Buffer
}

func (p *inProcess) Name() string { return "airgap-charts in process" }

func (p *inProcess) Run(ctx context.Context, env benchmarks.RunEnv) (benchmarks.ToolStats, error) {
	args := (&benchmarks.Ours{Extra: p.extra}).Args(env)
	start := time.Now()
	p.log.Reset()
	code := run(args, &p.log, &p.log, func(string) string { return "" })
	st := benchmarks.ToolStats{Wall: time.Since(start), Procs: 1}
	if *noopKeep != "" {
		_ = os.MkdirAll(*noopKeep, 0o755)
		_ = os.WriteFile(filepath.Join(*noopKeep, "log.json"), p.log.Bytes(), 0o644)
		if rep, err := os.ReadFile(filepath.Join(env.WorkDir, "report.json")); err == nil {
			_ = os.WriteFile(filepath.Join(*noopKeep, "report.json"), rep, 0o644)
		}
	}
	if code != 0 {
		return st, fmt.Errorf("exit %d: %s", code, tailOf(p.log.String(), 2000))
	}
	return st, nil
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// BenchmarkNoopInProcess copies the 200-chart / 500-image fleet cold, then reruns it b.N
// times unchanged in this process (loopback), the CPU profile (-noopprofile) covering the
// reruns alone. AIRGAP_NOOP_REFERRERS=none runs as --referrers none.
func BenchmarkNoopInProcess(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	bench, err := benchmarks.NewBench(ctx, benchmarks.FleetOptions{Seed: 1, Charts: 200, Images: 500, BaseLayers: 4, BaseLayerSize: 8 << 10, UniqueLayerSize: 2 << 10}, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer bench.Close()
	tool := &inProcess{}
	if m := os.Getenv("AIRGAP_NOOP_REFERRERS"); m != "" {
		tool.extra = []string{"--referrers", m}
	}
	tool.extra = append(tool.extra, strings.Fields(os.Getenv("AIRGAP_NOOP_EXTRA"))...)
	s, err := bench.NewSession(tool, "loopback", 8, benchmarks.ProxyOptions{}, benchmarks.ProxyOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if c := s.Run(ctx, "cold", 5*time.Minute); c.Status != "ok" {
		b.Fatalf("cold: %s %s", c.Status, c.Err)
	}
	if *noopProfile != "" {
		f, err := os.Create(filepath.Clean(*noopProfile))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	b.ResetTimer()
	for range b.N {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		w := s.Run(ctx, "warm", 5*time.Minute)
		runtime.ReadMemStats(&after)
		b.Logf("rerun allocated %d MiB (whole test process: the registries too), %d GCs", (after.TotalAlloc-before.TotalAlloc)>>20, after.NumGC-before.NumGC)
		if w.Status != "ok" {
			b.Fatalf("warm: %s %s", w.Status, w.Err)
		}
		b.Logf("rerun %v: source %d requests (%d manifest GETs) on %d connections, destination %d on images, %d in all on %d connections",
			w.Stats.Wall, w.Src.Total, w.Src.Kinds[registrytest.ManifestGet], w.Src.Connections, w.Dst.Total, w.DstAll.Total, w.DstAll.Connections)
	}
}
