package engine

import (
	"path/filepath"

	"github.com/airgap-charts/airgap-charts/config"
)

// overridesPath is where a's consumer overrides go: {output}/{chart}/values.yaml, as the
// reference tool writes them, when a is the only addon of the run releasing that chart;
// {output}/{chart}/{release}.values.yaml for each of several releases of one chart, whose
// image values may differ (two ingress controllers with their own images, say).
func overridesPath(opts Options, a config.Addon) string {
	dir := chartDir(opts, a)
	n := 0
	for _, b := range opts.Addons {
		if b.Chart == a.Chart {
			n++
		}
	}
	if n <= 1 {
		return filepath.Join(dir, "values.yaml")
	}
	release := a.Release
	if release == "" {
		release = a.Name()
	}
	return filepath.Join(dir, release+".values.yaml")
}
