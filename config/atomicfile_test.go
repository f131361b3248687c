package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// An atomic write replaces the file whole, leaves no temporary file, and leaves a file that
// already holds the same bytes and mode untouched (its time kept): a rerun that changes
// nothing writes nothing.
// WriteCacheFile behaves the same, the sync left out.
func TestWriteFileAtomic(t *testing.T) {
	for name, write := range map[string]func(string, []byte, os.FileMode) error{"WriteFileAtomic": WriteFileAtomic, "WriteCacheFile": WriteCacheFile} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "sub", "values.yaml")
			if err := write(p, []byte("a: 1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
			if err := write(p, []byte("a: 1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if st, _ := os.Stat(p); !st.ModTime().Equal(old) {
				t.Errorf("the same bytes were written again: time %s, was %s", st.ModTime(), old)
			}
			for _, step := range []struct {
				data string
				mode os.FileMode
			}{{"a: 2\n", 0o644}, {"a: 2\n", 0o600}} {
				if err := write(p, []byte(step.data), step.mode); err != nil {
					t.Fatal(err)
				}
				st, _ := os.Stat(p)
				got, _ := os.ReadFile(p)
				if string(got) != step.data || st.Mode().Perm() != step.mode || st.ModTime().Equal(old) {
					t.Errorf("after writing %q %o: %q %o, time %s", step.data, step.mode, got, st.Mode().Perm(), st.ModTime())
				}
			}
			entries, _ := os.ReadDir(filepath.Dir(p))
			if len(entries) != 1 {
				t.Errorf("left beside the file: %v", entries)
			}
		})
	}
}
