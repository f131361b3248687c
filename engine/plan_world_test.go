package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// planWorld is a source registry, a destination registry and an HTTP chart repository
// serving small charts of our own, each running the images it is given (quay.io/org/NAME:1,
// reached through a registry mirror on the source).
type planWorld struct {
	src, dst *registrytest.Registry
	charts   *chartrepotest.HTTPRepo
	names    []string            // charts, in order
	images   map[string][]string // chart → its images
	digests  map[string]string   // image → seeded index digest ("" when not seeded)
}

// newPlanWorld serves one chart per entry of charts (name → image names); every image is
// seeded at the source except those in missing.
func newPlanWorld(t *testing.T, charts [][2]string, missing ...string) *planWorld {
	t.Helper()
	w := &planWorld{src: registrytest.New(t), dst: registrytest.New(t), charts: chartrepotest.NewHTTPRepo(t),
		images: map[string][]string{}, digests: map[string]string{}}
	skip := map[string]bool{}
	for _, m := range missing {
		skip[m] = true
	}
	for _, c := range charts {
		var imgs []string
		for _, n := range strings.Fields(c[1]) {
			img := "quay.io/org/" + n + ":1"
			imgs = append(imgs, img)
			if _, done := w.digests[img]; !done {
				w.digests[img] = ""
				if !skip[n] {
					w.digests[img] = seedImage(t, w.src.Host, mustRef(t, img))
				}
			}
		}
		w.names = append(w.names, c[0])
		w.images[c[0]] = imgs
		w.charts.AddChart(t, imagesChart(c[0], imgs))
	}
	w.src.Reset()
	return w
}

// imagesChart is a chart named n whose deployment runs imgs from values the rewrite reaches.
func imagesChart(n string, imgs []string) *chart.Chart {
	var containers, values strings.Builder
	vals := map[string]any{}
	for i, img := range imgs {
		repo, tag, _ := strings.Cut(img, ":")
		key := fmt.Sprintf("c%d", i)
		fmt.Fprintf(&containers, "      - name: %s\n        image: \"{{ .Values.%s.image.repository }}:{{ .Values.%s.image.tag }}\"\n", key, key, key)
		fmt.Fprintf(&values, "%s:\n  image:\n    repository: %s\n    tag: %q\n", key, repo, tag)
		vals[key] = map[string]any{"image": map[string]any{"repository": repo, "tag": tag}}
	}
	deployment := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  template:\n    spec:\n      containers:\n" + containers.String()
	return &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: n, Version: "1.0.0"},
		Values:    vals,
		Templates: []*chart.File{{Name: "templates/deployment.yaml", Data: []byte(deployment)}},
		Raw:       []*chart.File{{Name: "values.yaml", Data: []byte(values.String())}},
	}
}

// options syncs the named charts (all when none) into the destination under "mirror".
func (w *planWorld) options(out string, only ...string) Options {
	names := w.names
	if len(only) > 0 {
		names = only
	}
	var addons []config.Addon
	for i, n := range names {
		addons = append(addons, config.Addon{Chart: n, Repository: w.charts.URL, Version: "1.0.0", Release: n,
			Namespace: "ns", Source: config.Position{File: "values.yaml", Line: i + 1}})
	}
	return Options{
		Addons: addons, TargetRegistry: w.dst.Host, TargetPrefix: "mirror", TargetKind: "oci",
		IncludeDeps: true, Platform: registry.PlatformAuto, SkipExisting: true, Concurrency: 4, ChartConcurrency: 2,
		RegistryMirrors:  map[string]string{"quay.io": w.src.Host + "/quay.io"},
		InsecureRegistry: []string{w.src.Host, w.dst.Host},
		OutputDir:        out, ReportFile: filepath.Join(out, "report.json"),
		Referrers: "none",
	}
}

func (w *planWorld) run(t *testing.T, opts Options) *Report {
	t.Helper()
	rep, err := Run(context.Background(), opts, e2eLogger(t))
	if err != nil {
		t.Fatalf("run could not start: %v", err)
	}
	return rep
}

// destRef is where the mirror layout puts image n (quay.io/org/n:1) under prefix.
func (w *planWorld) destRef(prefix, n string) string {
	return w.dst.Host + "/" + prefix + "/org/" + n + ":1"
}

// placeSame puts the source's image n at the destination, same digest.
func (w *planWorld) placeSame(t *testing.T, n string) {
	t.Helper()
	from, _ := name.NewTag(w.src.Host+"/quay.io/org/"+n+":1", name.Insecure)
	idx, err := remote.Index(from)
	if err != nil {
		t.Fatal(err)
	}
	to, _ := name.NewTag(w.destRef("mirror", n), name.Insecure)
	if err := remote.WriteIndex(to, idx); err != nil {
		t.Fatal(err)
	}
}

// placeOther puts another image at the destination tag of image n: drift. It returns the
// digest placed.
func (w *planWorld) placeOther(t *testing.T, prefix, n string) string {
	t.Helper()
	return seedImage(t, w.dst.Host, registry.ImageRef{Registry: prefix, Repository: "org/" + n, Tag: "1"})
}

// addonsByName indexes a report's addons.
func addonsByName(rep *Report) map[string]*AddonReport {
	out := map[string]*AddonReport{}
	for _, a := range rep.Addons {
		out[a.Addon] = a
	}
	return out
}

// noWrites fails when r received a write or a blob GET.
func noWritesNorBlobReads(t *testing.T, what string, r *registrytest.Registry) {
	t.Helper()
	c := r.Counts()
	if n := writes(c) + c[registrytest.ManifestDel]; n != 0 {
		t.Errorf("%s: the plan wrote %d times: %v", what, n, c)
	}
	for _, q := range r.Requests() {
		if q.Method != "GET" && q.Method != "HEAD" {
			t.Errorf("%s: the plan sent %s %s", what, q.Method, q.Path)
		}
	}
	if n := c[registrytest.BlobGet]; n != 0 {
		t.Errorf("%s: the plan read %d blobs", what, n)
	}
}
