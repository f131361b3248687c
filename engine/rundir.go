package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// A run keeps its temporary files (the Helm sandbox, the blob spool, push sandboxes) in one
// directory of its own under the temporary directory, named runDirPrefix…, holding a lock
// file that the run keeps locked (flock) while it lives. A run killed before it could
// remove its directory leaves the lock free: the next run removes such directories, and
// never one whose lock is held.
const (
	runDirPrefix  = "airgap-charts-run-"
	runDirStaging = ".airgap-charts-new-" // a run directory until its lock is held
	runLockName   = "run.lock"
	// stagingGrace is how old a staging directory must be to count as abandoned (a run
	// holds one for the time of a mkdir, an open and a rename).
	stagingGrace = 10 * time.Minute
)

// runDir is a live run's temporary directory.
type runDir struct {
	path string
	lock *os.File
}

// newRunDir removes what dead runs left in parent (empty: os.TempDir()) and creates this
// run's directory there, locked.
func newRunDir(parent string, log *zap.Logger) (*runDir, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	if n := removeDeadRunDirs(parent); n > 0 {
		log.Info("removed temporary files of runs that were killed", zap.Int("directories", n), zap.String("dir", parent))
	}
	staging, err := os.MkdirTemp(parent, runDirStaging)
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(staging, runLockName), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		os.RemoveAll(staging)
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	fmt.Fprintf(lock, "%d\n", os.Getpid())
	final := filepath.Join(parent, runDirPrefix+strings.TrimPrefix(filepath.Base(staging), runDirStaging))
	if err := os.Rename(staging, final); err != nil {
		lock.Close()
		os.RemoveAll(staging)
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	return &runDir{path: final, lock: lock}, nil
}

// sub is a directory of the run's own, created.
func (d *runDir) sub(name string) (string, error) {
	p := filepath.Join(d.path, name)
	if err := os.MkdirAll(p, 0o700); err != nil {
		return "", fmt.Errorf("temporary directory: %w", err)
	}
	return p, nil
}

// close removes the directory, then lets the lock go.
func (d *runDir) close() {
	if d == nil {
		return
	}
	_ = os.RemoveAll(d.path)
	_ = d.lock.Close()
}

// removeDeadRunDirs removes the run directories in parent whose lock no live process
// holds (and staging directories abandoned long ago); it returns how many it removed.
func removeDeadRunDirs(parent string) int {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return 0
	}
	removed := 0
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(parent, name)
		switch {
		case !e.IsDir():
		case strings.HasPrefix(name, runDirPrefix):
			if removeIfDead(p) {
				removed++
			}
		case strings.HasPrefix(name, runDirStaging):
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > stagingGrace && os.RemoveAll(p) == nil {
				removed++
			}
		}
	}
	return removed
}

// removeIfDead removes the run directory p unless its lock is held.
func removeIfDead(p string) bool {
	f, err := os.OpenFile(filepath.Join(p, runLockName), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		// A run removes its lock file last but one; without it, the directory is being
		// removed or was left half removed. Either way no live run uses it.
		return os.RemoveAll(p) == nil
	}
	if err != nil {
		return false
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return false // a live run holds it
	}
	return os.RemoveAll(p) == nil
}

// outputLockName is the lock file of an output directory: one run at a time writes there.
// The run holding it removes it when it ends.
const outputLockName = ".airgap-charts.lock"

// outputLock is a held output directory lock.
type outputLock struct {
	f    *os.File
	path string
	// leftover: the lock file was there when this run came, so the run that made it did not
	// end (it was killed, or its machine went down) and may have left temporary files.
	leftover bool
}

// lockOutputDir takes the output directory's lock, refusing when another run holds it. The
// kernel lets the lock go if the process dies.
func lockOutputDir(dir string) (*outputLock, error) {
	p := filepath.Join(dir, outputLockName)
	_, err := os.Lstat(p)
	leftover := err == nil
	for {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("output dir %s: %w", dir, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			holder := readPID(f)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("output dir %s is in use by another airgap-charts run%s: wait for it to finish, or give this run another --output-dir", dir, holder)
			}
			return nil, fmt.Errorf("output dir %s: lock %s: %w", dir, p, err)
		}
		// The run that held the lock removes the file as it ends: the lock is ours only if
		// the file locked is still the one at p.
		held, errF := f.Stat()
		now, errP := os.Stat(p)
		if errF == nil && errP == nil && os.SameFile(held, now) {
			if err := f.Truncate(0); err == nil {
				_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			}
			return &outputLock{f: f, path: p, leftover: leftover}, nil
		}
		f.Close()
	}
}

// release removes the lock file, then lets the lock go.
func (l *outputLock) release() {
	_ = os.Remove(l.path)
	_ = l.f.Close()
}

// readPID describes the process a lock file names, or "".
func readPID(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return ""
	}
	return fmt.Sprintf(" (pid %d)", pid)
}

// removeStaleTemps removes from the output directory the temporary files a killed run was
// writing (repacked charts and run cache entries: .NAME.*.tmp; downloads: .download-*;
// the report: .NAME.partial). Only a run holding the directory's lock may call it: no
// other run writes there then, and only when the lock file was left (outputLock.leftover):
// a run that ends removes its own temporary files, then its lock file, so after one the
// walk of every file of the directory finds nothing. It returns how many it removed.
func removeStaleTemps(dir string) int {
	removed := 0
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		n := d.Name()
		if strings.HasPrefix(n, ".") && (strings.HasSuffix(n, ".tmp") || strings.HasPrefix(n, ".download-") || strings.HasSuffix(n, ".partial")) {
			if os.Remove(p) == nil {
				removed++
			}
		}
		return nil
	})
	return removed
}
