package benchmarks

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// BuildHello builds a trivial Go program (prints a line and exits) into dir with the same
// toolchain: the floor of a Go process's start on this machine.
func BuildHello(ctx context.Context, dir string) (string, error) {
	src := filepath.Join(dir, "hello-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	files := map[string]string{
		"go.mod":  "module hello\n\ngo 1.22\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			return "", err
		}
	}
	bin := filepath.Join(dir, "hello")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build hello: %w: %s", err, tail(string(out), 400))
	}
	return bin, nil
}

// StartupFigures are the median wall and CPU (user + system) of one execution.
type StartupFigures struct {
	Wall, CPU time.Duration
}

// MeasureStartup execs each argv n times, the programs alternating, and returns the
// median figures of each.
func MeasureStartup(ctx context.Context, n int, argvs ...[]string) ([]StartupFigures, error) {
	walls := make([][]time.Duration, len(argvs))
	cpus := make([][]time.Duration, len(argvs))
	for range max(1, n) {
		for i, argv := range argvs {
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			t0 := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("%v: %w: %s", argv, err, tail(string(out), 300))
			}
			walls[i] = append(walls[i], time.Since(t0))
			cpus[i] = append(cpus[i], cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		}
	}
	out := make([]StartupFigures, len(argvs))
	for i := range argvs {
		out[i] = StartupFigures{Wall: median(walls[i]), CPU: median(cpus[i])}
	}
	return out, nil
}
