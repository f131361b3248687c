package main

import (
	"context"
	"fmt"
	"runtime"

	"github.com/airgap-charts/airgap-charts/registry"
)

// demoCmd runs the demonstration.
type demoCmd struct{}

func (c *demoCmd) Run(a *app) error {
	log, err := a.logger()
	if err != nil {
		return err
	}
	ctx := a.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	return runDemo(ctx, a.stdout, log)
}

// versionCmd prints the airgap-charts version (stamped at build time, else what Go
// recorded in the binary) and the Go version.
type versionCmd struct{}

func (c *versionCmd) Run(a *app) error {
	_, err := fmt.Fprintln(a.stdout, versionLine(registry.Build()))
	return err
}

// versionLine is "airgap-charts VERSION [(commit REV[, modified])] GO OS/ARCH".
func versionLine(i registry.BuildInfo) string {
	s := "airgap-charts " + i.Version
	if i.Revision != "" {
		rev := i.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " (commit " + rev
		if i.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return fmt.Sprintf("%s %s %s/%s", s, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
