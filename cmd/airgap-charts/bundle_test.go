package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// TestBundleCommands runs export, bundle ls, bundle verify and import through the CLI
// against in-process registries: exit codes, what they print, and a damaged part named.
func TestBundleCommands(t *testing.T) {
	src := registrytest.New(t)
	for _, s := range []string{"quay.io/org/app:1", "quay.io/org/side:2"} {
		if _, err := seedImage(context.Background(), src.Host, registry.MustParseImageRef(s)); err != nil {
			t.Fatal(err)
		}
	}
	charts := chartrepotest.NewHTTPRepo(t)
	charts.AddChart(t, &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "two", Version: "1.0.0"},
		Raw:      []*chart.File{{Name: "values.yaml", Data: []byte("app: quay.io/org/app:1\nside: quay.io/org/side:2\n")}},
		Values:   map[string]any{"app": "quay.io/org/app:1", "side": "quay.io/org/side:2"},
		Templates: []*chart.File{{Name: "templates/d.yaml", Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: two
spec:
  template:
    spec:
      containers:
      - name: app
        image: {{ .Values.app | quote }}
      - name: side
        image: {{ .Values.side | quote }}
`)}},
	})
	dir := inTempDir(t, map[string]string{
		"values.yaml": "addons:\n  - chart: two\n    repository: " + charts.URL + "\n    version: 1.0.0\n    release: two\n",
	})
	cli := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := run(append(args, "--log-format", "json", "--log-level", "warn"), &stdout, &stderr, func(string) string { return "" })
		return code, stdout.String() + stderr.String()
	}
	b := filepath.Join(dir, "bundle")
	if code, out := cli("export", "--values", "values.yaml", "--to", b, "--part-size", "64KiB",
		"--registry-mirror", "quay.io="+src.Host+"/quay.io", "--insecure-registry", src.Host); code != exitOK || !strings.Contains(out, "exported 1 addons, 1 charts, 2 images") {
		t.Fatalf("export: exit %d\n%s", code, out)
	}
	code, out := cli("bundle", "ls", b)
	if code != exitOK || !strings.Contains(out, "quay.io/org/app:1") || !strings.Contains(out, "two 1.0.0") || !strings.Contains(out, "part-0001.tar") {
		t.Errorf("bundle ls: exit %d\n%s", code, out)
	}
	if code, out := cli("bundle", "verify", b); code != exitOK || !strings.Contains(out, "parts good") {
		t.Errorf("bundle verify: exit %d\n%s", code, out)
	}
	// Damage the last part: verify names it and exits 1.
	parts, _ := filepath.Glob(filepath.Join(b, "parts", "part-*.tar"))
	last := parts[len(parts)-1]
	data, _ := os.ReadFile(last)
	data[600] ^= 0xff
	if err := os.WriteFile(last, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := cli("bundle", "verify", b); code != exitFailed || !strings.Contains(out, "PROBLEM  parts/"+filepath.Base(last)+": corrupt") {
		t.Errorf("bundle verify of a damaged part: exit %d\n%s", code, out)
	}
	data[600] ^= 0xff
	if err := os.WriteFile(last, data, 0o644); err != nil {
		t.Fatal(err)
	}

	dst := registrytest.New(t)
	receipt := filepath.Join(dir, "receipt.json")
	code, out = cli("import", "--from", b, "--target-registry", dst.Host, "--target-kind", "oci", "--insecure-registry", dst.Host,
		"--output-dir", filepath.Join(dir, "out"), "--report", filepath.Join(dir, "report.json"), "--receipt-out", receipt)
	if code != exitOK {
		t.Fatalf("import: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "two", "values.yaml")); err != nil {
		t.Errorf("import wrote no consumer overrides: %v", err)
	}
	if r, err := os.ReadFile(receipt); err != nil || !strings.Contains(string(r), "quay.io/org/side") {
		t.Errorf("receipt: %v\n%s", err, r)
	}
	if code, out := cli("import", "--from", dir, "--target-registry", dst.Host, "--insecure-registry", dst.Host); code != exitUsage || !strings.Contains(out, "bundle.json: missing") {
		t.Errorf("import of a directory that is not a bundle: exit %d\n%s", code, out)
	}
	if code, out := cli("export", "--values", "values.yaml", "--to", b, "--part-size", "12"); code != exitUsage || !strings.Contains(out, "--part-size") {
		t.Errorf("bad --part-size: exit %d\n%s", code, out)
	}
}
