package stages

import (
	"context"
	"testing"
)

// verifyChart has one image from values and, in a second template, one written into the
// template itself: the consumer overrides reach the first only.
var verifyChart = map[string]string{
	"Chart.yaml":  "apiVersion: v2\nname: verify\nversion: 1.0.0\n",
	"values.yaml": "image:\n  repository: quay.io/org/app\n  tag: \"1.0\"\n",
	"templates/app.yaml": `apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  containers:
    - name: app
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`,
	"templates/sidecar.yaml": `apiVersion: v1
kind: Pod
metadata: {name: sidecar}
spec:
  containers:
    - name: sidecar
      image: quay.io/org/sidecar:2.0
`,
}

func verifyRewrite(t *testing.T, files map[string]string, values map[string]any) *RewriteResult {
	t.Helper()
	ch := loadTestChart(t, files)
	found, err := Extract(testRender(t, ch, values), ch)
	if err != nil {
		t.Fatal(err)
	}
	var raws []string
	for _, f := range found {
		raws = append(raws, f.Ref.String())
	}
	var layers []map[string]any
	if values != nil {
		layers = append(layers, values)
	}
	res, err := RewriteChart(context.Background(), RewriteInput{Chart: ch, Images: testMappings(t, raws, testLayout), Found: found,
		Render: RenderOptions{Release: "rel", Namespace: "ns", KubeVersion: "1.33.0", Values: layers}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestVerifyConsumerRenderAfterTemplateEdit: with a template edited, the original chart
// with the consumer overrides is rendered beside the packaged chart, and the image only
// the template edit reaches is reported public in that render, and in that render only.
func TestVerifyConsumerRenderAfterTemplateEdit(t *testing.T) {
	res := verifyRewrite(t, verifyChart, nil)
	if len(res.Plan.TemplateEdits) != 1 {
		t.Fatalf("template edits %+v, want the sidecar's", res.Plan.TemplateEdits)
	}
	if len(res.Public) != 1 || res.Public[0].Render != RenderConsumer || res.Public[0].Image.String() != "quay.io/org/sidecar:2.0" {
		t.Fatalf("public %+v, want only quay.io/org/sidecar:2.0 in the %s render", res.Public, RenderConsumer)
	}
	if res.Renders < 2 {
		t.Errorf("%d renders, want the packaged and the consumer render at least", res.Renders)
	}
	if len(res.Uses) != 2 {
		t.Errorf("uses %v, want both destinations", res.Uses)
	}
}

// TestVerifySkipsConsumerRenderWithSameValues: with values edits only, the consumer
// render would see the packaged render's values, so one render verifies both.
func TestVerifySkipsConsumerRenderWithSameValues(t *testing.T) {
	files := map[string]string{}
	for k, v := range verifyChart {
		if k != "templates/sidecar.yaml" {
			files[k] = v
		}
	}
	res := verifyRewrite(t, files, nil)
	if len(res.Public) != 0 {
		t.Fatalf("public %+v, want none", res.Public)
	}
	if res.Renders != 1 {
		t.Errorf("%d renders, want 1 (the consumer render sees the same values)", res.Renders)
	}
}

// TestVerifyConsumerRenderWithUserKeys: a key the addon's values set and the rewrite
// changes makes the consumer render needed (the key-name plan does not see the addon's
// value, so probing finds it); both renders are private.
func TestVerifyConsumerRenderWithUserKeys(t *testing.T) {
	files := map[string]string{}
	for k, v := range verifyChart {
		if k != "templates/sidecar.yaml" {
			files[k] = v
		}
	}
	res := verifyRewrite(t, files, map[string]any{"image": map[string]any{"repository": "quay.io/org/other"}})
	if len(res.Public) != 0 {
		t.Fatalf("public %+v, want none", res.Public)
	}
	if len(res.UserKeys) != 1 || res.UserKeys[0] != "image.repository" {
		t.Errorf("user keys %v, want image.repository", res.UserKeys)
	}
	if res.Renders < 2 {
		t.Errorf("%d renders, want the packaged and the consumer render at least", res.Renders)
	}
}
