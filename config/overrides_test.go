package config

import (
	"path/filepath"
	"reflect"
	"testing"
)

func TestLoadChartOverridesReferenceExample(t *testing.T) {
	p := writeFile(t, t.TempDir(), "chart-overrides.yaml", `overrides:
  karpenter:
    settings:
      clusterName: my-eks
      clusterEndpoint: https://ABCD.gr7.eks.amazonaws.com
  kyverno:
    openreports:
      installCrds: false
      enabled: false
  empty:
`)
	co, err := LoadChartOverrides(p)
	got := co.Values
	if err != nil {
		t.Fatal(err)
	}
	want := Overrides{
		"karpenter": {"settings": map[string]any{"clusterName": "my-eks", "clusterEndpoint": "https://ABCD.gr7.eks.amazonaws.com"}},
		"kyverno":   {"openreports": map[string]any{"installCrds": false, "enabled": false}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("overrides:\n got %#v\nwant %#v", got, want)
	}
}

func TestLoadChartOverridesEmptyFile(t *testing.T) {
	p := writeFile(t, t.TempDir(), "chart-overrides.yaml", "# nothing yet\n")
	co, err := LoadChartOverrides(p)
	got := co.Values
	if err != nil || len(got) != 0 {
		t.Fatalf("LoadChartOverrides = %v, %v; want empty, nil", got, err)
	}
}

func TestLoadChartOverridesInputErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ name, content, want string }{
		{"unknown-key", "override:\n  a: {}\n", `unknown-key.yaml:1: unknown key "override" (chart-overrides.yaml holds ` + "`overrides:` and `public_images:`)"},
		{"not-a-map", "overrides:\n  - a\n", "not-a-map.yaml:2: overrides must map chart names to values"},
		{"chart-scalar", "overrides:\n  karpenter: true\n", `chart-scalar.yaml:2: overrides for chart "karpenter" must be a mapping of values`},
		{"malformed", "overrides:\n  a: {b: 1\n", "malformed.yaml:2:6: malformed YAML: could not find flow mapping end token '}'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadChartOverrides(writeFile(t, dir, tc.name+".yaml", tc.content))
			want := dir + string(filepath.Separator) + tc.want
			if err == nil || err.Error() != want || !IsInputError(err) {
				t.Fatalf("error %v, want InputError %s", err, want)
			}
		})
	}
	_, err := LoadChartOverrides(filepath.Join(dir, "absent.yaml"))
	if want := filepath.Join(dir, "absent.yaml") + ": overrides file does not exist"; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
}
