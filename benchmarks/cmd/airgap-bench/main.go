// Command airgap-bench runs the airgap-charts benchmark: a synthetic fleet, WAN emulation,
// ours and every installable peer through every scenario; it writes RESULTS.md and plots.
//
//	go run ./benchmarks/cmd/airgap-bench -out benchmarks/results [-charts 200 -images 500] [-smoke]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/airgap-charts/airgap-charts/benchmarks"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		out         = flag.String("out", "benchmarks/results", "directory for RESULTS.md and the plots")
		charts      = flag.Int("charts", 200, "charts in the fleet")
		images      = flag.Int("images", 500, "distinct images in the fleet")
		seed        = flag.Uint64("seed", 1, "fleet seed")
		baseLayers  = flag.Int("base-layers", 12, "shared base layers per architecture")
		baseSize    = flag.Int64("base-layer-size", 1<<20, "bytes per base layer")
		uniqueSize  = flag.Int64("unique-layer-size", 128<<10, "bytes per image layer (±50%)")
		concurrency = flag.Int("concurrency", 8, "parallelism given to every tool")
		sweep       = flag.String("sweep", "1,2,4,8,16,32", "ours' --concurrency sweep under WAN")
		timeout     = flag.Duration("timeout", 10*time.Minute, "limit per tool run")
		smoke       = flag.Bool("smoke", false, "small fleet (10 charts / 25 images), no peers; exit 1 when a request-count target is missed")
		noPeers     = flag.Bool("no-peers", false, "run ours only")
		scenarios   = flag.String("scenarios", "", "comma-separated scenarios to run (loopback,wan,hub,ecr,plan,sweep); empty: all")
		toolsFlag   = flag.String("tools", "", "comma-separated peers to run (name substrings: crane,regsync,skopeo,reference); empty: all")
		jsonOut     = flag.String("json", "", "also write every run's raw measurements (counts by kind) to this file")
		work        = flag.String("workdir", "", "scratch directory (default: a temporary one, removed afterwards)")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	cfg := benchmarks.Config{
		Fleet: benchmarks.FleetOptions{Seed: *seed, Charts: *charts, Images: *images,
			BaseLayers: *baseLayers, BaseLayerSize: *baseSize, UniqueLayerSize: *uniqueSize},
		Concurrency: *concurrency, Timeout: *timeout, Peers: !*noPeers, AptInstall: true, Progress: os.Stderr,
	}
	if *scenarios != "" {
		cfg.Scenarios = strings.Split(*scenarios, ",")
	}
	if *toolsFlag != "" {
		cfg.Tools = strings.Split(*toolsFlag, ",")
	}
	for _, s := range strings.Split(*sweep, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "-sweep: %q is not a positive number\n", s)
			return 2
		}
		cfg.Sweep = append(cfg.Sweep, n)
	}
	if *smoke {
		cfg.Fleet = benchmarks.FleetOptions{Seed: *seed, Charts: 10, Images: 25}
		cfg.Peers, cfg.AptInstall = false, false
		cfg.Sweep = []int{1, 8}
		cfg.Timeout = 2 * time.Minute
	}
	dir := *work
	if dir == "" {
		tmp, err := os.MkdirTemp("", "airgap-bench-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	cfg.Dir = dir
	res, err := benchmarks.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "airgap-bench: %v\n", err)
		return 1
	}
	if err := benchmarks.WriteResults(*out, res); err != nil {
		fmt.Fprintf(os.Stderr, "airgap-bench: write results: %v\n", err)
		return 1
	}
	if *jsonOut != "" {
		raw, err := json.MarshalIndent(append(res.Runs, res.Sweep...), "", "  ")
		if err == nil {
			err = os.WriteFile(*jsonOut, raw, 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "airgap-bench: write %s: %v\n", *jsonOut, err)
			return 1
		}
	}
	fmt.Fprintf(os.Stderr, "wrote %s/RESULTS.md (took %s)\n", *out, res.Took.Round(time.Second))
	if *smoke {
		missed := 0
		for _, t := range res.Targets(res.Fleet) {
			if strings.Contains(t.Target, "request") || strings.HasPrefix(t.Target, "cold:") || strings.HasPrefix(t.Target, "warm:") || strings.HasPrefix(t.Target, "plan:") {
				if t.Verdict != "met" {
					fmt.Fprintf(os.Stderr, "MISSED %s: %s (%s)\n", t.Target, t.Measured, t.Verdict)
					missed++
				}
			}
		}
		if missed > 0 {
			return 1
		}
	}
	return 0
}
