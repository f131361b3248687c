package engine

import (
	"errors"
	"io/fs"
	"os"

	"go.uber.org/zap"
)

// failedSuffix marks the consumer overrides of an addon that did not succeed: renamed to
// values.yaml.failed, they are kept for a look but no longer pass for overrides to
// install with (nor match *.yaml).
const failedSuffix = ".failed"

// markOverridesUnlessSucceeded sets aside the consumer overrides an addon that did not
// succeed (ERROR, INCOMPLETE) had written: they would point a cluster at images that were
// never mirrored, or go with a chart that was not published. The report then names none,
// and a warning says where they went. A scan-only run keeps them: it is asked to write them.
func (e *runEnv) markOverridesUnlessSucceeded(rep *AddonReport) {
	if rep.Status == StatusSuccess || rep.ConsumerOverrides == "" || e.opts.ScanOnly {
		return
	}
	path := rep.ConsumerOverrides
	err := os.Rename(path, path+failedSuffix)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		e.log.Warn("could not set aside the consumer overrides of a failed addon", zap.String("addon", rep.Addon), zap.String("path", path), zap.Error(err))
		rep.Warnings = append(rep.Warnings, "consumer overrides "+path+" are not valid (the addon did not succeed) but could not be renamed: "+err.Error())
		return
	}
	rep.ConsumerOverrides = ""
	rep.Warnings = append(rep.Warnings, "no consumer overrides: they are kept only when the addon succeeds (moved to "+path+failedSuffix+")")
}

// restoreMarkedOverrides puts back the overrides a failed run set aside, so that the run
// cache finds its files as it left them (it checks their digest before using them); a
// stale marked copy beside current overrides is removed.
func restoreMarkedOverrides(path string) {
	if _, err := os.Lstat(path + failedSuffix); err != nil {
		return // nothing set aside: the usual case, one lookup
	}
	if _, err := os.Stat(path); err == nil {
		_ = os.Remove(path + failedSuffix)
		return
	}
	_ = os.Rename(path+failedSuffix, path)
}
