package chartrepotest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// CorpusEnv names an environment variable that can point at the corpus charts directory.
const CorpusEnv = "AIRGAP_CORPUS_CHARTS"

// RequireCorpusEnv set to 1 turns a missing corpus from a skip into a failure (CI sets it).
const RequireCorpusEnv = "AIRGAP_REQUIRE_CORPUS"

// CorpusDir is the real-chart corpus every corpus test reads: $AIRGAP_CORPUS_CHARTS, else
// ../shared/corpus/charts beside the repository root (the directory holding go.mod).
// Without either the test is skipped, saying so, unless $AIRGAP_REQUIRE_CORPUS is 1: then
// it fails. $AIRGAP_CORPUS_CHARTS naming something that is not a directory always fails.
func CorpusDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv(CorpusEnv); d != "" {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			t.Fatalf("corpus: %s=%s is not a directory", CorpusEnv, d)
			return ""
		}
		return d
	}
	beside, err := corpusBesideRepository()
	if err == nil {
		return beside
	}
	if os.Getenv(RequireCorpusEnv) == "1" {
		t.Fatalf("corpus required (%s=1) but not found: %v; set %s to the corpus charts directory", RequireCorpusEnv, err, CorpusEnv)
		return ""
	}
	t.Skipf("needs the real-chart corpus, not found (%v); set %s to the corpus charts directory to run it", err, CorpusEnv)
	return ""
}

// corpusBesideRepository is ../shared/corpus/charts from the repository root, found by
// walking up from the working directory (a package directory under go test) to go.mod.
func corpusBesideRepository() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
	c := filepath.Join(filepath.Dir(dir), "shared", "corpus", "charts")
	if st, err := os.Stat(c); err != nil || !st.IsDir() {
		return "", fmt.Errorf("no %s beside the repository", c)
	}
	return c, nil
}

// Corpus returns the directory of the corpus chart name (a path such as
// "prometheus/charts/alertmanager" reaches a vendored subchart); a corpus without it fails
// the test, no corpus at all skips it (see CorpusDir).
func Corpus(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(CorpusDir(t), name)
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
		t.Fatalf("corpus chart %s: %v", name, err)
	}
	return dir
}
