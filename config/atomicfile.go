package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic leaves target holding data with mode: written to a temporary file beside
// it, synced and renamed over it, so a reader never sees a half-written file. A target that
// already holds exactly data with mode is left untouched (no write, no sync, its time
// kept), so a rerun that changes nothing writes nothing. It is the one atomic write of the
// tool: outputs, caches (WriteCacheFile), the lock, the report and bundle files.
func WriteFileAtomic(target string, data []byte, mode os.FileMode) error {
	return writeFileAtomic(target, data, mode, true)
}

// WriteCacheFile is WriteFileAtomic without the sync, for a cache's entries: a crash may
// leave one empty or torn, which its reader takes as corrupt and ignores, so waiting for the
// disk before the rename buys nothing (a cold run writes one entry per addon).
func WriteCacheFile(target string, data []byte, mode os.FileMode) error {
	return writeFileAtomic(target, data, mode, false)
}

func writeFileAtomic(target string, data []byte, mode os.FileMode, sync bool) (err error) {
	if st, err := os.Stat(target); err == nil && st.Mode().IsRegular() && st.Mode().Perm() == mode.Perm() && st.Size() == int64(len(data)) {
		if old, err := os.ReadFile(target); err == nil && bytes.Equal(old, data) {
			return nil
		}
	}
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(target)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	if sync {
		if err = tmp.Sync(); err != nil {
			return fmt.Errorf("write %s: %w", target, err)
		}
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	if err = os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	return nil
}
