package benchmarks

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/airgap-charts/airgap-charts/registry"
)

// Config is one benchmark run. Zero values take the documented defaults.
type Config struct {
	Fleet        FleetOptions
	Concurrency  int           // parallelism given to every tool; 0: registry.DefaultConcurrency
	Sweep        []int         // ours' --concurrency sweep under WAN; nil: 1,2,4,8,16,32
	RTT          time.Duration // WAN round trip; 0: 50ms
	Bandwidth    int64         // WAN bytes per second per connection; 0: 20 MB/s
	HubPulls     int           // Docker Hub budget M; 0: the fleet's manifests + 10%
	HubWindow    time.Duration // 0: 1h
	FaultRate    float64       // random 429s in the hub scenario; 0: 0.05
	MoveFraction float64       // tags moved in the moved step; 0: 0.05
	Timeout      time.Duration // per tool run; 0: 10m
	HubTimeout   time.Duration // per tool run in the hub scenario, where a tool may wait out the window; 0: 3m
	Dir          string        // scratch directory
	Peers        bool          // run the peers (the smoke run does not)
	AptInstall   bool          // let the skopeo peer apt-get install itself
	Progress     io.Writer     // one line per run; nil: none
	// Scenarios limits the run to these scenarios (loopback, wan, hub, ecr, plan, bundle); nil: all.
	// The sweep runs when "sweep" is listed or Scenarios is nil.
	Scenarios []string
	// Tools limits the peers to those whose name contains one of these (case-insensitive);
	// nil: every peer. Ours always runs.
	Tools []string
}

// wants reports whether the run includes scenario.
func (c Config) wants(scenario string) bool {
	if c.Scenarios == nil {
		return true
	}
	for _, s := range c.Scenarios {
		if strings.EqualFold(strings.TrimSpace(s), scenario) {
			return true
		}
	}
	return false
}

// wantsTool reports whether the peer named name is selected.
func (c Config) wantsTool(name string) bool {
	if c.Tools == nil {
		return true
	}
	for _, t := range c.Tools {
		if t = strings.TrimSpace(t); t != "" && strings.Contains(strings.ToLower(name), strings.ToLower(t)) {
			return true
		}
	}
	return false
}

func (c Config) withDefaults() Config {
	if c.Concurrency <= 0 {
		c.Concurrency = registry.DefaultConcurrency
	}
	if c.Sweep == nil {
		c.Sweep = []int{1, 2, 4, 8, 16, 32}
	}
	if c.RTT <= 0 {
		c.RTT = 50 * time.Millisecond
	}
	if c.Bandwidth <= 0 {
		c.Bandwidth = 20_000_000
	}
	if c.HubWindow <= 0 {
		c.HubWindow = time.Hour
	}
	if c.FaultRate <= 0 {
		c.FaultRate = 0.05
	}
	if c.MoveFraction <= 0 {
		c.MoveFraction = 0.05
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Minute
	}
	if c.HubTimeout <= 0 {
		c.HubTimeout = 3 * time.Minute
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// FleetFacts are the fleet's numbers that the results are read against.
type FleetFacts struct {
	Charts, Images, Repositories, Manifests int
	DistinctBlobs, RepoBlobRefs             int
	DistinctBytes                           int64
	ChartImageRefs, Pinned, MultiArch       int
	MovedTags, MovedBlobs                   int
	MovedBytes                              int64
}

// Results is everything one benchmark run measured.
type Results struct {
	Config  Config
	Machine Machine
	Started time.Time
	Took    time.Duration
	Fleet   FleetFacts
	Runs    []RunResult // every tool × scenario × step
	Sweep   []RunResult // ours, cold under WAN, per concurrency
}

// Run builds the fleet, runs ours and (unless cfg.Peers is false) every peer through every
// scenario, and returns the measurements.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	cfg = cfg.withDefaults()
	res := &Results{Config: cfg, Machine: DescribeMachine(), Started: time.Now()}
	b, err := NewBench(ctx, cfg.Fleet, cfg.Dir)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	f := b.Fleet
	moved, err := f.MoveTags(cfg.MoveFraction)
	if err != nil {
		return nil, err
	}
	res.Fleet = factsOf(f, moved)
	if cfg.HubPulls <= 0 {
		cfg.HubPulls = f.Manifests()*11/10 + 2
		res.Config.HubPulls = cfg.HubPulls
	}
	binDir := filepath.Join(cfg.Dir, "bin")
	tools := []Tool{}
	if ours, err := BuildOurs(ctx, binDir); err != nil {
		tools = append(tools, brokenTool{"airgap-charts", err})
	} else {
		tools = append(tools, ours)
	}
	if cfg.Peers {
		for _, p := range Peers(ctx, PeerSetup{WorkDir: binDir, AptInstall: cfg.AptInstall}) {
			if cfg.wantsTool(p.Name()) {
				tools = append(tools, p)
			}
		}
	}
	wan := ProxyOptions{RTT: cfg.RTT, BytesPerSecond: cfg.Bandwidth}
	hub := ProxyOptions{Hub: &HubLimit{Pulls: cfg.HubPulls, Window: cfg.HubWindow},
		Faults: &Faults{Rate: cfg.FaultRate, Seed: cfg.Fleet.Seed, Codes: []int{429}}}
	ecr := ProxyOptions{ECR: &ECRLimit{}}
	type plan struct {
		scenario string
		src, dst ProxyOptions
		steps    []string
	}
	plans := []plan{
		{"loopback", ProxyOptions{}, ProxyOptions{}, []string{"cold", "warm", "moved"}},
		{"wan", wan, wan, []string{"cold", "warm"}},
		{"hub", hub, ProxyOptions{}, []string{"cold", "warm"}},
		{"ecr", ProxyOptions{}, ecr, []string{"cold"}},
	}
	for _, t := range tools {
		for _, p := range plans {
			if !cfg.wants(p.scenario) {
				continue
			}
			pc := cfg
			if p.scenario == "hub" {
				pc.Timeout = min(cfg.Timeout, cfg.HubTimeout)
			}
			rs, err := runPlan(ctx, b, t, p.scenario, pc, p.src, p.dst, p.steps, moved)
			if err != nil {
				return nil, err
			}
			for _, r := range rs {
				fmt.Fprintf(cfg.Progress, "%-18s %-9s %-6s %-8s %8.2fs %s\n", r.Tool, r.Scenario, r.Step, r.Status, r.Stats.Wall.Seconds(), tail(r.Err, 160))
			}
			res.Runs = append(res.Runs, rs...)
		}
	}
	if ours, ok := tools[0].(*Ours); ok && cfg.wants("plan") {
		rs, err := RunPlanScenario(ctx, b, ours, cfg.Concurrency, cfg.Timeout)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			fmt.Fprintf(cfg.Progress, "%-18s %-9s %-9s %-8s %8.2fs %s %s\n", r.Tool, r.Scenario, r.Step, r.Status, r.Stats.Wall.Seconds(), r.Stats.Note, tail(r.Err, 160))
		}
		res.Runs = append(res.Runs, rs...)
	}
	if ours, ok := tools[0].(*Ours); ok && cfg.wants("sweep") {
		for _, c := range cfg.Sweep {
			c2 := cfg
			c2.Concurrency = c
			rs, err := runPlan(ctx, b, ours, fmt.Sprintf("sweep-%d", c), c2, wan, wan, []string{"cold"}, nil)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(cfg.Progress, "sweep concurrency %-3d %-8s %8.2fs %s\n", c, rs[0].Status, rs[0].Stats.Wall.Seconds(), tail(rs[0].Err, 160))
			res.Sweep = append(res.Sweep, rs...)
		}
	}
	if ours, ok := tools[0].(*Ours); ok && cfg.wants("bundle") {
		// Two hops: export then import of the same fleet, on loopback (bundle.go).
		rs, err := runPlan(ctx, b, &OursBundle{Ours: ours}, "bundle", cfg, ProxyOptions{}, ProxyOptions{}, []string{"cold", "warm"}, nil)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			fmt.Fprintf(cfg.Progress, "%-18s %-9s %-6s %-8s %8.2fs %s %s\n", r.Tool, r.Scenario, r.Step, r.Status, r.Stats.Wall.Seconds(), r.Stats.Note, tail(r.Err, 160))
		}
		res.Runs = append(res.Runs, rs...)
	}
	res.Took = time.Since(res.Started)
	return res, nil
}

// runPlan runs the steps of one scenario for one tool against one fresh destination.
func runPlan(ctx context.Context, b *Bench, t Tool, scenario string, cfg Config, src, dst ProxyOptions, steps []string, moved []int) ([]RunResult, error) {
	s, err := b.NewSession(t, scenario, cfg.Concurrency, src, dst)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var out []RunResult
	for _, step := range steps {
		if step == "moved" {
			if err := b.Fleet.ApplyMove(ctx, b.Source.Host, moved); err != nil {
				return nil, err
			}
		}
		r := s.Run(ctx, step, cfg.Timeout)
		out = append(out, r)
		if step == "moved" {
			if err := b.Fleet.RevertMove(ctx, b.Source.Host, moved); err != nil {
				return nil, err
			}
		}
		if r.Status == "absent" {
			break
		}
	}
	return out, nil
}

// Facts are the fleet's numbers (no moved tags).
func (f *Fleet) Facts() FleetFacts { return factsOf(f, nil) }

func factsOf(f *Fleet, moved []int) FleetFacts {
	ff := FleetFacts{Charts: len(f.Charts), Images: len(f.Images), Repositories: len(f.Repositories()),
		Manifests: f.Manifests(), DistinctBlobs: f.DistinctBlobs(), DistinctBytes: f.DistinctBytes(),
		RepoBlobRefs: f.RepoBlobRefs(), MovedTags: len(moved)}
	ff.MovedBlobs, ff.MovedBytes = f.MovedBlobs(moved)
	for _, c := range f.Charts {
		for _, u := range c.Uses {
			ff.ChartImageRefs++
			if u.Pinned {
				ff.Pinned++
			}
		}
	}
	for _, img := range f.Images {
		if img.MultiArch {
			ff.MultiArch++
		}
	}
	return ff
}

// brokenTool is a contender that could not be built: every run fails with its error.
type brokenTool struct {
	name string
	err  error
}

func (b brokenTool) Name() string { return b.name }
func (b brokenTool) Run(context.Context, RunEnv) (ToolStats, error) {
	return ToolStats{}, fmt.Errorf("could not be built: %w", b.err)
}
