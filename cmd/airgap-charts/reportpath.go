package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// checkReportPath finds out, before anything is pulled or pushed, whether the run report
// can be written to path: path is a file or does not exist yet, and the nearest directory
// that exists above it is one this process may write into (the report is written to a
// temporary file there and renamed into place). It writes nothing.
func checkReportPath(path string) error {
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return usagef("--report %s: is a directory, not a file", path)
	case err == nil && !st.Mode().IsRegular():
		return usagef("--report %s: is not a regular file", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		return usagef("--report %s: %v", path, unwrapPathError(err))
	}
	dir := filepath.Dir(path)
	for {
		st, err := os.Stat(dir)
		if err == nil {
			if !st.IsDir() {
				return usagef("--report %s: %s is not a directory", path, dir)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return usagef("--report %s: %v", path, unwrapPathError(err))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if err := syscall.Access(dir, 0x2|0x1); err != nil { // W_OK|X_OK
		return usagef("--report %s: cannot write into directory %s: %v", path, dir, err)
	}
	return nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
