package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/engine"
	"github.com/airgap-charts/airgap-charts/engine/reporttest"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// TestSyncPublicImageLeft runs the CLI against in-process registries on a chart whose
// side image is composed at render time from literal pieces (no rewrite reaches it): the run
// exits 1 with the addon INCOMPLETE and the chart unpublished; --allow-public-images, or
// public_images for the chart in chart-overrides.yaml, lets it exit 0 with the chart pushed.
func TestSyncPublicImageLeft(t *testing.T) {
	src := registrytest.New(t)
	for _, s := range []string{"quay.io/org/app:1", "quay.io/org/side:2"} {
		if _, err := seedImage(context.Background(), src.Host, registry.MustParseImageRef(s)); err != nil {
			t.Fatal(err)
		}
	}
	charts := chartrepotest.NewHTTPRepo(t)
	charts.AddChart(t, &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "gate", Version: "1.0.0"},
		Raw:      []*chart.File{{Name: "values.yaml", Data: []byte("image: quay.io/org/app:1\n")}},
		Values:   map[string]any{"image": "quay.io/org/app:1"},
		Templates: []*chart.File{{Name: "templates/d.yaml", Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: gate
spec:
  template:
    spec:
      containers:
      - name: app
        image: {{ .Values.image | quote }}
      - name: side
        image: {{ printf "%s%s" "quay." "io/org/side:2" | quote }}
`)}},
	})

	run1 := func(t *testing.T, dst *registrytest.Registry, overrides string, extra ...string) (int, string, map[string]any) {
		t.Helper()
		dir := inTempDir(t, map[string]string{
			"values.yaml":          "addons:\n  - chart: gate\n    repository: " + charts.URL + "\n    version: 1.0.0\n    release: gate\n",
			"chart-overrides.yaml": overrides,
		})
		args := append([]string{"sync", "--values", "values.yaml", "--target-registry", dst.Host, "--target-kind", "oci",
			"--registry-mirror", "quay.io=" + src.Host + "/quay.io", "--insecure-registry", src.Host + "," + dst.Host,
			"--output-dir", filepath.Join(dir, "out"), "--report", "report.json", "--log-format", "json"}, extra...)
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr, func(string) string { return "" })
		data, err := os.ReadFile(filepath.Join(dir, "report.json"))
		if err != nil {
			t.Fatalf("exit %d, no report: %v\n%s", code, err, stderr.String())
		}
		reporttest.CheckFile(t, engine.ReportSchema, filepath.Join(dir, "report.json"))
		var rep struct {
			Addons []map[string]any `json:"addons"`
		}
		if err := json.Unmarshal(data, &rep); err != nil || len(rep.Addons) != 1 {
			t.Fatalf("report %s: %v", data, err)
		}
		return code, stdout.String() + stderr.String(), rep.Addons[0]
	}

	dst := registrytest.New(t)
	code, out, a := run1(t, dst, "")
	if code != exitFailed || a["status"] != "INCOMPLETE" || a["chart_result"] != "blocked" {
		t.Fatalf("exit %d, status %v, chart %v\n%s", code, a["status"], a["chart_result"], out)
	}
	for _, want := range []string{"INCOMPLETE", "1 image remains public", "quay.io/org/side:2", `"incomplete":1`, "1 incomplete"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	pub, _ := a["public_images"].([]any)
	if len(pub) == 0 {
		t.Errorf("no public_images in the report")
	}
	for _, p := range pub {
		if p.(map[string]any)["image"] != "quay.io/org/side:2" {
			t.Errorf("public_images %v", a["public_images"])
		}
	}
	if n := countPuts(dst, "gate"); n != 0 {
		t.Errorf("the chart was pushed (%d manifest PUTs)", n)
	}

	for _, tc := range []struct {
		name, overrides string
		flags           []string
	}{
		{"flag", "", []string{"--allow-public-images"}},
		{"public_images", "public_images:\n  gate:\n    - quay.io/org/side\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := registrytest.New(t)
			code, out, a := run1(t, dst, tc.overrides, tc.flags...)
			if code != exitOK || a["status"] != "SUCCESS" || a["chart_result"] != "pushed" {
				t.Fatalf("exit %d, status %v, chart %v\n%s", code, a["status"], a["chart_result"], out)
			}
			if !strings.Contains(out, "image stays public: allowed") {
				t.Errorf("no warning for the allowed image:\n%s", out)
			}
			if countPuts(dst, "gate") == 0 {
				t.Errorf("no chart manifest pushed")
			}
		})
	}
}

func countPuts(reg *registrytest.Registry, repository string) int {
	n := 0
	for _, q := range reg.Requests() {
		if q.Kind == registrytest.ManifestPut && q.Repository == repository {
			n++
		}
	}
	return n
}
