package benchmarks

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"
)

// OursBundle is the two-hop way: `airgap-charts export` from the source into a bundle
// directory, then `airgap-charts import` of it into the destination, one after the other.
// Its wall is both together; the note splits it.
type OursBundle struct {
	Ours *Ours
}

// Name implements Tool.
func (o *OursBundle) Name() string { return "airgap-charts export+import" }

// Run implements Tool.
func (o *OursBundle) Run(ctx context.Context, env RunEnv) (ToolStats, error) {
	state := cmp.Or(env.StateDir, env.WorkDir)
	dir := filepath.Join(state, "bundle")
	conc := strconv.Itoa(max(1, env.Concurrency))
	log := filepath.Join(env.WorkDir, "airgap-charts.log")
	exp, err := runProc(ctx, log, o.Ours.Bin, "export", "--catalog", env.Catalog, "--to", dir,
		"--registry-mirror", env.SourceName+"="+env.SourceHost, "--mirror-complete", env.SourceName, "--insecure-registry", env.SourceHost,
		"--concurrency", conc, "--log-format", "json")
	st := ToolStats{Wall: exp.wall, CPU: exp.cpu, PeakRSS: exp.maxRSS, Procs: 1}
	if err != nil {
		return st, err
	}
	imp, err := runProc(ctx, log, o.Ours.Bin, "import", "--from", dir,
		"--target-registry", env.DestHost, "--target-kind", "oci", "--insecure-registry", env.DestHost,
		"--concurrency", conc, "--output-dir", filepath.Join(state, "out"),
		"--report", filepath.Join(env.WorkDir, "report.json"), "--log-format", "json")
	st.Wall += imp.wall
	st.CPU += imp.cpu
	st.PeakRSS = max(st.PeakRSS, imp.maxRSS)
	st.Procs++
	st.Note = fmt.Sprintf("export %v, import %v", exp.wall.Round(time.Millisecond), imp.wall.Round(time.Millisecond))
	if err != nil {
		return st, err
	}
	if failed, first := reportFailures(filepath.Join(env.WorkDir, "report.json")); failed > 0 {
		st.Note += fmt.Sprintf("; %d addons failed, first: %s", failed, first)
		return st, fmt.Errorf("airgap-charts import: %s", st.Note)
	}
	return st, nil
}
