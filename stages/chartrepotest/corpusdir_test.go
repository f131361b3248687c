package chartrepotest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// outcomeTB records what CorpusDir asked of the test instead of stopping it.
type outcomeTB struct {
	testing.TB
	skipped, failed string
}

func (o *outcomeTB) Helper()                      {}
func (o *outcomeTB) Skipf(f string, args ...any)  { o.skipped = fmt.Sprintf(f, args...) }
func (o *outcomeTB) Fatalf(f string, args ...any) { o.failed = fmt.Sprintf(f, args...) }

// repoTree makes ROOT/repo/go.mod and ROOT/repo/pkg, works in ROOT/repo/pkg, and returns ROOT.
func repoTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "repo", "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "repo", "go.mod"), []byte("module example.com/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(root, "repo", "pkg"))
	return root
}

func TestCorpusDirSkipsWithoutACorpus(t *testing.T) {
	repoTree(t)
	t.Setenv(CorpusEnv, "")
	t.Setenv(RequireCorpusEnv, "")
	o := &outcomeTB{TB: t}
	CorpusDir(o)
	if o.failed != "" || !strings.Contains(o.skipped, "needs the real-chart corpus") || !strings.Contains(o.skipped, CorpusEnv) {
		t.Fatalf("skipped %q, failed %q; want a skip naming %s", o.skipped, o.failed, CorpusEnv)
	}
}

func TestCorpusDirFailsWithoutACorpusWhenRequired(t *testing.T) {
	repoTree(t)
	t.Setenv(CorpusEnv, "")
	t.Setenv(RequireCorpusEnv, "1")
	o := &outcomeTB{TB: t}
	CorpusDir(o)
	if o.skipped != "" || !strings.Contains(o.failed, RequireCorpusEnv+"=1") {
		t.Fatalf("skipped %q, failed %q; want a failure naming %s", o.skipped, o.failed, RequireCorpusEnv)
	}
}

func TestCorpusDirFindsTheCorpusBesideTheRepository(t *testing.T) {
	root := repoTree(t)
	want := filepath.Join(root, "shared", "corpus", "charts")
	if err := os.MkdirAll(want, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(CorpusEnv, "")
	t.Setenv(RequireCorpusEnv, "1")
	o := &outcomeTB{TB: t}
	if got := CorpusDir(o); got != want || o.skipped != "" || o.failed != "" {
		t.Fatalf("CorpusDir = %q (skipped %q, failed %q), want %s", got, o.skipped, o.failed, want)
	}
}

func TestCorpusDirFollowsTheEnvironment(t *testing.T) {
	repoTree(t)
	want := t.TempDir()
	t.Setenv(CorpusEnv, want)
	o := &outcomeTB{TB: t}
	if got := CorpusDir(o); got != want || o.skipped != "" || o.failed != "" {
		t.Fatalf("CorpusDir = %q (skipped %q, failed %q), want %s", got, o.skipped, o.failed, want)
	}
	t.Setenv(CorpusEnv, filepath.Join(want, "missing"))
	o = &outcomeTB{TB: t}
	CorpusDir(o)
	if o.failed == "" || o.skipped != "" {
		t.Fatalf("a %s naming no directory: skipped %q, failed %q; want a failure", CorpusEnv, o.skipped, o.failed)
	}
}
