package engine

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// An addon whose chart lives in an OCI registry (oci://host/path, and with an
// oci_namespace, which is also where the chart lands) travels: the export stores its
// archive, the import resolves and fetches it from the bundle alone, rewrites it and
// pushes it, with the report a direct sync writes.
func TestBundleOCIChartSource(t *testing.T) {
	for _, ns := range []string{"", "team"} {
		t.Run("namespace="+ns, func(t *testing.T) { testBundleOCIChart(t, ns) })
	}
}

func testBundleOCIChart(t *testing.T, ns string) {
	w := newE2EWorld(t, []string{"alertmanager"})
	charts := registrytest.New(t)
	chartrepotest.PushOCI(t, charts, "charts/team", w.dirs["alertmanager"])
	set := func(o *Options) {
		o.Addons[0].Repository = "oci://" + charts.Host + "/charts/team"
		if ns != "" {
			o.Addons[0].Repository, o.Addons[0].OCINamespace = "oci://"+charts.Host+"/charts", ns
		}
		o.InsecureRegistry = append(o.InsecureRegistry, charts.Host)
	}

	direct, sopts, srep := directSync(t, w, set)
	checkAddonsSucceeded(t, srep)

	dir := filepath.Join(t.TempDir(), "bundle")
	m := exportBundleWith(t, w, dir, set).Manifest
	if len(m.Charts) != 1 || m.Charts[0].Repository != sopts.Addons[0].Repository || m.Charts[0].Digest != "sha256:"+strings.TrimPrefix(srep.Addons[0].ChartDigest, "sha256:") {
		t.Fatalf("bundle charts: %+v; want the OCI chart, digest %s", m.Charts, srep.Addons[0].ChartDigest)
	}

	dst := registrytest.New(t)
	opts := bundleImportOptions(dst.Host, t.TempDir())
	charts.Reset()
	ir, err := importChecked(t, w, opts, dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(charts.Requests()); n != 0 {
		t.Errorf("import reached the OCI chart source: %v", charts.Counts())
	}
	rep := ir.Report
	checkAddonsSucceeded(t, rep)
	d := destination{registry: dst.Host, serve: dst.Host, prefix: "mirror"}
	checkImagesMirrored(t, w, rep, d)
	if ns == "" {
		checkCharts(t, w, rep, d, opts.OutputDir)
	} else if want := "oci://" + dst.Host + "/" + ns + "/alertmanager:" + w.versions["alertmanager"]; rep.Addons[0].ChartRef != want {
		t.Errorf("chart pushed as %s, want %s", rep.Addons[0].ChartRef, want)
	}
	compareReports(t, srep, direct.Host, rep, dst.Host)
}

// A chart whose dependency comes from an OCI registry travels too: the export fetches the
// dependency from it, the import finds it in the bundle alone and the subchart's image is
// mirrored as a direct sync mirrors it.
func TestBundleOCIDependency(t *testing.T) {
	oci := registrytest.New(t)
	sub := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "sub", Version: "0.1.0"},
		Templates: []*chart.File{{Name: "templates/pod.yaml", Data: []byte(
			"apiVersion: v1\nkind: Pod\nmetadata:\n  name: sub\nspec:\n  containers:\n  - name: side\n    image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n")}},
		Values: map[string]any{"image": map[string]any{"repository": "quay.io/org/side", "tag": "2"}},
		Raw:    []*chart.File{{Name: "values.yaml", Data: []byte("image:\n  repository: quay.io/org/side\n  tag: \"2\"\n")}},
	}
	chartrepotest.PushOCIChart(t, oci, "charts", sub)
	parent := gateChart(false)
	parent.Metadata.Dependencies = []*chart.Dependency{{Name: "sub", Version: "0.1.0", Repository: "oci://" + oci.Host + "/charts"}}
	w := newGateWorld(t, parent, gateApp, gateSide)
	set := func(o *Options) { o.InsecureRegistry = append(o.InsecureRegistry, oci.Host) }

	sopts := w.options(t)
	set(&sopts)
	srep, err := Run(context.Background(), sopts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	checkAddonsSucceeded(t, srep)
	if n := len(srep.Addons[0].Images); n != 2 {
		t.Fatalf("direct sync mirrored %d images, want app and the OCI subchart's side", n)
	}

	eopts := w.options(t)
	set(&eopts)
	dir := filepath.Join(t.TempDir(), "bundle")
	res, err := Export(context.Background(), eopts, ExportOptions{Dir: dir}, e2eLogger(t))
	if err != nil || res.Failed() {
		t.Fatalf("export: %v %+v", err, res.Addons)
	}
	if len(res.Manifest.Charts) != 2 {
		t.Fatalf("bundle charts %+v; want the chart and its OCI dependency", res.Manifest.Charts)
	}

	dst := registrytest.New(t)
	opts := bundleImportOptions(dst.Host, t.TempDir())
	w.src.Reset()
	w.charts.Reset()
	oci.Reset()
	ir, err := Import(context.Background(), opts, ImportOptions{From: dir}, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(w.src.Requests()) + len(oci.Requests()) + w.charts.ArchiveRequests() + w.charts.Count("/index.yaml"); n != 0 {
		t.Errorf("import reached the sources: images %v, OCI charts %v", w.src.Counts(), oci.Counts())
	}
	checkAddonsSucceeded(t, ir.Report)
	compareReports(t, srep, w.dst.Host, ir.Report, dst.Host)
}
