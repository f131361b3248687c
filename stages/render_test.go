package stages

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
)

// newTestChart builds an in-memory chart; templates maps "templates/x.yaml" (or
// "crds/x.yaml") to its text.
func newTestChart(name string, values map[string]any, templates map[string]string) *chart.Chart {
	ch := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: name, Version: "1.0.0"},
		Values:   values,
	}
	for n, text := range templates {
		f := &chart.File{Name: n, Data: []byte(text)}
		if strings.HasPrefix(n, "crds/") {
			ch.Files = append(ch.Files, f)
		} else {
			ch.Templates = append(ch.Templates, f)
		}
	}
	return ch
}

func mustRender(t *testing.T, ch *chart.Chart, opts RenderOptions) *Rendered {
	t.Helper()
	if opts.Release == "" {
		opts.Release = "rel"
	}
	if opts.Namespace == "" {
		opts.Namespace = "ns"
	}
	r, err := Render(context.Background(), ch, opts)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return r
}

func manifestWith(r *Rendered, substr string) *Manifest {
	for i := range r.Manifests {
		if strings.Contains(r.Manifests[i].Content, substr) {
			return &r.Manifests[i]
		}
	}
	return nil
}

// TestRenderLikeHelmTemplate: release, namespace, default kube version 1.33.0, extra API
// versions (bare and with kind), CRDs from crds/ and test hooks all reach the output, each
// document tagged with its template.
func TestRenderLikeHelmTemplate(t *testing.T) {
	ch := newTestChart("demo", map[string]any{"image": "nginx:1.27"}, map[string]string{
		"templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cm
  namespace: {{ .Release.Namespace }}
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
`,
		"templates/sm.yaml": `{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor" }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: sm-by-kind
{{- end }}
{{- if and (.Capabilities.APIVersions.Has "keda.sh/v1alpha1") (.Capabilities.APIVersions.Has "policy/v1") }}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: so-by-group
{{- end }}
{{- if .Capabilities.APIVersions.Has "security.openshift.io/v1" }}
---
kind: SecurityContextConstraints
metadata:
  name: openshift-only
{{- end }}
`,
		"templates/tests/test.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    helm.sh/hook: test
spec:
  containers:
    - name: t
      image: {{ .Values.image }}
`,
		"crds/widget.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
`,
	})
	r := mustRender(t, ch, RenderOptions{Release: "myrel", Namespace: "myns"})

	cm := manifestWith(r, "kind: ConfigMap")
	if cm == nil || !strings.Contains(cm.Content, "name: myrel-cm") || !strings.Contains(cm.Content, "namespace: myns") ||
		!strings.Contains(cm.Content, `kube: "v1.33.0"`) || cm.Template != "demo/templates/cm.yaml" {
		t.Errorf("configmap: %+v", cm)
	}
	if m := manifestWith(r, "sm-by-kind"); m == nil {
		t.Error("ServiceMonitor gated on monitoring.coreos.com/v1/ServiceMonitor did not render")
	}
	if m := manifestWith(r, "so-by-group"); m == nil {
		t.Error("ScaledObject gated on keda.sh/v1alpha1 and policy/v1 did not render")
	}
	if m := manifestWith(r, "openshift-only"); m != nil {
		t.Error("OpenShift-only object rendered")
	}
	if m := manifestWith(r, "myrel-test"); m == nil || m.Template != "demo/templates/tests/test.yaml" {
		t.Errorf("test hook: %+v", m)
	}
	crd := manifestWith(r, "gadgets.example.com")
	if crd == nil || crd.Template != "crds/widget.yaml" && crd.Template != "demo/crds/widget.yaml" {
		t.Errorf("second CRD of a multi-document file: %+v", crd)
	}
	if len(r.Fallbacks) != 0 {
		t.Errorf("fallbacks %v", r.Fallbacks)
	}

	r = mustRender(t, ch, RenderOptions{KubeVersion: "1.30.2"})
	if m := manifestWith(r, "kind: ConfigMap"); m == nil || !strings.Contains(m.Content, `kube: "v1.30.2"`) {
		t.Errorf("kube version option ignored: %+v", m)
	}
	if _, err := Render(context.Background(), ch, RenderOptions{Release: "r", Namespace: "n", KubeVersion: "not-a-version"}); err == nil {
		t.Error("bad kube version accepted")
	}
}

// TestRenderValueLayers: layers merge in order over the defaults (maps key by key, a
// later layer wins) and are left untouched.
func TestRenderValueLayers(t *testing.T) {
	ch := newTestChart("layers", map[string]any{
		"a": "default", "b": "default", "c": "default",
		"nested": map[string]any{"x": "default", "y": "default"},
	}, map[string]string{"templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
data:
  a: {{ .Values.a }}
  b: {{ .Values.b }}
  c: {{ .Values.c }}
  x: {{ .Values.nested.x }}
  y: {{ .Values.nested.y }}
`})
	addon := map[string]any{"a": "addon", "b": "addon", "nested": map[string]any{"x": "addon"}}
	overrides := map[string]any{"b": "override", "nested": map[string]any{"y": "override"}}
	addonBefore := copyValues(addon)
	r := mustRender(t, ch, RenderOptions{Values: []map[string]any{addon, overrides}})
	m := manifestWith(r, "kind: ConfigMap")
	for _, want := range []string{"a: addon", "b: override", "c: default", "x: addon", "y: override"} {
		if m == nil || !strings.Contains(m.Content, want) {
			t.Errorf("want %q in %v", want, m)
		}
	}
	if !reflect.DeepEqual(addon, addonBefore) {
		t.Errorf("value layer modified: %v", addon)
	}
}

// TestRenderTwiceDoesNotLeak renders a chart with a subchart disabled, then enabled: the
// second render has the subchart (Helm prunes disabled subcharts from the chart it is
// given) and the chart passed in is unchanged.
func TestRenderTwiceDoesNotLeak(t *testing.T) {
	sub := newTestChart("sub", map[string]any{"image": "quay.io/sub/app:2.0"}, map[string]string{
		"templates/deploy.yaml": deploymentYAML("sub", "{{ .Values.image }}"),
	})
	parent := newTestChart("parent", map[string]any{"sub": map[string]any{"enabled": true}}, map[string]string{
		"templates/deploy.yaml": deploymentYAML("parent", "quay.io/parent/app:1.0"),
	})
	parent.Metadata.Dependencies = []*chart.Dependency{{Name: "sub", Version: "1.0.0", Condition: "sub.enabled"}}
	parent.AddDependency(sub)
	valuesBefore := copyValues(parent.Values)
	subValuesBefore := copyValues(sub.Values)

	off := mustRender(t, parent, RenderOptions{Values: []map[string]any{{"sub": map[string]any{"enabled": false}}}})
	if manifestWith(off, "quay.io/sub/app") != nil {
		t.Fatal("disabled subchart rendered")
	}
	on := mustRender(t, parent, RenderOptions{})
	if manifestWith(on, "quay.io/sub/app:2.0") == nil {
		t.Fatal("subchart missing from the second render: the first render leaked into the chart")
	}
	if len(parent.Dependencies()) != 1 || len(parent.Metadata.Dependencies) != 1 || parent.Metadata.Dependencies[0].Enabled {
		t.Errorf("chart dependencies changed: %d loaded, %+v", len(parent.Dependencies()), parent.Metadata.Dependencies)
	}
	if !reflect.DeepEqual(parent.Values, valuesBefore) || !reflect.DeepEqual(sub.Values, subValuesBefore) {
		t.Errorf("chart values changed: %v / %v", parent.Values, sub.Values)
	}
}

// TestRenderTemplateErrorFileLine: Helm's file:line reaches the error, for a parse error
// and an execution error.
func TestRenderTemplateErrorFileLine(t *testing.T) {
	parse := newTestChart("broken", nil, map[string]string{"templates/bad.yaml": "a: 1\nb: 2\nc: {{ .Values.x | nosuchfunc }}\n"})
	_, err := Render(context.Background(), parse, RenderOptions{Release: "r", Namespace: "n"})
	if err == nil || !strings.Contains(err.Error(), "broken/templates/bad.yaml:3") || !strings.Contains(err.Error(), "broken 1.0.0") {
		t.Errorf("parse error: %v", err)
	}
	exec := newTestChart("broken", nil, map[string]string{"templates/nil.yaml": "a: 1\nb: {{ .Values.missing.deeper.key }}\n"})
	_, err = Render(context.Background(), exec, RenderOptions{Release: "r", Namespace: "n"})
	if err == nil || !strings.Contains(err.Error(), "broken/templates/nil.yaml:2") {
		t.Errorf("execution error: %v", err)
	}
}

// TestRenderRequiredValueHint: a `required` value missing names the file:line, Helm's
// message and where to put the value.
func TestRenderRequiredValueHint(t *testing.T) {
	ch := newTestChart("needy", map[string]any{"settings": map[string]any{"region": ""}}, map[string]string{
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  region: {{ required \"settings.region is required\" .Values.settings.region }}\n",
	})
	_, err := Render(context.Background(), ch, RenderOptions{Release: "r", Namespace: "n"})
	if err == nil {
		t.Fatal("render without a required value succeeded")
	}
	for _, want := range []string{"needy/templates/cm.yaml:6", "settings.region is required", "chart-overrides.yaml", "overrides: {needy:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	r := mustRender(t, ch, RenderOptions{Values: []map[string]any{{"settings": map[string]any{"region": "eu-west-1"}}}})
	if manifestWith(r, "region: eu-west-1") == nil {
		t.Error("value given by a layer not used")
	}
}

func TestRenderCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Render(ctx, newTestChart("c", nil, nil), RenderOptions{Release: "r", Namespace: "n"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestRenderFallbacks: built-in placeholders fill only unset keys, are reported, and also
// serve a known chart used as an aliased subchart unless its condition disables it.
func TestRenderFallbacks(t *testing.T) {
	tmpl := map[string]string{"templates/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: c
spec:
  template:
    spec:
      containers:
        - name: c
          image: public.ecr.aws/karpenter/controller:1.0.0
          env:
            - name: CLUSTER_NAME
              value: {{ required "settings.clusterName" .Values.settings.clusterName }}
            - name: ENDPOINT
              value: {{ .Values.settings.clusterEndpoint | quote }}
`}
	ch := newTestChart("karpenter", map[string]any{"settings": map[string]any{"clusterName": "", "clusterEndpoint": ""}}, tmpl)

	r := mustRender(t, ch, RenderOptions{})
	want := []string{
		"karpenter: settings.clusterName=" + placeholderCluster,
		"karpenter: settings.clusterEndpoint=https://" + placeholderCluster + ".invalid",
	}
	if !reflect.DeepEqual(r.Fallbacks, want) || manifestWith(r, "value: "+placeholderCluster) == nil {
		t.Errorf("fallbacks %v", r.Fallbacks)
	}
	r = mustRender(t, ch, RenderOptions{Values: []map[string]any{{"settings": map[string]any{"clusterName": "prod"}}}})
	if len(r.Fallbacks) != 1 || manifestWith(r, "value: prod") == nil {
		t.Errorf("user value not kept, or fallbacks %v", r.Fallbacks)
	}
	withDefault := newTestChart("karpenter", map[string]any{"settings": map[string]any{"clusterName": "from-chart", "clusterEndpoint": "https://x"}}, tmpl)
	if r := mustRender(t, withDefault, RenderOptions{}); len(r.Fallbacks) != 0 {
		t.Errorf("fallbacks override chart defaults: %v", r.Fallbacks)
	}
	if len(ch.Values["settings"].(map[string]any)["clusterName"].(string)) != 0 {
		t.Error("fallback written into the chart's values")
	}

	lbc := newTestChart("aws-load-balancer-controller", map[string]any{"clusterName": nil}, map[string]string{
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lbc\ndata:\n  c: {{ required \"clusterName\" .Values.clusterName }}\n",
	})
	umbrella := newTestChart("platform", map[string]any{"lbc": map[string]any{"enabled": true}}, nil)
	umbrella.Metadata.Dependencies = []*chart.Dependency{{Name: "aws-load-balancer-controller", Alias: "lbc", Version: "1.0.0", Condition: "lbc.enabled"}}
	umbrella.AddDependency(lbc)
	r = mustRender(t, umbrella, RenderOptions{})
	if !reflect.DeepEqual(r.Fallbacks, []string{"aws-load-balancer-controller: lbc.clusterName=" + placeholderCluster}) {
		t.Errorf("subchart fallbacks %v", r.Fallbacks)
	}
	r = mustRender(t, umbrella, RenderOptions{Values: []map[string]any{{"lbc": map[string]any{"enabled": false}}}})
	if len(r.Fallbacks) != 0 {
		t.Errorf("fallback reported for a disabled subchart: %v", r.Fallbacks)
	}
}

func deploymentYAML(name, image string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
spec:
  template:
    spec:
      containers:
        - name: main
          image: ` + image + `
`
}
