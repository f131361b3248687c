package engine

import (
	"context"
	"errors"

	"go.uber.org/zap"
)

// Report is the outcome of a run (filled by the engine; see report.go once written).
type Report struct {
	Addons []AddonReport `json:"addons"`
}

// AddonReport is one addon's outcome.
type AddonReport struct {
	Addon   string `json:"addon"`
	Chart   string `json:"chart"`
	Version string `json:"version"`
	Status  string `json:"status"` // SUCCESS | ERROR
	Error   string `json:"error,omitempty"`
}

// Failed reports whether any addon failed.
func (r *Report) Failed() bool {
	for _, a := range r.Addons {
		if a.Status != "SUCCESS" {
			return true
		}
	}
	return false
}

// Run mirrors every addon in opts. It returns an error only when the run could not start
// (bad options, no destination); per-addon failures are in the report.
func Run(ctx context.Context, opts Options, log *zap.Logger) (*Report, error) {
	_ = ctx
	_ = opts
	_ = log
	return nil, errors.New("engine: not wired yet")
}
