package stages

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
)

// Charts written for these tests, each composing its images the way a family of real
// charts does, none of which the key-name plan reaches. Each asserts that RewriteChart
// makes both verification renders private with exactly the expected edits, and checks it
// again independently: the packaged chart reloaded and rendered with the addon's values,
// and the original chart rendered with the consumer overrides.

// mirror is where testLayout puts an image's repository path.
var mirror = testLayout.Registry + "/" + testLayout.Prefix

type probeShape struct {
	name   string
	files  map[string]string
	values map[string]any // the addon's values
	images []string       // what the default render pulls
	// edits is the exact set of value edits: "chart|path" → new value.
	edits map[string]any
	// userKeys are the paths the addon's values set that the rewrite had to change.
	userKeys []string
	// templateEdits is how many template edits the plan holds.
	templateEdits int
	// keyNames is true where the key-name plan suffices (no probing).
	keyNames bool
}

func deployment(name, containers string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-` + name + `
spec:
  template:
    spec:
      containers:
` + containers
}

var probeShapes = []probeShape{
	{
		name: "namespace-in-registry",
		files: map[string]string{
			"Chart.yaml": "apiVersion: v2\nname: nsreg\nversion: 1.0.0\n",
			"values.yaml": `global:
  # registry and organisation, joined with each component's name
  registry: ghcr.io/acme
  tag: "2.4.1"
operator: {image: {name: operator}}
webhook: {image: {name: webhook}}
agent: {image: {name: agent}}
cleaner: {image: {name: cleaner}}
exporter: {image: {name: exporter}}
ui: {image: {name: ui}}
`,
			"templates/_helpers.tpl": `{{- define "nsreg.image" -}}
{{ printf "%s/%s:%s" .root.Values.global.registry .image.name .root.Values.global.tag }}
{{- end -}}`,
			"templates/deploy.yaml": deployment("all", `{{- range $c := list "operator" "webhook" "agent" "cleaner" "exporter" "ui" }}
        - name: {{ $c }}
          image: {{ include "nsreg.image" (dict "root" $ "image" (index $.Values $c).image) | quote }}
{{- end }}
`),
		},
		images: []string{"ghcr.io/acme/operator:2.4.1", "ghcr.io/acme/webhook:2.4.1", "ghcr.io/acme/agent:2.4.1",
			"ghcr.io/acme/cleaner:2.4.1", "ghcr.io/acme/exporter:2.4.1", "ghcr.io/acme/ui:2.4.1"},
		edits: map[string]any{"|global.registry": mirror + "/acme"},
	},
	{
		name: "null-registry-default",
		files: map[string]string{
			"Chart.yaml": "apiVersion: v2\nname: nulldef\nversion: 1.0.0\nappVersion: 3.2.0\n",
			"values.yaml": `defaultRegistry: registry.example.org
image:
  registry: ~
  repository: tools/agent
  tag: ~
`,
			"templates/deploy.yaml": deployment("agent", `        - name: agent
          image: "{{ default .Values.defaultRegistry .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
`),
		},
		images: []string{"registry.example.org/tools/agent:3.2.0"},
		edits:  map[string]any{"|defaultRegistry": mirror},
	},
	{
		name: "chart-defaults-and-tag-prefix",
		files: map[string]string{
			"Chart.yaml": "apiVersion: v2\nname: meshdefaults\nversion: 1.0.0\n",
			"values.yaml": `defaultImageRegistry: quay.io
defaultImageRepository: acme-mesh
defaultImageTag: 1.9.0
controller:
  name: controller
  tagPrefix: v
sidecar:
  name: proxy
  tagPrefix: ""
`,
			"templates/_helpers.tpl": `{{- define "mesh.image" -}}
{{ .root.Values.defaultImageRegistry }}/{{ .root.Values.defaultImageRepository }}/{{ .c.name }}:{{ .c.tagPrefix }}{{ .root.Values.defaultImageTag }}
{{- end -}}`,
			"templates/deploy.yaml": deployment("controller", `        - name: controller
          image: {{ include "mesh.image" (dict "root" . "c" .Values.controller) | quote }}
          env:
            - name: PROXY_IMAGE
              value: {{ include "mesh.image" (dict "root" . "c" .Values.sidecar) | quote }}
`),
		},
		images: []string{"quay.io/acme-mesh/controller:v1.9.0", "quay.io/acme-mesh/proxy:1.9.0"},
		edits:  map[string]any{"|defaultImageRegistry": mirror},
	},
	{
		name: "registry-namespace-name-chart-version",
		files: map[string]string{
			"Chart.yaml": "apiVersion: v2\nname: nsname\nversion: 0.7.0\n",
			"values.yaml": `imageRegistry: docker.io
imageNamespace: acmecorp
server:
  image:
    name: server
worker:
  image:
    name: worker
    digest: "` + testDigest + `"
`,
			"templates/deploy.yaml": deployment("server", `        - name: server
          image: "{{ .Values.imageRegistry }}/{{ .Values.imageNamespace }}/{{ .Values.server.image.name }}:{{ .Chart.Version }}"
        - name: worker
          image: "{{ .Values.imageRegistry }}/{{ .Values.imageNamespace }}/{{ .Values.worker.image.name }}:{{ .Chart.Version }}@{{ .Values.worker.image.digest }}"
`),
		},
		images: []string{"docker.io/acmecorp/server:0.7.0", "docker.io/acmecorp/worker:0.7.0@" + testDigest},
		edits:  map[string]any{"|imageRegistry": mirror},
	},
	{
		name: "coalesce-with-literal-fallback",
		files: map[string]string{
			"Chart.yaml": "apiVersion: v2\nname: coalescing\nversion: 1.0.0\n",
			"values.yaml": `global:
  imageRegistry: ""
nameOverride: ""
fullnameOverride: ""
image:
  api:
    registry: docker.io
    repository: acme/api
    tag: "5.1"
`,
			"templates/_helpers.tpl": `{{- define "coalescing.registry_url" -}}docker.io{{- end -}}
{{- define "coalescing.fullname" -}}{{ default (printf "%s-%s" .Release.Name (default .Chart.Name .Values.nameOverride)) .Values.fullnameOverride }}{{- end -}}`,
			"templates/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "coalescing.fullname" . }}
spec:
  template:
    spec:
      containers:
        - name: api
          image: "{{ coalesce .Values.global.imageRegistry (include "coalescing.registry_url" .) .Values.image.api.registry }}/{{ .Values.image.api.repository }}:{{ .Values.image.api.tag }}"
`,
		},
		images: []string{"docker.io/acme/api:5.1"},
		edits:  map[string]any{"|global.imageRegistry": mirror},
	},
	{
		name: "unlisted-keys",
		files: map[string]string{
			"Chart.yaml": "apiVersion: v2\nname: unlisted\nversion: 1.0.0\n",
			"values.yaml": `crds:
  crdRepository: quay.io/acme/crd-installer
  release: "0.9.2"
`,
			"templates/job.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: crds
spec:
  template:
    spec:
      containers:
        - name: install
          image: "{{ .Values.crds.crdRepository }}:{{ .Values.crds.release }}"
`,
		},
		images: []string{"quay.io/acme/crd-installer:0.9.2"},
		edits:  map[string]any{"|crds.crdRepository": mirror + "/acme/crd-installer"},
	},
	{
		name: "hub-in-configmap",
		files: map[string]string{
			"Chart.yaml": "apiVersion: v2\nname: hubmesh\nversion: 1.0.0\n",
			"values.yaml": `global:
  hub: docker.io/acmeio
  tag: 1.22.0
  proxy:
    image: proxyv2
`,
			"templates/deploy.yaml": deployment("pilot", `        - name: discovery
          image: "{{ .Values.global.hub }}/pilot:{{ .Values.global.tag }}"
`),
			"templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: injector
data:
  values: |-
    {"global": {"proxyImage": "{{ .Values.global.hub }}/{{ .Values.global.proxy.image }}:{{ .Values.global.tag }}"}}
`,
		},
		images: []string{"docker.io/acmeio/pilot:1.22.0", "docker.io/acmeio/proxyv2:1.22.0"},
		edits:  map[string]any{"|global.hub": mirror + "/acmeio"},
	},
	{
		name: "registry-from-addon-values",
		files: map[string]string{
			"Chart.yaml": "apiVersion: v2\nname: fromaddon\nversion: 1.0.0\n",
			"values.yaml": `global:
  imageRegistry: ""
image:
  repository: null
  tag: "4.0"
`,
			"templates/deploy.yaml": deployment("app", `        - name: app
          image: "{{ .Values.global.imageRegistry | default "docker.io" }}/{{ .Values.image.repository | default "acme/app" }}:{{ .Values.image.tag }}"
`),
		},
		values:   map[string]any{"global": map[string]any{"imageRegistry": "quay.io"}},
		images:   []string{"quay.io/acme/app:4.0"},
		edits:    map[string]any{"|global.imageRegistry": mirror},
		userKeys: []string{"global.imageRegistry"},
	},
	{
		name: "split-registry-with-override",
		files: map[string]string{
			"Chart.yaml": "apiVersion: v2\nname: ecrsplit\nversion: 1.0.0\n",
			"values.yaml": `image:
  account: "123456789012"
  region: us-west-2
  domain: amazonaws.com
  repository: acme/csi-driver
  tag: v1.3.0
  # -- a whole reference that wins over the pieces
  override: ""
`,
			"templates/deploy.yaml": deployment("csi", `        - name: driver
          image: {{ if .Values.image.override }}{{ .Values.image.override | quote }}{{ else }}{{ printf "%s.dkr.ecr.%s.%s/%s:%s" .Values.image.account .Values.image.region .Values.image.domain .Values.image.repository .Values.image.tag | quote }}{{ end }}
`),
		},
		images: []string{"123456789012.dkr.ecr.us-west-2.amazonaws.com/acme/csi-driver:v1.3.0"},
		edits:  map[string]any{"|image.override": mirror + "/acme/csi-driver:v1.3.0"},
	},
	{
		name: "substitution-guard",
		files: map[string]string{
			"Chart.yaml": "apiVersion: v2\nname: guarded\nversion: 1.0.0\n",
			"values.yaml": `global:
  imageRegistry: ""
  security:
    allowInsecureImages: false
image:
  registry: docker.io
  repository: acmebits/db
  tag: 16.1.0
`,
			"templates/sts.yaml": `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  template:
    spec:
      containers:
        - name: db
          image: "{{ .Values.global.imageRegistry | default .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`,
			"templates/NOTES.txt": `{{- if and (not .Values.global.security.allowInsecureImages) (or (ne .Values.image.registry "docker.io") (ne .Values.image.repository "acmebits/db")) }}
{{- fail "\nOriginal containers have been substituted for unrecognized ones.\nTo proceed anyway, set the global parameter 'global.security.allowInsecureImages' to true." }}
{{- end }}
Installed.
`,
		},
		images: []string{"docker.io/acmebits/db:16.1.0"},
		edits: map[string]any{"|image.registry": testLayout.Registry, "|image.repository": testLayout.Prefix + "/acmebits/db",
			"|global.security.allowInsecureImages": true},
		keyNames: true,
	},
	{
		name: "aliased-subchart-parent-override",
		files: map[string]string{
			"Chart.yaml": "apiVersion: v2\nname: parentapp\nversion: 1.0.0\ndependencies:\n  - name: engine\n    version: 0.1.0\n    alias: backend\n",
			"values.yaml": `backend:
  hub: registry.example.net/platform
`,
			"charts/engine/Chart.yaml": "apiVersion: v2\nname: engine\nversion: 0.1.0\nappVersion: 7.0.1\n",
			"charts/engine/values.yaml": `hub: docker.io/upstream
component: engine-core
`,
			"charts/engine/templates/deploy.yaml": deployment("engine", `        - name: core
          image: "{{ .Values.hub }}/{{ .Values.component }}:{{ .Chart.AppVersion }}"
`),
		},
		images: []string{"registry.example.net/platform/engine-core:7.0.1"},
		edits:  map[string]any{"|backend.hub": mirror + "/platform"},
	},
	{
		name: "probe-breaks-render",
		files: map[string]string{
			"Chart.yaml": "apiVersion: v2\nname: strict\nversion: 1.0.0\n",
			"values.yaml": `mode: acme
source: quay.io
`,
			"templates/deploy.yaml": `{{- if not (has .Values.mode (list "acme" "other")) }}{{ fail "mode must be acme or other" }}{{ end -}}
` + deployment("tool", `        - name: tool
          image: "{{ .Values.source }}/{{ .Values.mode }}/tool:1.0"
          env:
            - name: STARTED
              value: {{ now | date "2006-01-02T15:04:05.000000000" | quote }}
            - name: TOKEN
              value: {{ randAlphaNum 12 | quote }}
`),
		},
		images: []string{"quay.io/acme/tool:1.0"},
		edits:  map[string]any{"|source": mirror},
	},
}

func TestRewriteProbeShapes(t *testing.T) {
	for _, s := range probeShapes {
		t.Run(s.name, func(t *testing.T) {
			ch := loadTestChart(t, s.files)
			found, err := Extract(testRender(t, ch, s.values), ch)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range found {
				got = append(got, f.Ref.String())
			}
			want := append([]string{}, s.images...)
			for i, w := range want {
				want[i] = testMappings(t, []string{w}, testLayout)[0].Source.String()
			}
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("the test chart renders %v, want %v", got, want)
			}
			mappings := testMappings(t, s.images, testLayout)
			var layers []map[string]any
			if s.values != nil {
				layers = append(layers, s.values)
			}
			ro := RenderOptions{Release: "rel", Namespace: "ns", KubeVersion: "1.33.0", Values: layers}
			res, err := RewriteChart(context.Background(), RewriteInput{Chart: ch, Images: mappings, Found: found, Render: ro})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range res.Public {
				t.Errorf("still public in the %s render: %s (%s)", p.Render, p.Image, p.Reason)
			}
			edits := map[string]any{}
			for _, e := range res.Plan.ValueEdits {
				edits[e.Chart+"|"+strings.Join(e.Path, ".")] = e.New
			}
			if fmt.Sprint(edits) != fmt.Sprint(s.edits) {
				t.Errorf("edits = %v\nwant    %v", edits, s.edits)
			}
			if len(res.Plan.TemplateEdits) != s.templateEdits {
				t.Errorf("template edits = %+v, want %d", res.Plan.TemplateEdits, s.templateEdits)
			}
			if strings.Join(res.UserKeys, ",") != strings.Join(s.userKeys, ",") {
				t.Errorf("user keys = %v, want %v", res.UserKeys, s.userKeys)
			}
			if res.Probed == s.keyNames {
				t.Errorf("probed = %v, want %v", res.Probed, !s.keyNames)
			}
			t.Logf("probed %v, %d renders", res.Probed, res.Renders)
			checkBothRendersPrivate(t, res, s.files, s.values, mappings)
		})
	}
}

// checkBothRendersPrivate checks a rewrite independently of RewriteChart's own renders:
// the packaged chart reloaded from its archive with the addon's values (and the keys of
// them the rewrite overrides), and the original chart with the consumer overrides.
func checkBothRendersPrivate(t *testing.T, res *RewriteResult, files map[string]string, values map[string]any, mappings []ImageMapping) {
	t.Helper()
	a, err := PackageChart(res.Chart, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	path := a.Path
	packaged, err := loader.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range packaged.Raw {
		if probeMarkers.Match(f.Data) {
			t.Errorf("a probe marker leaked into %s", f.Name)
		}
	}
	vals := valsOrEmpty(values)
	for _, k := range res.UserKeys {
		vals = testMergeValues(vals, pick(res.Overrides, strings.Split(k, ".")))
	}
	after, manifest := testRenderImages(t, packaged, vals)
	assertPrivate(t, "packaged chart", after, manifest, mappings)
	original := loadTestChart(t, files)
	images, manifest := testRenderImages(t, original, testMergeValues(valsOrEmpty(values), res.Overrides))
	assertPrivate(t, "original chart + consumer overrides", images, manifest, mappings)
}

// pick is the part of m at path, nested as in m.
func pick(m map[string]any, path []string) map[string]any {
	v := lookupPath(m, path)
	out := map[string]any{}
	_ = setPath(out, path, v)
	return out
}
