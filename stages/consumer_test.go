package stages

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"
)

// TestConsumerOverridesShapes: the overrides hold only image keys, the subchart's under its
// alias, a list whole with its edited element; the original chart rendered with them pulls
// every value-driven image from the mirror. Images hard-coded in templates cannot be
// overridden by values: they stay public there (the packaged chart rewrites them).
func TestConsumerOverridesShapes(t *testing.T) {
	ch := loadTestChart(t, shapesChartFiles)
	mappings := testMappings(t, shapesSources, testLayout)
	plan, err := PlanRewrite(ch, mappings)
	if err != nil {
		t.Fatal(err)
	}
	ov := ConsumerOverrides(ch, plan)
	host := testLayout.Registry
	if got := lookupPath(ov, []string{"backend", "image", "registry"}); got != host {
		t.Errorf("backend.image.registry = %v, want %s (subchart under its alias)", got, host)
	}
	if _, ok := ov["sub"]; ok {
		t.Error("subchart values under its chart name instead of its alias")
	}
	wantArgs := []any{"--sidecar-image=" + host + "/team-a/org/sidecar:v9", "--verbose"}
	if got := ov["args"]; !reflect.DeepEqual(got, wantArgs) {
		t.Errorf("args = %#v, want %#v", got, wantArgs)
	}
	if _, ok := ov["global"]; ok {
		t.Error("the empty global registry appears in the overrides")
	}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		if m, ok := v.(map[string]any); ok {
			for k, e := range m {
				walk(e, path+"."+k)
			}
			return
		}
		if _, isList := v.([]any); isList {
			return
		}
		if s, _ := v.(string); !strings.Contains(s, host) && !strings.HasPrefix(s, "team-a/") {
			t.Errorf("override %s = %v is not an image value", path, v)
		}
	}
	walk(ov, "")

	file := filepath.Join(t.TempDir(), "out", "shapes", "values.yaml")
	if err := WriteConsumerOverrides(file, ov); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]any{}
	if err := sigsyaml.Unmarshal(data, &read); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(read, ov) {
		t.Errorf("file reads back as %v, want %v", read, ov)
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Errorf("write left %d files", len(entries))
	}

	images, _ := testRenderImages(t, loadTestChart(t, shapesChartFiles), ov)
	public := map[string]bool{}
	for _, img := range images {
		if !strings.HasPrefix(img, host+"/team-a/") {
			public[img] = true
		}
	}
	want := map[string]bool{"docker.io/library/busybox:1.36": true, "quay.io/org/hardhost:1.0.0": true,
		"quay.io/org/fileimg:v5": true}
	if !reflect.DeepEqual(public, want) {
		t.Errorf("public images with overrides = %v, want only the hard-coded %v", public, want)
	}
}
