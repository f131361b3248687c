package main

import (
	"errors"

	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/engine"
)

// Exit codes of a plan (and of sync --scan-only) besides 0, 1, 2 and 3.
const (
	exitPending = 4 // changes pending: an image to copy or a chart to publish
	exitDrift   = 5 // drift found: a destination tag holds other content than the source's
)

// errPending and errDrift are what a plan found (exit codes 4 and 5).
var (
	errPending = errors.New("changes pending")
	errDrift   = errors.New("drift found")
)

// planCmd is sync's checks without a write: every source resolved, every destination tag
// asked read-only, a table of what a sync would do.
type planCmd struct {
	syncCmd `embed:""`
}

// Run plans: sync with --scan-only.
func (c *planCmd) Run(a *app) error {
	if c.PushImages {
		return usagef("plan never pushes: --push-images cannot be used with it")
	}
	c.ScanOnly = true
	return c.syncCmd.Run(a)
}

// planExit is a plan's outcome as an error for the exit code: 1 (or 3) when an addon
// failed, else 5 for drift, else 4 for changes pending, else nil (nothing to do).
func planExit(report *engine.Report, log *zap.Logger) error {
	t := report.Totals
	switch {
	case report.Errored():
		log.Error("plan: some addons would fail", zap.Int("failed", t.Failed), zap.Int("incomplete", t.Incomplete))
		if report.CouldNotRun() {
			return errCouldNotRun
		}
		return errAddonsFailed
	case report.DriftFound():
		log.Warn("plan: drift found", zap.Int("images", t.Drift), zap.Int("charts", t.ChartsDrift))
		return errDrift
	case report.Pending():
		log.Info("plan: changes pending", zap.Int("images_to_copy", t.ToCopy), zap.Int("charts_to_publish", t.ChartsPublished))
		return errPending
	}
	log.Info("plan: nothing to do")
	return nil
}
