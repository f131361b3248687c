package stages

import (
	"reflect"
	"sort"
	"testing"
)

// wantImage is what a test expects of one found image: its locations ("Kind name path")
// and whether it is a pod image.
type wantImage struct {
	where []string
	pod   bool
}

// checkFound asserts the exact set of images, each with exactly its locations and its
// pod/non-pod class.
func checkFound(t *testing.T, got map[string]FoundImage, want map[string]wantImage) {
	t.Helper()
	for ref, w := range want {
		f, ok := got[ref]
		if !ok {
			t.Errorf("%s not found", ref)
			continue
		}
		gotPaths := paths(f)
		sort.Strings(gotPaths)
		wantPaths := append([]string(nil), w.where...)
		sort.Strings(wantPaths)
		if !reflect.DeepEqual(gotPaths, wantPaths) {
			t.Errorf("%s: where %v, want %v", ref, gotPaths, wantPaths)
		}
		if f.PodSpec != w.pod {
			t.Errorf("%s: PodSpec %v, want %v", ref, f.PodSpec, w.pod)
		}
		if f.AnnotationOnly {
			t.Errorf("%s: AnnotationOnly", ref)
		}
	}
	for ref, f := range got {
		if _, ok := want[ref]; !ok {
			t.Errorf("false reference %s (raw %q, where %v)", ref, f.Raw, paths(f))
		}
	}
}

func nonPod(where ...string) wantImage { return wantImage{where: where} }

// TestExtractBareReferencesByKey: references without a registry host are taken where a
// key names an image: env vars (FOO_IMAGE), ConfigMap data keys (sidecarImage), keys
// inside ConfigMap text (YAML, JSON, ini, properties) and flags in args and shell
// commands (--consul-image=…, -dataplane-image="…", "--init-image" "busybox:1.36",
// --image nats:2.9). The same strings without such a key, prose, comments, numbers,
// times, host:port and URLs are not references.
func TestExtractBareReferencesByKey(t *testing.T) {
	r := &Rendered{Manifests: []Manifest{{Template: "nats/templates/all.yaml", Content: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: nats
spec:
  template:
    spec:
      containers:
        - name: nats
          image: nats:2.10.10
          command:
            - /bin/sh
            - -ec
            - |
              exec operator \
                -log-level=info \
                -dataplane-image="hashicorp/consul-dataplane:1.9.11" \
                -listen=:8080 \
                --image nats:2.9.25 \
                -release-name="rel"
          args:
            - --consul-image=hashicorp/consul:1.22.7
            - --init-image
            - busybox:1.36
            - --image-pull-policy=Always
            - --listen=0.0.0.0:8080
            - --mode=foo:bar
            - nats:2.10.11
          env:
            - name: EXPORTER_IMAGE
              value: natsio/prometheus-nats-exporter:0.14.0
            - name: IMAGES
              value: "natsio/one:1.0,natsio/two:2.0"
            - name: IMAGE_PULL_POLICY
              value: IfNotPresent
            - name: PULL_IMAGE
              value: "true"
            - name: TIME_IMAGE
              value: "12:30"
            - name: HOST_IMAGE
              value: example.com:443
            - name: DOC_IMAGE
              value: https://example.com/docs/x:1
            - name: UNTAGGED_IMAGE
              value: natsio/untagged
            - name: MODE
              value: foo:bar
            - name: NATS_VERSION_STRING
              value: nats:2.10.12
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: conf
data:
  sidecarImage: natsio/nats-box:0.14.5
  plain: natsio/not-keyed:1.0
  ratio: "3:1"
  values.yaml: |
    # image: natsio/commented:9.9
    server:
      image: nats:2.10-alpine
      port: 4222
    note: use the image natsio/prose:1.0 for tests, or foo:bar
    time: 12:30
  settings.json: |
    {"reloaderImage": "natsio/nats-server-config-reloader:0.14.0", "url": "http://host:80/x:y"}
  agent.ini: |
    [agent]
    helper_image = alpine:3.20
    listen = 0.0.0.0:9090
  app.properties: |
    exporter.image=prom/statsd-exporter:v0.26.0
    exporter.port=9102
`}}}
	checkFound(t, mustExtract(t, r, nil), map[string]wantImage{
		"docker.io/library/nats:2.10.10":                      {where: []string{"Deployment nats spec.template.spec.containers[0].image"}, pod: true},
		"docker.io/hashicorp/consul-dataplane:1.9.11":         nonPod("Deployment nats spec.template.spec.containers[0].command[2]"),
		"docker.io/library/nats:2.9.25":                       nonPod("Deployment nats spec.template.spec.containers[0].command[2]"),
		"docker.io/hashicorp/consul:1.22.7":                   nonPod("Deployment nats spec.template.spec.containers[0].args[0]"),
		"docker.io/library/busybox:1.36":                      nonPod("Deployment nats spec.template.spec.containers[0].args[2]"),
		"docker.io/natsio/prometheus-nats-exporter:0.14.0":    nonPod("Deployment nats spec.template.spec.containers[0].env[0].value"),
		"docker.io/natsio/one:1.0":                            nonPod("Deployment nats spec.template.spec.containers[0].env[1].value"),
		"docker.io/natsio/two:2.0":                            nonPod("Deployment nats spec.template.spec.containers[0].env[1].value"),
		"docker.io/natsio/nats-box:0.14.5":                    nonPod("ConfigMap conf data.sidecarImage"),
		"docker.io/library/nats:2.10-alpine":                  nonPod("ConfigMap conf data.values.yaml"),
		"docker.io/natsio/nats-server-config-reloader:0.14.0": nonPod("ConfigMap conf data.settings.json"),
		"docker.io/library/alpine:3.20":                       nonPod("ConfigMap conf data.agent.ini"),
		"docker.io/prom/statsd-exporter:v0.26.0":              nonPod("ConfigMap conf data.app.properties"),
	})
}

// TestExtractReferencesFromValues: a token of rendered text that equals an image the
// chart's values name (a string under an image key, or registry/repository/tag parts,
// in the chart or a subchart) is that image without any key around it; the same text
// without such a value is not, and a values string under another key is not an image.
func TestExtractReferencesFromValues(t *testing.T) {
	sub := newTestChart("sub", map[string]any{"helper": map[string]any{"image": "natsio/sub-helper:1.0"}}, map[string]string{
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sub}\ndata:\n  run.sh: exec helper natsio/sub-helper:1.0\n",
	})
	parent := newTestChart("parent", map[string]any{
		"global": map[string]any{"image": "hashicorp/consul:1.22.7", "imageK8S": "hashicorp/consul-k8s-control-plane:1.9.11"},
		"metrics": map[string]any{"image": map[string]any{
			"registry": "docker.io", "repository": "bitnami/postgres-exporter", "tag": "0.17.1-debian-12-r16",
		}},
		"motd":   "nats:2.10",
		"unused": map[string]any{"image": "natsio/unused:9.9"},
	}, map[string]string{
		"templates/d.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  template:
    spec:
      containers:
        - name: app
          image: {{ .Values.global.imageK8S }}
          command: ["/bin/sh", "-c", "run --server {{ .Values.global.image }} --exporter bitnami/postgres-exporter:0.17.1-debian-12-r16"]
          env:
            - name: GREETING
              value: {{ .Values.motd }}
            - name: OTHER
              value: natsio/not-in-values:1.0
`,
	})
	parent.AddDependency(sub)
	got := mustExtract(t, mustRender(t, parent, RenderOptions{}), parent)
	checkFound(t, got, map[string]wantImage{
		"docker.io/hashicorp/consul-k8s-control-plane:1.9.11":      {where: []string{"Deployment app spec.template.spec.containers[0].image"}, pod: true},
		"docker.io/hashicorp/consul:1.22.7":                        nonPod("Deployment app spec.template.spec.containers[0].command[2]"),
		"docker.io/bitnami/postgres-exporter:0.17.1-debian-12-r16": nonPod("Deployment app spec.template.spec.containers[0].command[2]"),
		"docker.io/natsio/sub-helper:1.0":                          nonPod("ConfigMap sub data.run.sh"),
	})
	// Without the chart (no values), only the container image is certain.
	got = mustExtract(t, mustRender(t, parent, RenderOptions{}), nil)
	if len(got) != 1 {
		t.Errorf("without values: %v", got)
	}
}

// TestExtractReferenceParts: references kept apart are composed within one mapping:
// flat ConfigMap keys (sidecar.repository + sidecar.tag), nested YAML and pretty JSON in a
// data value (image: {registry, repository, tag}; list items each on their own), env pairs
// of one container (X_REPOSITORY + X_TAG, X_IMAGE + X_VERSION, X_IMAGE_REPOSITORY +
// X_IMAGE_TAG, X_IMAGE_REPOSITORY + X_VERSION). Not composed: a version without any image
// key, parts in two containers or two list items, URLs and git repositories.
func TestExtractReferenceParts(t *testing.T) {
	r := &Rendered{Manifests: []Manifest{{Template: "op/templates/all.yaml", Content: `apiVersion: v1
kind: ConfigMap
metadata: {name: parts}
data:
  sidecar.repository: natsio/nats-box
  sidecar.tag: "0.14.5"
  backup.repository: s3://bucket/path
  backup.tag: weekly
  config.yaml: |
    exporter:
      image:
        repository: natsio/prometheus-nats-exporter
        tag: 0.14.0
    reloader:
      repository: natsio/nats-server-config-reloader
      tag: "0.14.0"
    workers:
      - name: one
        repository: example/one
        tag: "1"
      - name: two
        repository: example/two
      - name: three
        tag: "3"
    source:
      repository: https://github.com/example/charts.git
      tag: v1
    app:
      name: web
      version: 1.2.3
  settings.json: |
    {
      "image": {
        "registry": "quay.io",
        "repository": "example/app",
        "tag": "v1"
      },
      "chart": {
        "repository": "github.com/example/charts.git",
        "tag": "v2"
      }
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: op}
spec:
  template:
    spec:
      containers:
        - name: op
          image: quay.io/example/operator:v1
          env:
            - {name: EXPORTER_REPOSITORY, value: natsio/exporter}
            - {name: EXPORTER_TAG, value: "0.15.0"}
            - {name: RELOADER_IMAGE, value: natsio/reloader}
            - {name: RELOADER_VERSION, value: "0.16.0"}
            - {name: AGENT_IMAGE_REPOSITORY, value: quay.io/example/agent}
            - {name: AGENT_IMAGE_TAG, value: v2}
            - {name: BOX_IMAGE_REPOSITORY, value: natsio/box}
            - {name: BOX_VERSION, value: "0.2"}
            - {name: HELM_REPOSITORY, value: stable}
            - {name: HELM_VERSION, value: "3.16"}
            - {name: APP_NAME, value: web}
            - {name: APP_VERSION, value: "1.0"}
            - {name: SPLIT_REPOSITORY, value: natsio/split}
        - name: other
          image: quay.io/example/other:v1
          env:
            - {name: SPLIT_TAG, value: "9.9"}
`}}}
	checkFound(t, mustExtract(t, r, nil), map[string]wantImage{
		"docker.io/natsio/nats-box:0.14.5":                    nonPod("ConfigMap parts data.sidecar.repository"),
		"docker.io/natsio/prometheus-nats-exporter:0.14.0":    nonPod("ConfigMap parts data.config.yaml"),
		"docker.io/natsio/nats-server-config-reloader:0.14.0": nonPod("ConfigMap parts data.config.yaml"),
		"docker.io/example/one:1":                             nonPod("ConfigMap parts data.config.yaml"),
		"quay.io/example/app:v1":                              nonPod("ConfigMap parts data.settings.json"),
		"quay.io/example/operator:v1":                         {where: []string{"Deployment op spec.template.spec.containers[0].image"}, pod: true},
		"quay.io/example/other:v1":                            {where: []string{"Deployment op spec.template.spec.containers[1].image"}, pod: true},
		"docker.io/natsio/exporter:0.15.0":                    nonPod("Deployment op spec.template.spec.containers[0].env[0].value"),
		"docker.io/natsio/reloader:0.16.0":                    nonPod("Deployment op spec.template.spec.containers[0].env[2].value"),
		"quay.io/example/agent:v2":                            nonPod("Deployment op spec.template.spec.containers[0].env[4].value"),
		"docker.io/natsio/box:0.2":                            nonPod("Deployment op spec.template.spec.containers[0].env[6].value"),
	})
}

// TestExtractLabelShapedStrings: prefix/name:value strings that are labels, taints or
// selectors are not images, whether their key says so or not; real references of the
// same shape stay images (registry.k8s.io, a version-like tag, a host with a port, more
// than one path component).
func TestExtractLabelShapedStrings(t *testing.T) {
	r := &Rendered{Manifests: []Manifest{{Template: "w/templates/d.yaml", Content: `apiVersion: apps/v1
kind: Deployment
metadata: {name: webhook}
spec:
  template:
    spec:
      containers:
        - name: w
          image: registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.6.4
          args:
            - --node-selector=kubernetes.io/os:linux
            - --toleration=node-role.kubernetes.io/control-plane:NoSchedule
            - --pause-image=registry.k8s.io/pause:3.10
          env:
            - {name: WEBHOOK_LABEL_SELECTOR, value: "app.kubernetes.io/component:webhook"}
            - {name: COMPONENT, value: "app.kubernetes.io/component:webhook"}
            - {name: ZONE, value: "topology.kubernetes.io/zone:us-east-1a"}
            - {name: FARGATE, value: "eks.amazonaws.com/compute-type:fargate"}
            - {name: CHART, value: "helm.sh/chart:webhook"}
            - {name: LEGACY_PAUSE, value: "k8s.gcr.io/pause:3.2"}
            - {name: SIDECAR, value: "quay.io/example/sidecar:main"}
            - {name: LOCAL, value: "registry.local:5000/app:edge"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: w}
data:
  config.yaml: |
    selector: app.kubernetes.io/name:webhook
    nodeAffinity: kubernetes.io/arch:amd64
    components: [app.kubernetes.io/part-of:mesh]
`}}}
	checkFound(t, mustExtract(t, r, nil), map[string]wantImage{
		"registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.6.4": {where: []string{"Deployment webhook spec.template.spec.containers[0].image"}, pod: true},
		"registry.k8s.io/pause:3.10":                                nonPod("Deployment webhook spec.template.spec.containers[0].args[2]"),
		"k8s.gcr.io/pause:3.2":                                      nonPod("Deployment webhook spec.template.spec.containers[0].env[5].value"),
		"quay.io/example/sidecar:main":                              nonPod("Deployment webhook spec.template.spec.containers[0].env[6].value"),
		"registry.local:5000/app:edge":                              nonPod("Deployment webhook spec.template.spec.containers[0].env[7].value"),
	})
}
