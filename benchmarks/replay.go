package benchmarks

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BuildReplay builds cmd/bench-replay into dir.
func BuildReplay(ctx context.Context, dir string) (string, error) {
	return goBuild(ctx, "./benchmarks/cmd/bench-replay", dir)
}

// replayTool sends the registry requests of another tool's run again with a plain HTTP
// client (cmd/bench-replay): the floor of any run that makes those requests, measured on
// the same proxies and registries.
type replayTool struct {
	bin     string
	of      string
	lines   []string // method, URL, status, Accept; tab-separated
	workers int
}

// ReplayName is the name a replay of tool's run carries in results.
func ReplayName(tool string) string { return "replay of " + tool }

func (t *replayTool) Name() string { return ReplayName(t.of) }

func (t *replayTool) Run(ctx context.Context, env RunEnv) (ToolStats, error) {
	path := filepath.Join(env.WorkDir, "requests.tsv")
	if err := os.WriteFile(path, []byte(strings.Join(t.lines, "\n")+"\n"), 0o644); err != nil {
		return ToolStats{}, err
	}
	res, err := runProc(ctx, filepath.Join(env.WorkDir, "replay.log"), t.bin, "-c", strconv.Itoa(t.workers), path)
	return ToolStats{Wall: res.wall, CPU: res.cpu, PeakRSS: res.maxRSS, Procs: 1}, err
}

// Replay sends the requests both proxies saw in this session's last run again, in the
// order they reached the proxies, from as many connections as that run opened (at least
// the session's concurrency), and collects what the proxies saw of the replay. Only a
// run that read (GET and HEAD, as a no-op rerun does) can be replayed: its requests have
// no bodies to send again.
func (s *Session) Replay(ctx context.Context, bin, of string, timeout time.Duration) RunResult {
	type sent struct {
		base string
		ProxyRequest
	}
	var all []sent
	for _, p := range []*Proxy{s.src, s.dst} {
		for _, q := range p.Requests() {
			all = append(all, sent{p.URL, q})
		}
	}
	workers := max(s.conc, int(s.src.Connections()+s.dst.Connections()))
	slices.SortStableFunc(all, func(a, b sent) int { return a.Start.Compare(b.Start) })
	tool := &replayTool{bin: bin, of: of, workers: workers}
	for _, q := range all {
		if q.Method != http.MethodGet && q.Method != http.MethodHead {
			return RunResult{Tool: tool.Name(), Scenario: s.scenario, Step: "replay", Status: "failed",
				Err: fmt.Sprintf("%s's run sent %s %s: only reads can be replayed", of, q.Method, q.Target)}
		}
		tool.lines = append(tool.lines, strings.Join([]string{q.Method, q.base + q.Target, strconv.Itoa(q.Status), q.Accept}, "\t"))
	}
	return s.runTool(ctx, tool, "replay", timeout)
}
