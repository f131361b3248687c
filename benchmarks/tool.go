package benchmarks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ImagePair is one copy: a source reference (through the source proxy) and its destination.
type ImagePair struct {
	Source string `json:"source"`
	Dest   string `json:"dest"`
}

// RunEnv is what a tool gets for one run.
type RunEnv struct {
	// SourceName is the registry host the charts' images carry (docker.io); tools that read
	// charts mirror it to SourceHost.
	SourceName string
	// SourceHost is the proxy in front of the source registry (host:port, plain HTTP).
	SourceHost string
	// DestHost is the proxy in front of this tool's own destination registry.
	DestHost string
	// Images is every distinct image once; Charts is each chart's images in catalog order.
	Images []ImagePair
	Charts [][]ImagePair
	// Catalog is the path of the fleet's catalog.yaml.
	Catalog     string
	Concurrency int
	// WorkDir is a fresh directory for this run's files and logs.
	WorkDir string
	// StateDir is kept across the steps of one session (cold, then warm…) of one tool and
	// destination, as a nightly job keeps its output directory between runs.
	StateDir string
	// Hub is the source's pull budget when one is enforced (ours gets it as --rate-limit).
	Hub *HubLimit
	// Quota is the destination's write quota when one is enforced (ours gets it as
	// --push-rate-limit / --upload-rate-limit, as a user of a non-ECR-named host would).
	Quota *ECRLimit
	// Step names the run in its session: cold, warm, moved.
	Step string
}

// ToolStats is what a run measured.
type ToolStats struct {
	Wall    time.Duration
	CPU     time.Duration // user + system time of the tool's processes; 0: unknown
	PeakRSS int64         // bytes, largest of the tool's processes; 0: unknown
	Procs   int           // processes run (crane and skopeo run one per image)
	Note    string        // what the reader should know (e.g. how failures were counted)
}

// Tool is one contender: ours or a peer.
type Tool interface {
	Name() string
	Run(ctx context.Context, env RunEnv) (ToolStats, error)
}

// ErrAbsent marks a tool that could not be installed on this machine.
var ErrAbsent = errors.New("absent")

// absentTool stands for a peer that could not be installed; it never runs.
type absentTool struct{ name, reason string }

func (a absentTool) Name() string { return a.name }
func (a absentTool) Run(context.Context, RunEnv) (ToolStats, error) {
	return ToolStats{}, fmt.Errorf("%w: %s", ErrAbsent, a.reason)
}

// procResult is one finished subprocess.
type procResult struct {
	wall   time.Duration
	cpu    time.Duration // user + system
	maxRSS int64
}

// runProc runs bin with args, output appended to logPath, and measures it. The error quotes
// the tail of the output.
//
// Peak RSS is the child's VmHWM read from /proc while it runs: the rusage Maxrss that wait4
// reports is useless here, because Go starts children with vfork semantics and Linux folds
// the parent's (this benchmark's, fleet included) high-water mark into the child's at exec.
func runProc(ctx context.Context, logPath, bin string, args ...string) (procResult, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Start()
	var res procResult
	if err == nil {
		done := make(chan struct{})
		peak := make(chan int64, 1)
		go func() { peak <- pollHWM(cmd.Process.Pid, done) }()
		err = cmd.Wait()
		close(done)
		res.maxRSS = <-peak
		if ps := cmd.ProcessState; ps != nil {
			res.cpu = ps.UserTime() + ps.SystemTime()
		}
	}
	res.wall = time.Since(start)
	if logPath != "" {
		if f, ferr := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); ferr == nil {
			fmt.Fprintf(f, "$ %s %s\n", filepath.Base(bin), strings.Join(args, " "))
			f.Write(out.Bytes())
			f.Close()
		}
	}
	if err != nil {
		return res, fmt.Errorf("%s %s: %w: %s", filepath.Base(bin), strings.Join(args, " "), err, tail(out.String(), 600))
	}
	return res, nil
}

// pollHWM samples /proc/PID/status VmHWM (a high-water mark, so the last sample is the
// peak so far) every 10 ms until done is closed, and returns it in bytes.
func pollHWM(pid int, done <-chan struct{}) int64 {
	path := "/proc/" + strconv.Itoa(pid) + "/status"
	var peak int64
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if raw, err := os.ReadFile(path); err == nil {
			for _, line := range strings.Split(string(raw), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64); err == nil {
						peak = max(peak, kb*1024)
					}
				}
			}
		}
		select {
		case <-done:
			return peak
		case <-t.C:
		}
	}
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// moduleRoot finds the directory holding go.mod, from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// goBuild builds the module's package pkg (./cmd/x) into dir and returns the binary path.
func goBuild(ctx context.Context, pkg, dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w: %s", pkg, err, tail(string(out), 800))
	}
	return bin, nil
}
