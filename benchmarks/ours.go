package benchmarks

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Ours runs the airgap-charts binary as a child process, so its peak RSS is measured the
// same way as the peers'.
type Ours struct {
	Bin string
	// Extra are flags added to every run ("--referrers", "none"); Label names the variant.
	Extra []string
	Label string
}

// BuildOurs builds ./cmd/airgap-charts into dir.
func BuildOurs(ctx context.Context, dir string) (*Ours, error) {
	bin, err := goBuild(ctx, "./cmd/airgap-charts", dir)
	if err != nil {
		return nil, err
	}
	return &Ours{Bin: bin}, nil
}

// Name implements Tool.
func (o *Ours) Name() string {
	if o.Label != "" {
		return "airgap-charts " + o.Label
	}
	return "airgap-charts"
}

// Args is the command line of one run.
func (o *Ours) Args(env RunEnv) []string {
	args := []string{"sync",
		"--catalog", env.Catalog,
		"--target-registry", env.DestHost,
		"--target-kind", "oci",
		// The source registry plays SourceName (docker.io) itself: the mirror is the origin,
		// complete, as a run pulling from docker.io directly sees it.
		"--registry-mirror", env.SourceName + "=" + env.SourceHost, "--mirror-complete", env.SourceName,
		"--insecure-registry", env.SourceHost,
		"--insecure-registry", env.DestHost,
		"--concurrency", strconv.Itoa(max(1, env.Concurrency)),
		"--output-dir", filepath.Join(cmp.Or(env.StateDir, env.WorkDir), "out"),
		// The lock lives with the session's state, as a nightly job's does: sessions that
		// share the catalog (and each have a destination of their own) never read another's.
		"--lock", filepath.Join(cmp.Or(env.StateDir, env.WorkDir), "airgap-charts.lock.yaml"),
		"--report", filepath.Join(env.WorkDir, "report.json"),
		"--log-format", "json",
	}
	args = append(args, o.Extra...)
	if env.Step == "moved" {
		// The peers replace a tag that moved at the source; ours, by default, reports it
		// as drift (exit 1) and copies nothing over a tag the destination holds. Its user
		// who wants the peers' behaviour says so.
		args = append(args, "--overwrite-existing")
	}
	if env.Hub != nil {
		args = append(args, "--rate-limit", fmt.Sprintf("%s=%d/%s", env.SourceName, env.Hub.Pulls, env.Hub.Window.Round(time.Second)))
	}
	if q := env.Quota; q != nil {
		put, up := q.ManifestPutPerSecond, q.UploadPerSecond
		if put <= 0 {
			put = 10
		}
		if up <= 0 {
			up = 100
		}
		args = append(args,
			"--push-rate-limit", fmt.Sprintf("%s=%d/1s", env.DestHost, int(put)),
			"--upload-rate-limit", fmt.Sprintf("%s=%d/1s", env.DestHost, int(up)))
	}
	return args
}

// Run implements Tool.
func (o *Ours) Run(ctx context.Context, env RunEnv) (ToolStats, error) {
	res, err := runProc(ctx, filepath.Join(env.WorkDir, "airgap-charts.log"), o.Bin, o.Args(env)...)
	st := ToolStats{Wall: res.wall, CPU: res.cpu, PeakRSS: res.maxRSS, Procs: 1}
	if failed, first := reportFailures(filepath.Join(env.WorkDir, "report.json")); failed > 0 {
		st.Note = fmt.Sprintf("%d addons failed, first: %s", failed, first)
		if err == nil {
			err = fmt.Errorf("airgap-charts: %s", st.Note)
		}
	}
	return st, err
}

// reportFailures reads the run report (engine.Report's JSON) and counts failed addons.
func reportFailures(path string) (int, string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, ""
	}
	var rep struct {
		Addons []struct {
			Addon, Status, Error string
		} `json:"addons"`
	}
	if json.Unmarshal(raw, &rep) != nil {
		return 0, ""
	}
	n, first := 0, ""
	for _, a := range rep.Addons {
		if a.Status != "SUCCESS" {
			if n == 0 {
				first = a.Addon + ": " + a.Error
			}
			n++
		}
	}
	return n, first
}
