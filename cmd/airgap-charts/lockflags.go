package main

import (
	"path/filepath"

	"github.com/airgap-charts/airgap-charts/engine"
)

// lockFlags are the lock file's flags (engine/lock.go has the format).
type lockFlags struct {
	Lock       string `group:"Lock" placeholder:"FILE" help:"Lock file every run writes (a filtered run updates its addons' entries only): per addon the resolved chart version and archive digest, per image the digest its source resolved to and its destination (default: airgap-charts.lock.yaml beside the first --values or --catalog file)."`
	Locked     bool   `group:"Lock" help:"Run exactly the lock: the locked chart versions (no range, --latest or newest resolved), images pulled by their locked digests. A chart republished or a source tag moved since the lock fails its addon, naming what moved; an addon whose entry was made from other inputs (or is missing), or a lock from a newer schema, is an error (exit 2). With --only-addon / --exclude-addons, exactly the selected addons' entries."`
	UpdateLock bool   `group:"Lock" help:"With --locked: accept what moved since the lock (and a lock for other inputs), run with it and rewrite the lock."`
	PinDigests bool   `group:"Lock" help:"Rewritten charts and consumer overrides reference images as repo:tag@sha256:… (the digest at the destination), so what installs cannot change when a destination tag is overwritten."`
}

// options fills the lock settings of o; firstInput is the first input file.
func (f lockFlags) options(o *engine.Options, firstInput string) error {
	if f.UpdateLock && !f.Locked {
		return usagef("--update-lock needs --locked (a run without --locked rewrites the lock anyway)")
	}
	o.LockFile = f.Lock
	if o.LockFile == "" {
		o.LockFile = filepath.Join(filepath.Dir(firstInput), engine.LockFileName)
	}
	o.Locked, o.UpdateLock, o.PinDigests = f.Locked, f.UpdateLock, f.PinDigests
	return nil
}
