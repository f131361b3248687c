package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// Bench is a fleet pushed into a source registry and served as a chart repository.
type Bench struct {
	Fleet   *Fleet
	Source  *registrytest.Registry
	Charts  *ChartRepo
	Catalog string
	Dir     string
	runs    int
}

// NewBench generates the fleet, pushes it and serves its charts; dir holds the files.
func NewBench(ctx context.Context, fo FleetOptions, dir string) (*Bench, error) {
	f, err := NewFleet(fo)
	if err != nil {
		return nil, err
	}
	src, err := registrytest.Start()
	if err != nil {
		return nil, fmt.Errorf("source registry: %w", err)
	}
	b := &Bench{Fleet: f, Source: src, Dir: dir}
	if err := f.Push(ctx, src.Host); err != nil {
		b.Close()
		return nil, err
	}
	if b.Charts, err = f.ServeCharts(filepath.Join(dir, "chart-repo")); err != nil {
		b.Close()
		return nil, err
	}
	b.Catalog = filepath.Join(dir, "catalog.yaml")
	if err := f.WriteCatalog(b.Catalog, b.Charts.URL); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Close stops the servers.
func (b *Bench) Close() {
	if b.Charts != nil {
		b.Charts.Close()
	}
	b.Source.Close()
}

// RunResult is one tool's run of one step.
type RunResult struct {
	Tool     string
	Scenario string
	Step     string // cold, warm, moved
	Status   string // ok, failed, absent, timeout
	Err      string
	Stats    ToolStats
	Src      Counts // source proxy, image repositories
	Dst      Counts // destination proxy, image repositories
	DstAll   Counts // destination proxy, every request (charts included)
	Images   int    // distinct images in the run
}

// Session is one tool against one fresh destination, through one pair of proxies.
type Session struct {
	b        *Bench
	tool     Tool
	scenario string
	conc     int
	hub      *HubLimit
	quota    *ECRLimit
	state    string // kept across the session's steps, as a nightly job keeps its output dir
	src, dst *Proxy
	dstReg   *registrytest.Registry
}

// NewSession starts a fresh destination registry and the proxies in front of source and
// destination.
func (b *Bench) NewSession(tool Tool, scenario string, conc int, srcOpts, dstOpts ProxyOptions) (*Session, error) {
	s := &Session{b: b, tool: tool, scenario: scenario, conc: conc, hub: srcOpts.Hub, quota: dstOpts.ECR}
	var err error
	if s.dstReg, err = registrytest.Start(); err != nil {
		return nil, fmt.Errorf("destination registry: %w", err)
	}
	if s.src, err = StartProxy(b.Source.Server.URL, srcOpts); err != nil {
		s.Close()
		return nil, err
	}
	if s.dst, err = StartProxy(s.dstReg.Server.URL, dstOpts); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the session's servers.
func (s *Session) Close() {
	for _, p := range []*Proxy{s.src, s.dst} {
		if p != nil {
			p.Close()
		}
	}
	if s.dstReg != nil {
		s.dstReg.Close()
	}
}

// Env is the RunEnv of this session.
func (s *Session) Env(dir string) RunEnv {
	f := s.b.Fleet
	pair := func(i int) ImagePair {
		img := f.Images[i]
		return ImagePair{Source: img.Ref(s.src.Host), Dest: img.Ref(s.dst.Host)}
	}
	if s.state == "" {
		s.state = dir + "-state"
	}
	env := RunEnv{SourceName: f.Options.SourceName, SourceHost: s.src.Host, DestHost: s.dst.Host,
		Catalog: s.b.Catalog, Concurrency: s.conc, WorkDir: dir, StateDir: s.state, Hub: s.hub, Quota: s.quota}
	for i := range f.Images {
		env.Images = append(env.Images, pair(i))
	}
	for _, uses := range f.ChartImages() {
		var c []ImagePair
		for _, i := range uses {
			c = append(c, pair(i))
		}
		env.Charts = append(env.Charts, c)
	}
	return env
}

// Run runs the tool once (step names it) and collects what both proxies saw.
func (s *Session) Run(ctx context.Context, step string, timeout time.Duration) RunResult {
	return s.runTool(ctx, s.tool, step, timeout)
}

// runTool runs tool once against this session's proxies and state.
func (s *Session) runTool(ctx context.Context, tool Tool, step string, timeout time.Duration) RunResult {
	s.b.runs++
	safe := strings.NewReplacer(" ", "-", "/", "-").Replace(tool.Name())
	dir := filepath.Join(s.b.Dir, "runs", fmt.Sprintf("%03d-%s-%s-%s", s.b.runs, s.scenario, safe, step))
	r := RunResult{Tool: tool.Name(), Scenario: s.scenario, Step: step, Status: "ok", Images: len(s.b.Fleet.Images)}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.Status, r.Err = "failed", err.Error()
		return r
	}
	s.src.Reset()
	s.dst.Reset()
	// The registries and proxies live in this process. A collection of their heap (every
	// registry's content) costs a tenth of a second of CPU on the cores the tool runs on;
	// left to its own pace it lands in one run and not the next, charging whichever tool
	// happens to be running. It is taken here, before the timed run: a tool's run pays
	// only for a collection its own requests bring about.
	runtime.GC()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	env := s.Env(dir)
	env.Step = step
	st, err := tool.Run(rctx, env)
	r.Stats = st
	switch {
	case errors.Is(err, ErrAbsent):
		r.Status, r.Err = "absent", err.Error()
	case err != nil && rctx.Err() == context.DeadlineExceeded:
		r.Status, r.Err = "timeout", fmt.Sprintf("no result within %v", timeout)
	case err != nil:
		r.Status, r.Err = "failed", err.Error()
	}
	prefix := s.b.Fleet.Options.Namespace + "/"
	images := func(q ProxyRequest) bool { return strings.HasPrefix(q.Repository, prefix) }
	r.Src = s.src.Counts(nil)
	r.Dst = s.dst.Counts(images)
	r.DstAll = s.dst.Counts(nil)
	return r
}
