package stages

import (
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/airgap-charts/airgap-charts/registry"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// shapesChartFiles is a chart holding one image in each value shape the rewrite knows, a
// subchart under an alias with a parent override, two images hard-coded in a template and
// one in a file a template reads.
var shapesChartFiles = map[string]string{
	"Chart.yaml": `apiVersion: v2
name: shapes
version: 0.1.0
appVersion: "1.0.0"
dependencies:
  - name: sub
    version: 0.1.0
    alias: backend
`,
	"values.yaml": `# Values for the shapes test chart.
global:
  imageRegistry: ""   # bitnami convention, empty here
whole:
  image: quay.io/org/whole:v1   # a whole reference
split:
  image:
    registry: quay.io
    repository: org/split
    tag: v2
hostInRepo:
  image:
    repository: docker.io/grafana/grafana
    tag: "10.0.0"
official:
  image:
    registry: docker.io
    repository: traefik
    tag: v3.0.0
pinned:
  image:
    repository: registry.k8s.io/pinned/app
    tag: v1.2.3
    digest: ` + testDigest + `
appVersionTag:
  image:
    repository: 'ghcr.io/org/appv'
    # -- empty: the chart's appVersion
    tag: ""
named:
  image:
    registry: ghcr.io
    name: org/named
    version: "3.1"
args:
  - --sidecar-image=quay.io/org/sidecar:v9
  - --verbose
backend:
  image:
    repository: bitnami/nginx-custom
`,
	"templates/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shapes
spec:
  template:
    spec:
      containers:
        - name: whole
          image: {{ .Values.whole.image | quote }}
        - name: split
          image: "{{ .Values.global.imageRegistry | default .Values.split.image.registry }}/{{ .Values.split.image.repository }}:{{ .Values.split.image.tag }}"
        - name: host
          image: "{{ .Values.hostInRepo.image.repository }}:{{ .Values.hostInRepo.image.tag }}"
        - name: official
          image: "{{ .Values.official.image.registry }}/{{ .Values.official.image.repository }}:{{ .Values.official.image.tag }}"
        - name: pinned
          image: "{{ .Values.pinned.image.repository }}:{{ .Values.pinned.image.tag }}@{{ .Values.pinned.image.digest }}"
        - name: appv
          image: "{{ .Values.appVersionTag.image.repository }}:{{ .Values.appVersionTag.image.tag | default .Chart.AppVersion }}"
        - name: named
          image: "{{ .Values.named.image.registry }}/{{ .Values.named.image.name }}:{{ .Values.named.image.version }}"
          args: {{- toYaml .Values.args | nindent 12 }}
        - name: hardcoded
          image: "docker.io/library/busybox:1.36"
        - name: hardhost
          image: "quay.io/org/hardhost:{{ .Chart.AppVersion }}"
`,
	"files/sidecar.yaml": "image: quay.io/org/fileimg:v5\n",
	"templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: sidecar
data:
  sidecar.yaml: |
    {{- .Files.Get "files/sidecar.yaml" | nindent 4 }}
`,
	"charts/sub/Chart.yaml": "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
	"charts/sub/values.yaml": `global:
  imageRegistry: null
image:
  registry: docker.io
  repository: bitnami/nginx
  tag: 1.25.0
`,
	"charts/sub/templates/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-sub
spec:
  template:
    spec:
      containers:
        - name: sub
          image: "{{ .Values.global.imageRegistry | default .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`,
}

// shapesSources are the images the shapes chart pulls.
var shapesSources = []string{
	"quay.io/org/whole:v1",
	"quay.io/org/split:v2",
	"docker.io/grafana/grafana:10.0.0",
	"docker.io/traefik:v3.0.0",
	"registry.k8s.io/pinned/app:v1.2.3@" + testDigest,
	"ghcr.io/org/appv:1.0.0",
	"ghcr.io/org/named:3.1",
	"quay.io/org/sidecar:v9",
	"docker.io/library/busybox:1.36",
	"quay.io/org/hardhost:1.0.0",
	"docker.io/bitnami/nginx-custom:1.25.0",
	"quay.io/org/fileimg:v5",
}

func loadTestChart(t *testing.T, files map[string]string) *chart.Chart {
	t.Helper()
	var buf []*loader.BufferedFile
	for name, data := range files {
		buf = append(buf, &loader.BufferedFile{Name: name, Data: []byte(data)})
	}
	sort.Slice(buf, func(i, j int) bool { return buf[i].Name < buf[j].Name })
	ch, err := loader.LoadFiles(buf)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func findValueEdit(plan *RewritePlan, chartPath, path string) *ValueEdit {
	for i, e := range plan.ValueEdits {
		if e.Chart == chartPath && strings.Join(e.Path, ".") == path {
			return &plan.ValueEdits[i]
		}
	}
	return nil
}

// TestPlanRewriteShapes checks the planned edit of each value shape, then renders the
// rewritten chart: every image, the argument included, must be private.
func TestPlanRewriteShapes(t *testing.T) {
	ch := loadTestChart(t, shapesChartFiles)
	images, manifest := testRenderImages(t, ch, nil)
	for _, s := range shapesSources {
		if !strings.Contains(manifest, strings.TrimPrefix(s, "docker.io/")) && !strings.Contains(manifest, s) {
			t.Fatalf("the shapes chart does not render %s:\n%s", s, manifest)
		}
	}
	if len(images) != len(shapesSources) { // the sidecar in an argument is found too
		t.Fatalf("rendered %d images, want %d: %v", len(images), len(shapesSources), images)
	}
	missing := registry.MustParseImageRef("quay.io/org/not-in-chart:v1")
	mappings := testMappings(t, append(append([]string{}, shapesSources...), missing.String()), testLayout)
	plan, err := PlanRewrite(ch, mappings)
	if err != nil {
		t.Fatal(err)
	}
	host := testLayout.Registry
	want := []struct{ chart, path, value string }{
		{"", "whole.image", host + "/team-a/org/whole:v1"},
		{"", "split.image.registry", host},
		{"", "split.image.repository", "team-a/org/split"},
		{"", "hostInRepo.image.repository", host + "/team-a/grafana/grafana"},
		{"", "official.image.registry", host},
		{"", "official.image.repository", "team-a/library/traefik"},
		{"", "pinned.image.repository", host + "/team-a/pinned/app"},
		{"", "appVersionTag.image.repository", host + "/team-a/org/appv"},
		{"", "named.image.registry", host},
		{"", "named.image.name", "team-a/org/named"},
		{"", "args.0", "--sidecar-image=" + host + "/team-a/org/sidecar:v9"},
		{"", "backend.image.repository", "team-a/bitnami/nginx-custom"},
		{"sub", "image.registry", host},
	}
	for _, w := range want {
		e := findValueEdit(plan, w.chart, w.path)
		if e == nil {
			t.Errorf("no edit of %q %s", w.chart, w.path)
			continue
		}
		if e.New != w.value {
			t.Errorf("%q %s = %v, want %s", w.chart, w.path, e.New, w.value)
		}
	}
	for _, e := range plan.ValueEdits {
		last := e.Path[len(e.Path)-1]
		if last == "tag" || last == "digest" || last == "version" {
			t.Errorf("edit of %s: tags and digests must stay as they are", pathString(e.Path))
		}
		if e.Chart == "sub" && pathString(e.Path) == "image.repository" {
			t.Errorf("the subchart's shadowed default repository was edited: %v", e)
		}
		if pathString(e.Path) == "global.imageRegistry" {
			t.Errorf("an empty global registry was edited: %v", e)
		}
	}
	if len(plan.TemplateEdits) != 3 {
		t.Errorf("template edits = %+v, want busybox, hardhost and the file's fileimg", plan.TemplateEdits)
	}
	if len(plan.Unmatched) != 1 || plan.Unmatched[0] != missing {
		t.Errorf("unmatched = %v, want [%s]", plan.Unmatched, missing)
	}

	if err := ApplyRewrite(ch, plan); err != nil {
		t.Fatal(err)
	}
	after, manifest := testRenderImages(t, ch, nil)
	assertPrivate(t, "rewritten shapes", after, manifest, mappings)
	if len(after) != len(images) {
		t.Errorf("rewritten chart renders %d images, want %d", len(after), len(images))
	}
	if !strings.Contains(manifest, "--sidecar-image="+host+"/team-a/org/sidecar:v9") || !strings.Contains(manifest, "--verbose") {
		t.Errorf("the argument was not rewritten in place:\n%s", manifest)
	}
}

// TestPlanRewriteGlobalRegistry: a set global.imageRegistry (bitnami, kube-prometheus-stack)
// wins over the image's registry, so it is the global that points at the mirror.
func TestPlanRewriteGlobalRegistry(t *testing.T) {
	ch := loadTestChart(t, map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: globalreg\nversion: 1.0.0\n",
		"values.yaml": `global:
  imageRegistry: registry.example.com
image:
  registry: docker.io
  repository: bitnami/redis
  tag: "7.2"
`,
		"templates/pod.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: redis
spec:
  containers:
    - name: redis
      image: "{{ .Values.global.imageRegistry | default .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`,
	})
	mappings := testMappings(t, []string{"registry.example.com/bitnami/redis:7.2"}, testLayout)
	plan, err := PlanRewrite(ch, mappings)
	if err != nil {
		t.Fatal(err)
	}
	if e := findValueEdit(plan, "", "global.imageRegistry"); e == nil || e.New != testLayout.Registry {
		t.Errorf("global.imageRegistry edit = %+v", e)
	}
	if e := findValueEdit(plan, "", "image.registry"); e != nil {
		t.Errorf("image.registry (not in effect) was edited: %+v", e)
	}
	if err := ApplyRewrite(ch, plan); err != nil {
		t.Fatal(err)
	}
	images, manifest := testRenderImages(t, ch, nil)
	assertPrivate(t, "global registry", images, manifest, mappings)
}
