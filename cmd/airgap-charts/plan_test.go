package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// oneImageChart is a chart named n running image.
func oneImageChart(n, image string) *chart.Chart {
	return &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: n, Version: "1.0.0"},
		Raw:       []*chart.File{{Name: "values.yaml", Data: []byte("image: " + image + "\n")}},
		Values:    map[string]any{"image": image},
		Templates: []*chart.File{{Name: "templates/d.yaml", Data: []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + n + "\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: {{ .Values.image | quote }}\n")}},
	}
}

// noAWS leaves the process without any AWS configuration.
func noAWS(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// TestPlanExitCodes runs plan and sync --scan-only through the CLI against in-process
// registries: 4 with changes pending, 0 once synced, 5 once a source tag moved (which the
// default sync never notices, and --verify-existing-digest reports as DRIFT, exit 1), 1
// for an image missing at the source, 2 for plan --push-images; and the Quick Start line
// (--scan-only, no destination, no AWS) exits 0.
func TestPlanExitCodes(t *testing.T) {
	noAWS(t)
	src, dst := registrytest.New(t), registrytest.New(t)
	if _, err := seedImage(context.Background(), src.Host, registry.MustParseImageRef("quay.io/org/app:1")); err != nil {
		t.Fatal(err)
	}
	charts := chartrepotest.NewHTTPRepo(t)
	charts.AddChart(t, oneImageChart("app", "quay.io/org/app:1"))
	charts.AddChart(t, oneImageChart("gone", "quay.io/org/gone:1"))
	dir := inTempDir(t, map[string]string{
		"values.yaml":    "addons:\n  - chart: app\n    repository: " + charts.URL + "\n    version: 1.0.0\n    release: app\n",
		"missing.yaml":   "addons:\n  - chart: gone\n    repository: " + charts.URL + "\n    version: 1.0.0\n    release: gone\n",
		"overrides.yaml": "overrides: {}\n",
	})
	common := []string{"--registry-mirror", "quay.io=" + src.Host + "/quay.io", "--insecure-registry", src.Host + "," + dst.Host,
		"--output-dir", filepath.Join(dir, "out"), "--log-format", "json"}
	to := []string{"--target-registry", dst.Host, "--target-kind", "oci"}
	cli := func(args ...string) (int, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(append(args, common...), &stdout, &stderr, func(string) string { return "" })
		return code, stdout.String() + stderr.String()
	}
	check := func(what string, want int, code int, out string, has ...string) {
		t.Helper()
		if code != want {
			t.Errorf("%s: exit %d, want %d\n%s", what, code, want, out)
		}
		for _, s := range has {
			if !strings.Contains(out, s) {
				t.Errorf("%s: output lacks %q\n%s", what, s, out)
			}
		}
	}

	code, out := cli("--values", "values.yaml", "--scan-only")
	check("quick start, no destination", exitOK, code, out, "Destination unknown", "TO COPY")

	dst.Reset()
	code, out = cli(append([]string{"plan", "--values", "values.yaml", "--report", "plan.json"}, to...)...)
	check("plan, empty destination", exitPending, code, out, "Would copy 1 images:", "Would push 1 charts:", "TO COPY")
	if n := writesTo(dst); n != 0 {
		t.Errorf("plan wrote %d times to the destination", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "plan.json")); err != nil {
		t.Errorf("plan wrote no report: %v", err)
	}
	code, out = cli(append([]string{"--values", "values.yaml", "--scan-only"}, to...)...)
	check("--scan-only, empty destination", exitPending, code, out)

	code, out = cli(append([]string{"sync", "--values", "values.yaml"}, to...)...)
	check("sync", exitOK, code, out, "COPIED")
	code, out = cli(append([]string{"plan", "--values", "values.yaml"}, to...)...)
	check("plan after the sync", exitOK, code, out, "nothing to do")

	// The source tag moves.
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(src.Host+"/quay.io/org/app:1", name.Insecure)
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	code, out = cli(append([]string{"plan", "--values", "values.yaml"}, to...)...)
	check("plan, tag moved", exitDrift, code, out, "Drift, 1 images", "drift found")
	// The last sync's lock says what the tag held: a default sync notices the move too.
	code, out = cli(append([]string{"sync", "--values", "values.yaml"}, to...)...)
	check("default sync with the lock, tag moved", exitFailed, code, out, "DRIFT", "--overwrite-existing")
	// Without a lock, the default --skip-existing does not ask the source.
	if err := os.Remove(filepath.Join(dir, "airgap-charts.lock.yaml")); err != nil {
		t.Fatal(err)
	}
	code, out = cli(append([]string{"sync", "--values", "values.yaml"}, to...)...)
	check("default sync without a lock, tag moved (not noticed)", exitOK, code, out)
	code, out = cli(append([]string{"sync", "--values", "values.yaml", "--verify-existing-digest"}, to...)...)
	check("sync --verify-existing-digest, tag moved", exitFailed, code, out, "DRIFT", "--overwrite-existing")
	code, out = cli(append([]string{"sync", "--values", "values.yaml", "--verify-existing-digest", "--overwrite-existing"}, to...)...)
	check("sync --overwrite-existing, tag moved", exitOK, code, out)
	code, out = cli(append([]string{"plan", "--values", "values.yaml"}, to...)...)
	check("plan after the overwrite", exitOK, code, out)

	code, out = cli(append([]string{"plan", "--values", "missing.yaml"}, to...)...)
	check("plan, image missing at the source", exitFailed, code, out, "not found at the source", "Missing at the source, 1 images:")
	code, out = cli(append([]string{"plan", "--values", "values.yaml", "--push-images"}, to...)...)
	check("plan --push-images", exitUsage, code, out, "plan never pushes")
	code, out = cli(append([]string{"plan", "--values", "values.yaml", "--chart-prefix", "Charts//x"}, to...)...)
	check("plan --chart-prefix with a bad path", exitUsage, code, out, "--chart-prefix")
}

func writesTo(r *registrytest.Registry) int {
	n := 0
	for _, q := range r.Requests() {
		if q.Method != "GET" && q.Method != "HEAD" {
			n++
		}
	}
	return n
}
