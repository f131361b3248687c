package benchmarks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/yaml"
)

// Pinned peer versions (built from the Go module proxy).
const (
	CraneModule   = "github.com/google/go-containerregistry/cmd/crane@v0.22.1"
	RegsyncModule = "github.com/regclient/regclient/cmd/regsync@v0.11.7"
)

// PeerSetup says where peer binaries are kept and whether missing ones may be installed.
type PeerSetup struct {
	BinDir      string // cache for binaries built with go install; "": user cache dir
	WorkDir     string // where bench-refcopy is built
	AptInstall  bool   // try apt-get install for Debian packages (skopeo) when root
	Concurrency int
}

// Peers prepares every peer; one that cannot be installed is an absent tool with the reason.
func Peers(ctx context.Context, s PeerSetup) []Tool {
	if s.BinDir == "" {
		if d, err := os.UserCacheDir(); err == nil {
			s.BinDir = filepath.Join(d, "airgap-bench", "bin")
		} else {
			s.BinDir = filepath.Join(os.TempDir(), "airgap-bench-bin")
		}
	}
	var tools []Tool
	if ref, err := BuildRefStyle(ctx, s.WorkDir); err != nil {
		tools = append(tools, absentTool{"reference-style", err.Error()})
	} else {
		tools = append(tools, ref)
	}
	if bin, err := goInstall(ctx, s.BinDir, CraneModule, "crane"); err != nil {
		tools = append(tools, absentTool{"crane copy", err.Error()})
	} else {
		tools = append(tools, &Crane{Bin: bin})
	}
	if bin, err := findSkopeo(ctx, s.AptInstall); err != nil {
		tools = append(tools, absentTool{"skopeo copy --all", err.Error()})
	} else {
		tools = append(tools, &Skopeo{Bin: bin})
	}
	if bin, err := goInstall(ctx, s.BinDir, RegsyncModule, "regsync"); err != nil {
		tools = append(tools, absentTool{"regsync", err.Error()})
	} else {
		tools = append(tools, &Regsync{Bin: bin})
	}
	return tools
}

// goInstall builds module@version into dir (once; the binary is reused afterwards).
func goInstall(ctx context.Context, dir, module, bin string) (string, error) {
	path := filepath.Join(dir, bin)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "install", module)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	cmd.Dir = os.TempDir() // outside any module: go install pkg@version
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s: %w: %s", module, err, tail(string(out), 600))
	}
	return path, nil
}

// findSkopeo finds skopeo on PATH, or installs the Debian package when allowed and root.
func findSkopeo(ctx context.Context, aptInstall bool) (string, error) {
	if p, err := exec.LookPath("skopeo"); err == nil {
		return p, nil
	}
	if !aptInstall {
		return "", errors.New("skopeo not on PATH (the smoke run never installs it)")
	}
	if os.Geteuid() != 0 {
		return "", errors.New("skopeo not on PATH and not root, so apt-get install skopeo was not tried")
	}
	for _, args := range [][]string{{"update"}, {"install", "-y", "skopeo"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get %v: %w: %s", args, err, tail(string(out), 400))
		}
	}
	return exec.LookPath("skopeo")
}

// RefStyle copies the way the reference tool does: chart by chart, image by image, each
// validated on the source, skipped when its destination tag exists, else copied (crane.Copy
// in a child process, see cmd/bench-refcopy).
type RefStyle struct{ Bin string }

// BuildRefStyle builds cmd/bench-refcopy into dir.
func BuildRefStyle(ctx context.Context, dir string) (*RefStyle, error) {
	bin, err := goBuild(ctx, "./benchmarks/cmd/bench-refcopy", dir)
	if err != nil {
		return nil, err
	}
	return &RefStyle{Bin: bin}, nil
}

// Name implements Tool.
func (r *RefStyle) Name() string { return "reference-style" }

// Run implements Tool.
func (r *RefStyle) Run(ctx context.Context, env RunEnv) (ToolStats, error) {
	plan := filepath.Join(env.WorkDir, "refcopy-plan.json")
	raw, err := json.Marshal(env.Charts)
	if err != nil {
		return ToolStats{}, err
	}
	if err := os.WriteFile(plan, raw, 0o644); err != nil {
		return ToolStats{}, err
	}
	res, err := runProc(ctx, filepath.Join(env.WorkDir, "refcopy.log"), r.Bin, "-plan", plan)
	return ToolStats{Wall: res.wall, CPU: res.cpu, PeakRSS: res.maxRSS, Procs: 1}, err
}

// Crane runs `crane copy` once per image, Concurrency processes at once.
type Crane struct{ Bin string }

// Name implements Tool.
func (c *Crane) Name() string { return "crane copy" }

// Run implements Tool.
func (c *Crane) Run(ctx context.Context, env RunEnv) (ToolStats, error) {
	return eachImage(ctx, env, "crane.log", func(p ImagePair) []string {
		return []string{c.Bin, "copy", "--insecure", p.Source, p.Dest}
	})
}

// Skopeo runs `skopeo copy --all` once per image, Concurrency processes at once.
type Skopeo struct{ Bin string }

// Name implements Tool.
func (s *Skopeo) Name() string { return "skopeo copy --all" }

// Run implements Tool.
func (s *Skopeo) Run(ctx context.Context, env RunEnv) (ToolStats, error) {
	policy := filepath.Join(env.WorkDir, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		return ToolStats{}, err
	}
	return eachImage(ctx, env, "skopeo.log", func(p ImagePair) []string {
		return []string{s.Bin, "--policy", policy, "copy", "--all", "--src-tls-verify=false", "--dest-tls-verify=false",
			"docker://" + p.Source, "docker://" + p.Dest}
	})
}

// eachImage runs one process per image, env.Concurrency at once; every image is tried.
func eachImage(ctx context.Context, env RunEnv, logName string, argv func(ImagePair) []string) (ToolStats, error) {
	var (
		mu       sync.Mutex
		st       ToolStats
		failed   int
		firstErr error
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, env.Concurrency))
	start := time.Now()
	for _, p := range env.Images {
		a := argv(p)
		g.Go(func() error {
			res, err := runProc(gctx, filepath.Join(env.WorkDir, logName), a[0], a[1:]...)
			mu.Lock()
			defer mu.Unlock()
			st.Procs++
			st.CPU += res.cpu
			st.PeakRSS = max(st.PeakRSS, res.maxRSS)
			if err != nil {
				failed++
				if firstErr == nil {
					firstErr = err
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	st.Wall = time.Since(start)
	st.Note = "peak RSS is the largest single process; " + strconv.Itoa(max(1, env.Concurrency)) + " ran at once"
	if failed > 0 {
		return st, fmt.Errorf("%d of %d images failed, first: %w", failed, len(env.Images), firstErr)
	}
	return st, ctx.Err()
}

// Regsync runs `regsync once` over a generated configuration with parallel = Concurrency.
type Regsync struct{ Bin string }

// Name implements Tool.
func (r *Regsync) Name() string { return "regsync" }

// regsyncConfig is regsync's configuration file.
type regsyncConfig struct {
	Version  int            `json:"version"`
	Creds    []regsyncHost  `json:"creds"`
	Defaults map[string]any `json:"defaults"`
	Sync     []regsyncEntry `json:"sync"`
}

type regsyncHost struct {
	Registry      string `json:"registry"`
	TLS           string `json:"tls"`
	ReqConcurrent int    `json:"reqConcurrent"`
}

type regsyncEntry struct {
	Source string `json:"source"`
	Target string `json:"target"`
	Type   string `json:"type"`
}

// Config renders regsync's configuration for env.
func (r *Regsync) Config(env RunEnv) ([]byte, error) {
	n := max(1, env.Concurrency)
	cfg := regsyncConfig{
		Version: 1,
		Creds: []regsyncHost{
			{Registry: env.SourceHost, TLS: "disabled", ReqConcurrent: n},
			{Registry: env.DestHost, TLS: "disabled", ReqConcurrent: n},
		},
		Defaults: map[string]any{"parallel": n, "skipDockerConfig": true},
	}
	for _, p := range env.Images {
		cfg.Sync = append(cfg.Sync, regsyncEntry{Source: p.Source, Target: p.Dest, Type: "image"})
	}
	return yaml.Marshal(cfg)
}

// Run implements Tool.
func (r *Regsync) Run(ctx context.Context, env RunEnv) (ToolStats, error) {
	raw, err := r.Config(env)
	if err != nil {
		return ToolStats{}, err
	}
	cfg := filepath.Join(env.WorkDir, "regsync.yaml")
	if err := os.WriteFile(cfg, raw, 0o644); err != nil {
		return ToolStats{}, err
	}
	res, err := runProc(ctx, filepath.Join(env.WorkDir, "regsync.log"), r.Bin, "once", "-c", cfg)
	return ToolStats{Wall: res.wall, CPU: res.cpu, PeakRSS: res.maxRSS, Procs: 1}, err
}
