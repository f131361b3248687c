package stages

import (
	"testing"

	"helm.sh/helm/v3/pkg/chart"
)

// TestExtractCustomResourcesOfAnyKind: made-up operators' kinds, none known in advance:
// image-keyed strings (bare Docker Hub names included), image: {repository, tag} maps,
// lists of image-bearing items, a policy resource's repository + image + version, an
// untagged image + version (Prometheus' style), an operator configuration's full
// references under keys that say nothing, and a pod template inside a custom resource
// (pod). Not taken: metadata (labels, annotations), selectors, pull policies, prose, URLs,
// untagged single words, and image-like fields of Kubernetes' own kinds outside their
// containers; groups the Kubernetes project defines as CRDs are custom resources.
func TestExtractCustomResourcesOfAnyKind(t *testing.T) {
	r := &Rendered{Manifests: []Manifest{{Template: "op/templates/crs.yaml", Content: `apiVersion: nats.example.io/v1
kind: NatsCluster
metadata:
  name: nats
  labels:
    app.kubernetes.io/component: nats
  annotations:
    example.io/image: natsio/annotated:1.0
spec:
  image: nats:2.10.10
  imagePullPolicy: IfNotPresent
  reloaderImage: natsio/nats-server-config-reloader:0.14.0
  exporter:
    image:
      repository: natsio/prometheus-nats-exporter
      tag: 0.14.0
  box:
    imageRepository: natsio/nats-box
    imageTag: 0.14.5
  sidecars:
    - name: a
      image: quay.io/example/sidecar-a:v1
    - name: b
      image: {registry: ghcr.io, repository: example/sidecar-b, tag: "2"}
  helper:
    image: busybox
  selector:
    matchLabels: {app.kubernetes.io/component: "webhook"}
  description: runs the image foo:bar, see https://quay.io/example/page:v1
  pods:
    template:
      spec:
        containers:
          - name: c
            image: quay.io/example/in-pod:v3
---
apiVersion: policy.example.io/v1alpha1
kind: ImageAllowList
metadata: {name: allow}
spec:
  entries:
    - repository: registry.example.com/team
      image: worker
      version: 1.2.3
    - repository: registry.example.com/team
      image: scheduler
---
apiVersion: monitoring.example.io/v1
kind: Prom
metadata: {name: prom}
spec:
  image: quay.io/prometheus/prometheus
  version: v3.1.0
  thanos:
    baseImage: quay.io/thanos/thanos
    version: v0.37.2
---
apiVersion: operator.example.io/v1
kind: OperatorConfig
metadata: {name: config}
spec:
  defaults:
    configReloader: quay.io/prometheus-operator/prometheus-config-reloader:v0.80.0
    window: "10:30"
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClassConfig
metadata: {name: gw}
spec:
  proxyImage: docker.io/envoyproxy/envoy:v1.31.0
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: core}
spec:
  image: quay.io/example/not-a-deployment-field:1
  template:
    spec:
      containers:
        - {name: c, image: "quay.io/example/core:v1"}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np}
spec:
  image: quay.io/example/not-a-policy-field:1
`}}}
	checkFound(t, mustExtract(t, r, nil), map[string]wantImage{
		"docker.io/library/nats:2.10.10":                                 nonPod("NatsCluster nats spec.image"),
		"docker.io/natsio/nats-server-config-reloader:0.14.0":            nonPod("NatsCluster nats spec.reloaderImage"),
		"docker.io/natsio/prometheus-nats-exporter:0.14.0":               nonPod("NatsCluster nats spec.exporter.image.repository"),
		"docker.io/natsio/nats-box:0.14.5":                               nonPod("NatsCluster nats spec.box.imageRepository"),
		"quay.io/example/sidecar-a:v1":                                   nonPod("NatsCluster nats spec.sidecars[0].image"),
		"ghcr.io/example/sidecar-b:2":                                    nonPod("NatsCluster nats spec.sidecars[1].image.repository"),
		"quay.io/example/in-pod:v3":                                      {where: []string{"NatsCluster nats spec.pods.template.spec.containers[0].image"}, pod: true},
		"registry.example.com/team/worker:1.2.3":                         nonPod("ImageAllowList allow spec.entries[0].repository"),
		"quay.io/prometheus/prometheus:v3.1.0":                           nonPod("Prom prom spec.image"),
		"quay.io/thanos/thanos:v0.37.2":                                  nonPod("Prom prom spec.thanos.baseImage"),
		"quay.io/prometheus-operator/prometheus-config-reloader:v0.80.0": nonPod("OperatorConfig config spec.defaults.configReloader"),
		"docker.io/envoyproxy/envoy:v1.31.0":                             nonPod("GatewayClassConfig gw spec.proxyImage"),
		"quay.io/example/core:v1":                                        {where: []string{"Deployment core spec.template.spec.containers[0].image"}, pod: true},
	})
}

// TestIsCoreGroup: Kubernetes' own groups against custom resources' groups.
func TestIsCoreGroup(t *testing.T) {
	for group, core := range map[string]bool{
		"": true, "apps": true, "batch": true, "policy": true, "autoscaling": true,
		"rbac.authorization.k8s.io": true, "networking.k8s.io": true, "admissionregistration.k8s.io": true,
		"apiextensions.k8s.io": true, "storage.k8s.io": true,
		"gateway.networking.k8s.io": false, "snapshot.storage.k8s.io": false, "sparkoperator.k8s.io": false,
		"monitoring.coreos.com": false, "argoproj.io": false, "consul.hashicorp.com": false,
	} {
		if isCoreGroup(group) != core {
			t.Errorf("isCoreGroup(%q) = %v, want %v", group, !core, core)
		}
	}
}

// TestExtractAnnotationMerge: an annotation entry that differs from a rendered image only
// in form (digest alone against tag+digest, tag+digest against digest alone, another tag
// with the same digest, the same tag with a digest on one side) is that image: one
// FoundImage, the annotation one more location, AnnotationOnly false. Entries the render
// does not use (another tag, another digest, another repository) are AnnotationOnly with
// the annotation as only location.
func TestExtractAnnotationMerge(t *testing.T) {
	const d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	const d3 = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	ch := newTestChart("app", nil, map[string]string{"templates/d.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  template:
    spec:
      containers:
        - {name: a, image: "quay.io/org/app:1.0@` + d1 + `"}
        - {name: b, image: "quay.io/org/pinned@` + d2 + `"}
        - {name: c, image: "quay.io/org/tagonly:2.0"}
        - {name: d, image: "hashicorp/consul:1.22.7"}
`})
	ch.Metadata.Annotations = map[string]string{artifactHubImages: `- name: app
  image: quay.io/org/app@` + d1 + `
- name: app-retagged
  image: quay.io/org/app:latest-1.0@` + d1 + `
- name: pinned
  image: quay.io/org/pinned:3.0@` + d2 + `
- name: tagonly
  image: quay.io/org/tagonly:2.0@` + d3 + `
- name: consul
  image: hashicorp/consul:1.22.7
- name: app-next
  image: quay.io/org/app:1.1
- name: tagonly-other-digest
  image: quay.io/org/app:1.0@` + d3 + `
- name: dataplane
  image: hashicorp/consul-dataplane:1.9.11
`}
	found, err := Extract(mustRender(t, ch, RenderOptions{}), ch)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]FoundImage{}
	for _, f := range found {
		got[f.Ref.String()] = f
	}
	ann := func(i int) string { return "Chart app annotations.artifacthub.io/images[" + itoa(i) + "]" }
	for ref, want := range map[string]struct {
		where          []string
		pod, annotOnly bool
	}{
		"quay.io/org/app:1.0@" + d1:                   {[]string{"Deployment app spec.template.spec.containers[0].image", ann(0), ann(1)}, true, false},
		"quay.io/org/pinned@" + d2:                    {[]string{"Deployment app spec.template.spec.containers[1].image", ann(2)}, true, false},
		"quay.io/org/tagonly:2.0":                     {[]string{"Deployment app spec.template.spec.containers[2].image", ann(3)}, true, false},
		"docker.io/hashicorp/consul:1.22.7":           {[]string{"Deployment app spec.template.spec.containers[3].image", ann(4)}, true, false},
		"quay.io/org/app:1.1":                         {[]string{ann(5)}, false, true},
		"quay.io/org/app:1.0@" + d3:                   {[]string{ann(6)}, false, true},
		"docker.io/hashicorp/consul-dataplane:1.9.11": {[]string{ann(7)}, false, true},
	} {
		f, ok := got[ref]
		if !ok {
			t.Errorf("%s not found", ref)
			continue
		}
		if p := paths(f); !equalStrings(p, want.where) || f.PodSpec != want.pod || f.AnnotationOnly != want.annotOnly {
			t.Errorf("%s: where %v pod %v annotation-only %v, want %v %v %v", ref, p, f.PodSpec, f.AnnotationOnly, want.where, want.pod, want.annotOnly)
		}
	}
	if len(got) != 7 {
		t.Errorf("found %d images, want 7: %v", len(got), refStrings(found))
	}
	if f := got["docker.io/hashicorp/consul-dataplane:1.9.11"]; f.Raw != "hashicorp/consul-dataplane:1.9.11" {
		t.Errorf("annotation-only raw %q", f.Raw)
	}
}

// TestExtractAnnotationOnlyUsedBySubchart: an image one chart's annotation names and a
// subchart renders is not AnnotationOnly, whichever is read first.
func TestExtractAnnotationOnlyUsedBySubchart(t *testing.T) {
	sub := newTestChart("sub", nil, map[string]string{"templates/d.yaml": deploymentYAML("sub", "quay.io/sub/app:1")})
	sub.Metadata.Annotations = map[string]string{artifactHubImages: "- name: unused\n  image: quay.io/sub/unused:1\n"}
	parent := newTestChart("parent", nil, map[string]string{"templates/d.yaml": deploymentYAML("parent", "quay.io/parent/app:1")})
	parent.Metadata.Annotations = map[string]string{artifactHubImages: "- name: sub\n  image: quay.io/sub/app:1\n- name: unused\n  image: quay.io/sub/unused:1\n"}
	parent.Metadata.Dependencies = []*chart.Dependency{{Name: "sub", Version: "1.0.0"}}
	parent.AddDependency(sub)
	got := mustExtract(t, mustRender(t, parent, RenderOptions{}), parent)
	if f := got["quay.io/sub/app:1"]; f.AnnotationOnly || !f.PodSpec || len(f.Where) != 2 {
		t.Errorf("sub app: %+v", f)
	}
	if f := got["quay.io/sub/unused:1"]; !f.AnnotationOnly || len(f.Where) != 2 {
		t.Errorf("unused: %+v", f)
	}
}

// TestExtractDocumentForms: what the YAML reader must get right: anchors and merge keys,
// quoted keys, flow style and JSON documents (no apiVersion/kind at a line start), a
// document of comments only, and core kinds that cannot hold images (a Service whose
// annotation holds a reference) skipped without being read.
func TestExtractDocumentForms(t *testing.T) {
	r := &Rendered{Manifests: []Manifest{
		{Template: "f/templates/anchors.yaml", Content: `apiVersion: apps/v1
kind: Deployment
metadata: {name: anchors}
spec:
  template:
    spec:
      containers:
        - &main
          name: main
          image: quay.io/example/main:v1
          env:
            - {name: HELPER_IMAGE, value: "natsio/helper:1.0"}
        - <<: *main
          name: copy
      initContainers:
        - "name": "init"
          "image": "quay.io/example/init:v1"
`},
		{Template: "f/templates/json.yaml", Content: `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "json"},
 "data": {"agentImage": "natsio/agent:2.0"}}`},
		{Template: "f/templates/comments.yaml", Content: "# Source: f/templates/comments.yaml\n# nothing rendered\n"},
		{Template: "f/templates/svc.yaml", Content: `apiVersion: v1
kind: Service
metadata:
  name: svc
  annotations:
    example.io/image: quay.io/example/in-annotation:v1
spec:
  ports: [{port: 80}]
`},
	}}
	checkFound(t, mustExtract(t, r, nil), map[string]wantImage{
		"quay.io/example/main:v1": {where: []string{"Deployment anchors spec.template.spec.containers[0].image", "Deployment anchors spec.template.spec.containers[1].image"}, pod: true},
		"quay.io/example/init:v1": {where: []string{"Deployment anchors spec.template.spec.initContainers[0].image"}, pod: true},
		"docker.io/natsio/helper:1.0": nonPod("Deployment anchors spec.template.spec.containers[0].env[0].value",
			"Deployment anchors spec.template.spec.containers[1].env[0].value"),
		"docker.io/natsio/agent:2.0": nonPod("ConfigMap json data.agentImage"),
	})
	if mayHoldImages("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n") {
		t.Error("a Service is read")
	}
	for _, doc := range []string{
		"apiVersion: v1\nkind: ConfigMap\n", "apiVersion: example.io/v1\nkind: Widget\n", "apiVersion: v1\nkind: List\n",
		"apiVersion: v1\nkind: Service\nspec:\n  containers: []\n", `{"apiVersion": "v1", "kind": "Service"}`,
	} {
		if !mayHoldImages(doc) {
			t.Errorf("%q skipped", doc)
		}
	}
}

// TestClassifyKey: keys read as words, in every spelling charts use.
func TestClassifyKey(t *testing.T) {
	for key, want := range map[string]keyClass{
		"image":                    {role: roleImage, mentionsImage: true},
		"sidecarImage":             {role: roleImage, prefix: "sidecar", mentionsImage: true},
		"FOO_IMAGE":                {role: roleImage, prefix: "foo", mentionsImage: true},
		"--consul-dataplane-image": {role: roleImage, prefix: "consul_dataplane", mentionsImage: true},
		"imageName":                {role: roleImage, mentionsImage: true},
		"imageK8S":                 {role: roleImage, prefix: "k8s", mentionsImage: true},
		"consulK8SImage":           {role: roleImage, prefix: "consul_k8s", mentionsImage: true},
		"images":                   {role: roleImage, mentionsImage: true},
		"x.repository":             {role: roleRepository, prefix: "x"},
		"X_IMAGE_REPOSITORY":       {role: roleRepository, prefix: "x", mentionsImage: true},
		"imageTag":                 {role: roleTag, mentionsImage: true},
		"sidecar.image.tag":        {role: roleTag, prefix: "sidecar", mentionsImage: true},
		"RELOADER_VERSION":         {role: roleVersion, prefix: "reloader"},
		"imageRegistry":            {role: roleRegistry, mentionsImage: true},
		"digest":                   {role: roleDigest},
		"imagePullPolicy":          {mentionsImage: true},
		"image_pull_secrets":       {mentionsImage: true},
		"WEBHOOK_LABEL_SELECTOR":   {role: roleLabel},
		"nodeSelector":             {role: roleLabel},
		"tolerations":              {role: roleLabel},
		"name":                     {},
		"containerPort":            {},
		"NATS_VERSION_STRING":      {},
	} {
		if got := classifyKey(key); got != want {
			t.Errorf("classifyKey(%q) = %+v, want %+v", key, got, want)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func itoa(i int) string { return string(rune('0' + i)) }

// TestStartsWithKey: the cheap check agrees with textPair matching at a line's start.
func TestStartsWithKey(t *testing.T) {
	for _, line := range []string{
		"name: one", `"image": {`, `{"image": "x"}`, "--flag=x", "-consul-image=\"x\"", "key = value", "helper_image=alpine",
		"exec run \\", "}", "- x", "nats:2.10", "http://x", "# c", "'quoted': v", "1abc: x", "a.b-c_d: e", "(x=1)",
	} {
		m := textPair.FindStringIndex(line)
		if want := m != nil && m[0] == 0; startsWithKey(line) != want {
			t.Errorf("startsWithKey(%q) = %v, textPair says %v", line, !want, want)
		}
	}
}
