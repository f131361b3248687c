package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/bundle"
	"github.com/airgap-charts/airgap-charts/registry/referrertest"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// Export takes sync's platform and referrer flags (a platform list, --platform-missing,
// --referrers) and records them for the import; import takes --verify-signatures: an
// unsigned image fails its addon (exit 1), and a bundle exported with --referrers none is
// refused naming its bundle.json (exit 2).
func TestBundlePolicyFlags(t *testing.T) {
	src := registrytest.New(t)
	if _, err := seedImage(context.Background(), src.Host, registry.MustParseImageRef("quay.io/org/app:1")); err != nil {
		t.Fatal(err)
	}
	charts := chartrepotest.NewHTTPRepo(t)
	charts.AddChart(t, &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "one", Version: "1.0.0"},
		Raw:      []*chart.File{{Name: "values.yaml", Data: []byte("app: quay.io/org/app:1\n")}},
		Values:   map[string]any{"app": "quay.io/org/app:1"},
		Templates: []*chart.File{{Name: "templates/p.yaml", Data: []byte(
			"apiVersion: v1\nkind: Pod\nmetadata:\n  name: one\nspec:\n  containers:\n  - name: app\n    image: {{ .Values.app | quote }}\n")}},
	})
	dir := inTempDir(t, map[string]string{
		"values.yaml": "addons:\n  - chart: one\n    repository: " + charts.URL + "\n    version: 1.0.0\n    release: one\n",
	})
	cli := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := run(append(args, "--log-format", "json", "--log-level", "warn"), &stdout, &stderr, func(string) string { return "" })
		return code, stdout.String() + stderr.String()
	}
	export := func(b string, extra ...string) {
		t.Helper()
		args := append([]string{"export", "--values", "values.yaml", "--to", b,
			"--registry-mirror", "quay.io=" + src.Host + "/quay.io", "--insecure-registry", src.Host}, extra...)
		if code, out := cli(args...); code != exitOK {
			t.Fatalf("export %v: exit %d\n%s", extra, code, out)
		}
	}
	key := referrertest.NewSigner(t).WriteKeyFile(t, dir, "cosign.pub")
	dst := registrytest.New(t)
	imp := func(b string) (int, string) {
		return cli("import", "--from", b, "--target-registry", dst.Host, "--target-kind", "oci",
			"--insecure-registry", dst.Host, "--output-dir", filepath.Join(dir, "out"), "--verify-signatures", key)
	}

	b := filepath.Join(dir, "bundle")
	export(b, "--platform", "linux/amd64,linux/s390x", "--platform-missing", "skip", "--referrers", "signatures")
	m, err := bundle.ReadManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Platform != "linux/amd64,linux/s390x" || m.PlatformMissing != "skip" || m.Referrers != "signatures" || len(m.Images) != 1 || m.Images[0].SourceDigest == "" {
		t.Fatalf("bundle: platform %q missing %q referrers %q images %+v", m.Platform, m.PlatformMissing, m.Referrers, m.Images)
	}
	if code, out := imp(b); code != exitFailed || !strings.Contains(out, "no cosign signature found") {
		t.Errorf("import --verify-signatures of an unsigned image: exit %d\n%s", code, out)
	}

	none := filepath.Join(dir, "none")
	export(none, "--referrers", "none")
	if code, out := imp(none); code != exitUsage || !strings.Contains(out, filepath.Join(none, "bundle.json")) || !strings.Contains(out, "--referrers none") {
		t.Errorf("import --verify-signatures of a --referrers none bundle: exit %d\n%s", code, out)
	}
}
