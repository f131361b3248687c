package stages

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
)

func mustExtract(t *testing.T, r *Rendered, ch *chart.Chart) map[string]FoundImage {
	t.Helper()
	found, err := Extract(r, ch)
	if err != nil {
		t.Fatalf("extract: %v", err)
	}
	if !sort.SliceIsSorted(found, func(i, j int) bool { return found[i].Ref.String() < found[j].Ref.String() }) {
		t.Errorf("output not sorted: %v", found)
	}
	out := map[string]FoundImage{}
	for _, f := range found {
		out[f.Ref.String()] = f
	}
	return out
}

func paths(f FoundImage) []string {
	var out []string
	for _, w := range f.Where {
		out = append(out, w.Kind+" "+w.Name+" "+w.Path)
	}
	return out
}

// TestExtractNestedPodTemplates renders a chart whose pods sit at different depths in
// different kinds (Argo Rollout, CronJob, an unknown custom kind with two nested
// templates, a List, a test hook) and finds every container, init container and ephemeral
// container image with its field path and template.
func TestExtractNestedPodTemplates(t *testing.T) {
	ch := newTestChart("nest", nil, map[string]string{
		"templates/rollout.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: ro
spec:
  template:
    spec:
      initContainers:
        - name: init
          image: quay.io/ro/init:1.0
      containers:
        - name: app
          image: quay.io/ro/app:2.0
`,
		"templates/cronjob.yaml": `apiVersion: batch/v1
kind: CronJob
metadata:
  name: cj
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: job
              image: ghcr.io/cj/job:3.1
`,
		"templates/custom.yaml": `apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
spec:
  pools:
    - name: a
      podTemplate:
        spec:
          containers:
            - name: c
              image: registry.example.com:5000/widget/worker:0.1
          ephemeralContainers:
            - name: debug
              image: busybox:1.36
  mode: not-an-image/because:not-an-image-key
`,
		"templates/list.yaml": `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata:
      name: listed
    spec:
      containers:
        - name: c
          image: quay.io/ro/app:2.0
`,
		"templates/tests/t.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: hook
  annotations:
    helm.sh/hook: test
spec:
  containers:
    - name: t
      image: docker.io/bats/bats:1.14.0
`,
	})
	got := mustExtract(t, mustRender(t, ch, RenderOptions{}), ch)
	want := map[string][]string{
		"quay.io/ro/init:1.0":                         {"Rollout ro spec.template.spec.initContainers[0].image"},
		"quay.io/ro/app:2.0":                          {"Pod listed spec.containers[0].image", "Rollout ro spec.template.spec.containers[0].image"},
		"ghcr.io/cj/job:3.1":                          {"CronJob cj spec.jobTemplate.spec.template.spec.containers[0].image"},
		"registry.example.com:5000/widget/worker:0.1": {"Widget w spec.pools[0].podTemplate.spec.containers[0].image"},
		"docker.io/library/busybox:1.36":              {"Widget w spec.pools[0].podTemplate.spec.ephemeralContainers[0].image"},
		"docker.io/bats/bats:1.14.0":                  {"Pod hook spec.containers[0].image"},
	}
	if len(got) != len(want) {
		t.Errorf("found %d images, want %d: %v", len(got), len(want), got)
	}
	for ref, wantPaths := range want {
		f, ok := got[ref]
		if !ok {
			t.Errorf("%s not found", ref)
			continue
		}
		gotPaths := paths(f)
		sort.Strings(gotPaths)
		sort.Strings(wantPaths)
		if !reflect.DeepEqual(gotPaths, wantPaths) || !f.PodSpec {
			t.Errorf("%s: where %v (pod %v), want %v", ref, gotPaths, f.PodSpec, wantPaths)
		}
	}
	if f := got["quay.io/ro/init:1.0"]; len(f.Where) == 1 && f.Where[0].Template != "nest/templates/rollout.yaml" {
		t.Errorf("template %q", f.Where[0].Template)
	}
	if f := got["docker.io/library/busybox:1.36"]; f.Raw != "busybox:1.36" {
		t.Errorf("raw %q", f.Raw)
	}
}

// TestExtractTextReferences: references with a registry host and a tag or digest are found
// in args (also --flag=ref), command, env values and ConfigMap data; bare words, versions,
// URLs, host:port and references without a host or a tag are not.
func TestExtractTextReferences(t *testing.T) {
	r := &Rendered{Manifests: []Manifest{{Template: "t/templates/op.yaml", Content: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: op
spec:
  template:
    spec:
      containers:
        - name: op
          image: quay.io/op/operator:v1
          command: ["/bin/sh", "-c", "exec run --sidecar quay.io/op/sidecar:v2 && echo latest"]
          args:
            - --config-reloader=quay.io/op/reloader:v3
            - --base-image=quay.io/op/base@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
            - --url=http://x:80/y
            - --proxy=https://user:pass@proxy.example.com:3128/path:tag
            - --listen=example.com:443
            - --version=v1.2
            - latest
            - foo:bar
            - --name=nginx:1.27
            - --dir=/var/lib/data:rw
            - --repo=quay.io/op/no-tag
          env:
            - name: HELPER
              value: "registry.k8s.io/op/helper:v4"
            - name: ENDPOINT
              value: "localhost:8080/metrics"
            - name: LOCAL
              value: "localhost:5000/op/local:v5"
            - name: FROM_SECRET
              valueFrom:
                secretKeyRef: {name: s, key: k}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: conf
data:
  config.yaml: |
    image: "ghcr.io/op/from-config:v6"
    images: [quay.io/op/in-list:v7, 'quay.io/op/quoted:v8']
    docs: see https://quay.io/op/page:v9 and grafana.com/dashboards/1860 for more.
    note: "the tag is latest, image foo:bar"
  plain: docker.io/op/plain:v10.
`}}}
	got := mustExtract(t, r, nil)
	want := map[string]string{
		"quay.io/op/operator:v1": "Deployment op spec.template.spec.containers[0].image",
		"quay.io/op/sidecar:v2":  "Deployment op spec.template.spec.containers[0].command[2]",
		"quay.io/op/reloader:v3": "Deployment op spec.template.spec.containers[0].args[0]",
		"quay.io/op/base@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": "Deployment op spec.template.spec.containers[0].args[1]",
		"registry.k8s.io/op/helper:v4": "Deployment op spec.template.spec.containers[0].env[0].value",
		"localhost:5000/op/local:v5":   "Deployment op spec.template.spec.containers[0].env[2].value",
		"ghcr.io/op/from-config:v6":    "ConfigMap conf data.config.yaml",
		"quay.io/op/in-list:v7":        "ConfigMap conf data.config.yaml",
		"quay.io/op/quoted:v8":         "ConfigMap conf data.config.yaml",
		"docker.io/op/plain:v10":       "ConfigMap conf data.plain",
	}
	for ref, where := range want {
		f, ok := got[ref]
		if !ok {
			t.Errorf("%s not found", ref)
			continue
		}
		if p := paths(f); len(p) != 1 || p[0] != where {
			t.Errorf("%s: where %v, want %s", ref, p, where)
		}
		if f.PodSpec != (ref == "quay.io/op/operator:v1") {
			t.Errorf("%s: PodSpec %v", ref, f.PodSpec)
		}
	}
	for ref := range got {
		if _, ok := want[ref]; !ok {
			t.Errorf("false positive %s (%v)", ref, paths(got[ref]))
		}
	}
}

func TestStrictImageRef(t *testing.T) {
	for _, s := range []string{
		"quay.io/a/b:1", "registry.k8s.io/x:v1.2.3", "localhost/a:1", "localhost:5000/a/b:c",
		"10.0.0.1:5000/a:b", "ghcr.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"docker.io/library/nginx:1.27", "registry.k8s.io/pause:3.10", "k8s.gcr.io/pause:3.2", "quay.io/a/b:main",
		"registry.local:5000/app:edge",
	} {
		if _, ok := strictImageRef(s); !ok {
			t.Errorf("%q rejected", s)
		}
	}
	for _, s := range []string{
		"", "latest", "v1.2", "foo:bar", "nginx:1.27", "library/nginx:1.27", "http://x:80/y", "https://quay.io/a/b:1",
		"quay.io/a/b", "example.com:443", "localhost:8080/metrics", "a.b/c:", "/var/lib/x:rw", "my_host.io/a:b",
		"quay.io/A/B:1", "quay.io/a/b:bad tag", "quay.io/a/b@sha256:short", "host:port/a:b", "Quay.io/a:b",
		// Labels, taints and selectors written prefix/name:value.
		"app.kubernetes.io/component:webhook", "topology.kubernetes.io/zone:us-east-1a", "kubernetes.io/arch:amd64",
		"node-role.kubernetes.io/control-plane:NoSchedule", "x.k8s.io/a/b:1", "eks.amazonaws.com/compute-type:fargate",
		"helm.sh/chart:webhook",
	} {
		if ref, ok := strictImageRef(s); ok {
			t.Errorf("%q accepted as %s", s, ref)
		}
	}
}

// TestExtractNormalization: tag and digest both kept, docker.io/library expansion, one
// entry per normalized reference with every occurrence, the first spelling as Raw.
func TestExtractNormalization(t *testing.T) {
	const digest = "sha256:594ceea76b01c592858f803f9ff4d2cb40542cae2060410b2c95f75907d659e1"
	r := &Rendered{Manifests: []Manifest{{Template: "t/templates/d.yaml", Content: `kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      containers:
        - {name: a, image: "registry.k8s.io/ingress-nginx/controller:v1.15.1@` + digest + `"}
        - {name: b, image: "traefik:v3"}
        - {name: c, image: "docker.io/library/traefik:v3"}
        - {name: d, image: nginx}
        - {name: e, image: ""}
`}}}
	got := mustExtract(t, r, nil)
	ctrl, ok := got["registry.k8s.io/ingress-nginx/controller:v1.15.1@"+digest]
	if !ok || ctrl.Ref.Tag != "v1.15.1" || ctrl.Ref.Digest != digest {
		t.Errorf("tag+digest: %+v", ctrl)
	}
	tr := got["docker.io/library/traefik:v3"]
	if len(tr.Where) != 2 || tr.Raw != "traefik:v3" || !tr.PodSpec {
		t.Errorf("traefik: %+v", tr)
	}
	if _, ok := got["docker.io/library/nginx:latest"]; !ok || len(got) != 3 {
		t.Errorf("got %v", got)
	}
}

// TestExtractCustomResourceFields: operators' image fields (Prometheus image and
// thanos.image, Alertmanager, Tekton steps in a list) are found and marked non-pod, in
// any API group; a container list inside a custom resource is pod.
func TestExtractCustomResourceFields(t *testing.T) {
	r := &Rendered{Manifests: []Manifest{{Template: "t/templates/cr.yaml", Content: `apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: p}
spec:
  image: quay.io/prometheus/prometheus:v3.14.0
  thanos:
    image: quay.io/thanos/thanos:v0.42.4
  containers:
    - name: patch
      image: quay.io/patch/sidecar:1
---
apiVersion: monitoring.coreos.com/v1
kind: Alertmanager
metadata: {name: am}
spec:
  image: quay.io/prometheus/alertmanager:v0.34.0
---
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: task}
spec:
  steps:
    - {name: a, image: alpine:3.20}
    - {name: b, image: gcr.io/b/step:1}
---
apiVersion: example.com/v1
kind: Prometheus
metadata: {name: other-group}
spec:
  image: quay.io/other/collected:1
`}}}
	got := mustExtract(t, r, nil)
	want := map[string]string{
		"quay.io/prometheus/prometheus:v3.14.0":   "Prometheus p spec.image",
		"quay.io/thanos/thanos:v0.42.4":           "Prometheus p spec.thanos.image",
		"quay.io/prometheus/alertmanager:v0.34.0": "Alertmanager am spec.image",
		"docker.io/library/alpine:3.20":           "Task task spec.steps[0].image",
		"gcr.io/b/step:1":                         "Task task spec.steps[1].image",
		"quay.io/other/collected:1":               "Prometheus other-group spec.image",
	}
	for ref, where := range want {
		f := got[ref]
		if p := paths(f); len(p) != 1 || p[0] != where || f.PodSpec {
			t.Errorf("%s: where %v pod %v, want %s non-pod", ref, p, f.PodSpec, where)
		}
	}
	if f, ok := got["quay.io/patch/sidecar:1"]; !ok || !f.PodSpec {
		t.Errorf("container inside a custom resource: %+v", f)
	}
	if len(got) != len(want)+1 {
		t.Errorf("got %v", got)
	}
}

// TestExtractAnnotation: artifacthub.io/images of the chart and of a subchart that rendered
// are collected (Kind "Chart"); an entry the render uses joins that image, one it does not
// is AnnotationOnly; a disabled subchart's annotation is not read.
func TestExtractAnnotation(t *testing.T) {
	sub := newTestChart("sub", nil, map[string]string{"templates/d.yaml": deploymentYAML("sub", "quay.io/sub/app:1")})
	sub.Metadata.Annotations = map[string]string{artifactHubImages: "- name: sub-extra\n  image: quay.io/sub/extra:2\n"}
	parent := newTestChart("parent", map[string]any{"sub": map[string]any{"enabled": true}}, map[string]string{
		"templates/d.yaml": deploymentYAML("parent", "quay.io/parent/app:1"),
	})
	parent.Metadata.Annotations = map[string]string{artifactHubImages: `- name: app
  image: quay.io/parent/app:1
- name: optional
  image: quay.io/parent/optional:1
  whitelisted: true
- name: broken
  image: "Not A Reference"
`}
	parent.Metadata.Dependencies = []*chart.Dependency{{Name: "sub", Version: "1.0.0", Condition: "sub.enabled"}}
	parent.AddDependency(sub)

	got := mustExtract(t, mustRender(t, parent, RenderOptions{}), parent)
	opt := got["quay.io/parent/optional:1"]
	if len(opt.Where) != 1 || opt.Where[0].Kind != "Chart" || opt.Where[0].Name != "parent" || opt.PodSpec || !opt.AnnotationOnly {
		t.Errorf("optional: %+v", opt)
	}
	if app := got["quay.io/parent/app:1"]; len(app.Where) != 2 || !app.PodSpec || app.AnnotationOnly {
		t.Errorf("app: %+v", app)
	}
	if _, ok := got["quay.io/sub/extra:2"]; !ok || len(got) != 4 {
		t.Errorf("with subchart: %v", got)
	}

	off := mustRender(t, parent, RenderOptions{Values: []map[string]any{{"sub": map[string]any{"enabled": false}}}})
	got = mustExtract(t, off, parent)
	if _, ok := got["quay.io/sub/extra:2"]; ok || len(got) != 2 {
		t.Errorf("disabled subchart's annotation collected: %v", got)
	}
}

// TestExtractErrors: an image field that is not a reference, and YAML that does not parse,
// are errors naming where.
func TestExtractErrors(t *testing.T) {
	_, err := Extract(&Rendered{Manifests: []Manifest{{Template: "c/templates/bad.yaml", Content: deploymentYAML("d", "Bad Image!")}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "c/templates/bad.yaml") || !strings.Contains(err.Error(), "spec.template.spec.containers[0].image") {
		t.Errorf("bad image: %v", err)
	}
	_, err = Extract(&Rendered{Manifests: []Manifest{{Template: "c/templates/y.yaml", Content: "a: [unclosed\n"}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "c/templates/y.yaml") {
		t.Errorf("bad yaml: %v", err)
	}
}

// TestExtractSkipsCRDs: CustomResourceDefinitions (schemas) yield nothing even when their
// text mentions images.
func TestExtractSkipsCRDs(t *testing.T) {
	got := mustExtract(t, &Rendered{Manifests: []Manifest{{Template: "crds/x.yaml", Content: `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: xs.example.com}
spec:
  versions:
    - schema:
        openAPIV3Schema:
          properties:
            containers:
              - image: quay.io/example/in-schema:1
`}}}, nil)
	if len(got) != 0 {
		t.Errorf("got %v", got)
	}
}
