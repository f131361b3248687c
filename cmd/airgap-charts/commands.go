package main

import (
	"context"
	"fmt"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

// demoCmd runs the demonstration.
type demoCmd struct{}

func (c *demoCmd) Run(a *app) error {
	log, err := a.logger()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return runDemo(ctx, a.stdout, log)
}

// versionCmd prints the module version and the Go version.
type versionCmd struct{}

func (c *versionCmd) Run(a *app) error {
	_, err := fmt.Fprintln(a.stdout, versionString())
	return err
}

func versionString() string {
	version, revision := "(unknown)", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		version = info.Main.Version
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				revision = s.Value[:12]
			}
		}
	}
	if revision != "" {
		return fmt.Sprintf("airgap-charts %s (commit %s) %s %s/%s", version, revision, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	return fmt.Sprintf("airgap-charts %s %s %s/%s", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
