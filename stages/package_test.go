package stages

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
)

// TestPackageChartDeterministic packs the rewritten kube-prometheus-stack (with its
// subcharts) twice: same bytes, named {chart}-{version}.tgz, nothing else left in the
// directory, fixed headers, loadable by Helm with the subcharts and the edited values.
func TestPackageChartDeterministic(t *testing.T) {
	ch := testLoadCorpusChart(t, "kube-prometheus-stack")
	plan, err := PlanRewrite(ch, testMappings(t, testExpectedImages(t, "kube-prometheus-stack"), testLayout))
	if err != nil {
		t.Fatal(err)
	}
	if err := ApplyRewrite(ch, plan); err != nil {
		t.Fatal(err)
	}
	dir1, dir2 := t.TempDir(), t.TempDir()
	a1, err := PackageChart(ch, dir1)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := PackageChart(testCloneChart(t, ch), dir2)
	if err != nil {
		t.Fatal(err)
	}
	p1, p2, d1, d2 := a1.Path, a2.Path, a1.Digest, a2.Digest
	if d1 != d2 {
		t.Errorf("digests differ: %s vs %s", d1, d2)
	}
	if filepath.Base(p1) != "kube-prometheus-stack-"+ch.Metadata.Version+".tgz" {
		t.Errorf("archive name %s", p1)
	}
	data, err := os.ReadFile(p1)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if d1 != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("digest %s is not the file's sha256", d1)
	}
	if !bytes.Equal(a1.Data, data) || a1.Metadata.Name != ch.Name() || a1.Metadata.Version != ch.Metadata.Version {
		t.Errorf("the packaged archive's bytes or metadata are not the file's: %d bytes, %s %s", len(a1.Data), a1.Metadata.Name, a1.Metadata.Version)
	}
	if entries, _ := os.ReadDir(dir1); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the archive", len(entries))
	}
	if _, err := PackageChart(ch, dir1); err != nil { // over an existing archive
		t.Fatal(err)
	}

	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("gzip header carries name %q / time %v", zr.Name, zr.ModTime)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(archiveEpoch) || h.Uid != 0 || h.Gid != 0 || h.Mode != 0o644 {
			t.Errorf("%s: header time %v uid %d gid %d mode %o", h.Name, h.ModTime, h.Uid, h.Gid, h.Mode)
		}
		names = append(names, h.Name)
	}
	if !sort.StringsAreSorted(names) {
		t.Error("entries are not sorted")
	}

	loaded, err := loader.Load(p2)
	if err != nil {
		t.Fatalf("helm cannot load the package: %v", err)
	}
	subs := map[string]bool{}
	for _, d := range loaded.Dependencies() {
		subs[d.Name()] = true
	}
	for _, want := range []string{"crds", "grafana", "kube-state-metrics", "prometheus-node-exporter"} {
		if !subs[want] {
			t.Errorf("subchart %s missing from charts/ (have %v)", want, subs)
		}
	}
	if !bytes.Contains(rawFile(loaded, "values.yaml"), []byte(testLayout.Registry)) {
		t.Error("packaged values.yaml lacks the private registry")
	}
	if !bytes.Contains(rawFile(loaded, "values.yaml"), []byte("## Provide a name in place of kube-prometheus-stack")) {
		t.Error("packaged values.yaml lost its comments")
	}
}

// TestPackageChartKeepsFiles: an unchanged chart packs with Chart.yaml, values.yaml and
// templates byte for byte as loaded, and the subchart (under its chart name) with its own.
func TestPackageChartKeepsFiles(t *testing.T) {
	a, err := PackageChart(loadTestChart(t, shapesChartFiles), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	path := a.Path
	loaded, err := loader.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"Chart.yaml", "values.yaml", "templates/deploy.yaml"} {
		if got := string(rawFile(loaded, f)); got != shapesChartFiles[f] {
			t.Errorf("%s changed:\n%s", f, got)
		}
	}
	if len(loaded.Dependencies()) != 1 {
		t.Fatalf("subcharts: %d", len(loaded.Dependencies()))
	}
	sub := loaded.Dependencies()[0]
	if got := string(rawFile(sub, "values.yaml")); got != shapesChartFiles["charts/sub/values.yaml"] {
		t.Errorf("subchart values.yaml changed:\n%s", got)
	}
	if loaded.Metadata.Dependencies[0].Alias != "backend" {
		t.Error("dependency alias lost")
	}
}
