package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/config"
)

// blockingRepo is a chart repository whose first request signals arrived and waits for
// release: a run asking it is held in the middle of its work.
func blockingRepo(t *testing.T) (url string, arrived <-chan struct{}, release func()) {
	t.Helper()
	arrivedC, releaseC := make(chan struct{}, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrivedC <- struct{}{}:
			<-releaseC
		default:
		}
		http.NotFound(w, r)
	}))
	released := false
	rel := func() {
		if !released {
			released = true
			close(releaseC)
		}
	}
	t.Cleanup(func() { rel(); srv.Close() })
	return srv.URL, arrivedC, rel
}

func minimalOptions(t *testing.T, repoURL, out, tmp string) Options {
	return Options{
		Addons:         []config.Addon{{Chart: "web", Repository: repoURL, Release: "web"}},
		TargetRegistry: "127.0.0.1:1", TargetKind: "oci", InsecureRegistry: []string{"127.0.0.1"},
		OutputDir: out, TempDir: tmp, Retries: -1, ChartConcurrency: 1, Concurrency: 1,
	}
}

// TestSecondRunOnOneOutputDirIsRefused: while a run works in an output directory, another
// run there is refused at once, naming the directory and the pid holding it; once the
// first has ended, a run there proceeds.
func TestSecondRunOnOneOutputDirIsRefused(t *testing.T) {
	repoURL, arrived, release := blockingRepo(t)
	out, tmp := filepath.Join(t.TempDir(), "out"), t.TempDir()
	first := make(chan error, 1)
	go func() {
		_, err := runChecked(t, context.Background(), minimalOptions(t, repoURL, out, tmp), nil)
		first <- err
	}()
	<-arrived // the first run holds the output directory and waits on its chart repository

	_, err := runChecked(t, context.Background(), minimalOptions(t, repoURL, out, tmp), nil)
	if err == nil || !strings.Contains(err.Error(), "output dir "+out+" is in use by another airgap-charts run (pid "+strconv.Itoa(os.Getpid())+")") {
		t.Fatalf("second run: %v", err)
	}
	release()
	if err := <-first; err != nil {
		t.Fatalf("first run: %v", err)
	}
	if _, err := runChecked(t, context.Background(), minimalOptions(t, repoURL, out, tmp), nil); err != nil {
		t.Fatalf("run after the first ended: %v", err)
	}
}

// TestKilledRunsLeftoversAreRemoved: a run removes the temporary directories of runs that
// died (lock free, or lock file gone), abandoned staging directories and the temporary
// files a killed run left in the output directory; it keeps those of a live run and
// finished files, and leaves nothing of its own.
func TestKilledRunsLeftoversAreRemoved(t *testing.T) {
	tmp := t.TempDir()
	mk := func(name string, files ...string) string {
		d := filepath.Join(tmp, name)
		for _, f := range files {
			touchFiles(t, 0o600, filepath.Join(d, f))
		}
		return d
	}
	dead := mk(runDirPrefix+"dead", runLockName, "spool/airgap-charts-spool-1/partial-1", "helm/repository/x-index.yaml")
	noLock := mk(runDirPrefix+"halfgone", "spool/airgap-charts-spool-2/sha256-aa")
	live := mk(runDirPrefix+"live", runLockName, "spool/airgap-charts-spool-3/partial-3")
	oldStaging := mk(runDirStaging+"old", runLockName)
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(oldStaging, past, past); err != nil {
		t.Fatal(err)
	}
	freshStaging := mk(runDirStaging+"fresh", runLockName)
	other := mk("someone-else", "keep")
	f, err := os.OpenFile(filepath.Join(live, runLockName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}

	out := t.TempDir()
	stale := []string{filepath.Join(out, "web", ".web-0.1.0.tgz.123.tmp"), filepath.Join(out, ".cache", ".download-9"), filepath.Join(out, ".report.json.partial")}
	kept := filepath.Join(out, "web", "web-0.1.0.tgz")
	// the killed run's lock file, which it had no chance to remove
	touchFiles(t, 0o644, append(stale, kept, filepath.Join(out, outputLockName))...)

	repoURL, _, release := blockingRepo(t)
	release()
	if _, err := runChecked(t, context.Background(), minimalOptions(t, repoURL, out, tmp), nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("temporary file of a killed run left in the output directory: %s", p)
		}
	}
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("a finished file was removed: %v", err)
	}
	for _, gone := range []string{dead, noLock, oldStaging} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s left in place (%v)", filepath.Base(gone), err)
		}
	}
	for _, kept := range []string{live, freshStaging, other} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("%s removed: %v", filepath.Base(kept), err)
		}
	}
	entries, _ := os.ReadDir(tmp)
	if len(entries) != 3 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("temporary directory after the run holds %v, want only the live run's, the fresh staging one and someone else's", names)
	}
}

// TestOutputTempsAreLookedForAfterAKilledRunOnly: the output directory is walked for
// temporary files only when the lock file of a run that did not end is there; after a run
// that ended, a file named like one is another's and is left alone.
func TestOutputTempsAreLookedForAfterAKilledRunOnly(t *testing.T) {
	out, tmp := t.TempDir(), t.TempDir()
	temp := filepath.Join(out, "web", ".web-0.1.0.tgz.7.tmp")
	touchFiles(t, 0o644, temp)
	repoURL, _, release := blockingRepo(t)
	release()
	if _, err := runChecked(t, context.Background(), minimalOptions(t, repoURL, out, tmp), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(temp); err != nil {
		t.Fatalf("no run was killed, yet %s went: %v", temp, err)
	}
	if _, err := os.Stat(filepath.Join(out, outputLockName)); !os.IsNotExist(err) {
		t.Fatalf("the run left its lock file (%v)", err)
	}
	if err := os.WriteFile(filepath.Join(out, outputLockName), []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runChecked(t, context.Background(), minimalOptions(t, repoURL, out, tmp), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(temp); !os.IsNotExist(err) {
		t.Fatalf("the temporary file of the run that left its lock file is still there (%v)", err)
	}
}

// touchFiles writes each path (its directories made) holding one byte, with mode.
func touchFiles(t *testing.T, mode os.FileMode, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
	}
}
