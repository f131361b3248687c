package stages

import (
	"bytes"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart"
)

func rawFile(c *chart.Chart, name string) []byte {
	for _, f := range c.Raw {
		if f.Name == name {
			return f.Data
		}
	}
	return nil
}

func topLevelKeys(t *testing.T, data []byte) []string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := 0; i < len(doc.Content[0].Content); i += 2 {
		keys = append(keys, doc.Content[0].Content[i].Value)
	}
	return keys
}

// TestApplyRewriteKeepsValuesFile: on argo-cd the values.yaml keeps its comments, its key
// order and every line but the edited ones; Chart.yaml is untouched; ch.Values follows.
func TestApplyRewriteKeepsValuesFile(t *testing.T) {
	ch := testLoadCorpusChart(t, "argo-cd")
	origValues := append([]byte{}, rawFile(ch, "values.yaml")...)
	origChart := append([]byte{}, rawFile(ch, "Chart.yaml")...)
	version := ch.Metadata.Version
	plan, err := PlanRewrite(ch, testMappings(t, testExpectedImages(t, "argo-cd"), testLayout))
	if err != nil {
		t.Fatal(err)
	}
	if err := ApplyRewrite(ch, plan); err != nil {
		t.Fatal(err)
	}
	got := rawFile(ch, "values.yaml")
	const comment = "# -- If defined, a repository applied to all Argo CD deployments"
	if !bytes.Contains(origValues, []byte(comment)) || !bytes.Contains(got, []byte(comment)) {
		t.Errorf("comment %q lost", comment)
	}
	if a, b := strings.Join(topLevelKeys(t, origValues), ","), strings.Join(topLevelKeys(t, got), ","); a != b {
		t.Errorf("key order changed:\n%s\n%s", a, b)
	}
	before, after := strings.Split(string(origValues), "\n"), strings.Split(string(got), "\n")
	if len(before) != len(after) {
		t.Fatalf("line count %d → %d", len(before), len(after))
	}
	changed := 0
	for i := range before {
		if before[i] != after[i] {
			changed++
			if !strings.Contains(after[i], testLayout.Registry) {
				t.Errorf("line %d changed without the private registry: %q", i+1, after[i])
			}
		}
	}
	if changed != len(plan.ValueEdits) || changed == 0 {
		t.Errorf("%d lines changed for %d edits", changed, len(plan.ValueEdits))
	}
	if !bytes.Equal(rawFile(ch, "Chart.yaml"), origChart) || ch.Metadata.Version != version {
		t.Error("Chart.yaml or version changed")
	}
	repo := lookupPath(ch.Values, []string{"global", "image", "repository"})
	if repo != testLayout.Registry+"/team-a/argoproj/argocd" {
		t.Errorf("ch.Values global.image.repository = %v", repo)
	}
}

// TestEditValuesYAML covers the scalar styles edited in place and the re-encoding
// fallback for a value that has no place in the text yet.
func TestEditValuesYAML(t *testing.T) {
	const doc = `# head comment
a:
  plain: quay.io/x/y   # trailing
  double: "quay.io/x/y"
  single: 'quay.io/x/y'
  empty:  # left to the template
  list:
    - keep
    - quay.io/x/y
flow: {repo: quay.io/x/y}
z: last
`
	cases := []struct {
		path []string
		want string // a line the result must hold
	}{
		{[]string{"a", "plain"}, "  plain: reg.example/m/x/y   # trailing"},
		{[]string{"a", "double"}, `  double: "reg.example/m/x/y"`},
		{[]string{"a", "single"}, `  single: 'reg.example/m/x/y'`},
		{[]string{"a", "empty"}, "  empty: reg.example/m/x/y  # left to the template"},
		{[]string{"a", "list", "1"}, "    - reg.example/m/x/y"},
	}
	for _, c := range cases {
		out, err := editValuesYAML([]byte(doc), []ValueEdit{{Path: c.path, New: "reg.example/m/x/y"}})
		if err != nil {
			t.Fatalf("%v: %v", c.path, err)
		}
		if !strings.Contains(string(out), c.want+"\n") {
			t.Errorf("%v: result lacks %q:\n%s", c.path, c.want, out)
		}
		if strings.Count(string(out), "\n") != strings.Count(doc, "\n") {
			t.Errorf("%v: line count changed:\n%s", c.path, out)
		}
	}
	// A flow map and a missing key cannot be edited in place: the node tree is re-encoded,
	// and comments and order survive that as well.
	out, err := editValuesYAML([]byte(doc), []ValueEdit{
		{Path: []string{"flow", "repo"}, New: "reg.example/m/x/y"},
		{Path: []string{"a", "added", "registry"}, New: "reg.example"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# head comment", "# trailing", "reg.example/m/x/y", "registry: reg.example"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("re-encoded result lacks %q:\n%s", want, out)
		}
	}
	if keys := strings.Join(topLevelKeys(t, out), ","); keys != "a,flow,z" {
		t.Errorf("key order after re-encoding: %s", keys)
	}
	// A value that YAML would read as a number is quoted.
	out, err = editValuesYAML([]byte(doc), []ValueEdit{{Path: []string{"a", "plain"}, New: "1.10"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `plain: "1.10"`) {
		t.Errorf("number-like value not quoted:\n%s", out)
	}
}
