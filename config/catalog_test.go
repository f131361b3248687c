package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestMarshalCatalogExampleInputs(t *testing.T) {
	p := writeFile(t, t.TempDir(), "values.yaml", exampleValues)
	addons, err := LoadValues(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := MarshalCatalog(addons)
	if err != nil {
		t.Fatal(err)
	}
	want := `addons:
  - chart: loki
    repository: oci://ghcr.io/grafana/helm-charts
    oci_namespace: grafana
    version: 6.6.0
    release: loki
  - chart: aws-load-balancer-controller
    repository: https://aws.github.io/eks-charts
    oci_namespace: ""
    version: 1.7.2
    release: alb
`
	if string(got) != want {
		t.Fatalf("catalog:\n%s\nwant:\n%s", got, want)
	}
}

func TestCatalogRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := []Addon{
		{Chart: "loki", Repository: "oci://ghcr.io/grafana/helm-charts", OCINamespace: "grafana", Version: "6.6.0", Release: "loki"},
		{Chart: "argo-cd", Repository: "https://argoproj.github.io/argo-helm", Version: "^8.0", Release: "argocd", Namespace: "gitops",
			Values: map[string]any{"global": map[string]any{"domain": "argo.example.com"}, "replicas": 2, "tags": []any{"a", "b"}, "on": true, "ratio": 0.5}},
		{Chart: "private", Repository: "https://charts.internal.example.com", Version: "1.0", Release: "private-1",
			Username: "robot", Password: "s3cr3t-never-written", PasswordEnv: "PRIVATE_CHARTS_PASSWORD"},
	}
	p := filepath.Join(dir, "catalog.yaml")
	if err := WriteCatalog(p, in); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "s3cr3t") {
		t.Fatalf("catalog contains the password:\n%s", raw)
	}
	out, err := LoadCatalogs([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	lines := []int{2, 7, 22}
	for i := range in {
		want := in[i]
		want.Password = ""
		want.Source = Position{File: p, Line: lines[i]}
		if !reflect.DeepEqual(out[i], want) {
			t.Errorf("addon %d after round trip:\n got %#v\nwant %#v", i, out[i], want)
		}
	}
	if len(out) != len(in) {
		t.Fatalf("got %d addons, want %d", len(out), len(in))
	}
	// Writing what was loaded yields the same file.
	again, err := MarshalCatalog(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(raw) {
		t.Errorf("second write differs:\n%s\nfirst:\n%s", again, raw)
	}
}

func TestLoadCatalogsMergesInOrder(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.yaml", "addons:\n  - chart: loki\n    repository: oci://ghcr.io/grafana/helm-charts\n    oci_namespace: grafana\n    version: 6.6.0\n    release: loki\n")
	b := writeFile(t, dir, "b.yaml", "addons:\n  - chart: karpenter\n    repository: oci://public.ecr.aws/karpenter\n    version: 1.0.6\n    release: karpenter\n  - chart: grafana/tempo\n    repository: https://grafana.github.io/helm-charts\n    release: traces\n")
	empty := writeFile(t, dir, "empty.yaml", "addons: []\n")
	got, err := LoadCatalogs([]string{a, b, empty, a})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ad := range got {
		names = append(names, ad.OCINamespace+"/"+ad.Chart+"@"+ad.Release+"="+ad.Source.String())
	}
	want := []string{"grafana/loki@loki=" + a + ":2", "/karpenter@karpenter=" + b + ":2", "grafana/tempo@traces=" + b + ":6"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("merged:\n got %v\nwant %v", names, want)
	}
}

func TestLoadCatalogsInputErrors(t *testing.T) {
	dir := t.TempDir()
	first := writeFile(t, dir, "first.yaml", "addons:\n  - chart: loki\n    repository: https://grafana.github.io/helm-charts\n    release: logs\n")
	cases := []struct {
		name, content, want string
	}{
		{"dup-across", "addons:\n  - chart: other\n    repository: https://x.example.com\n    release: logs\n",
			`dup-across.yaml:2: release "logs" is declared twice: ` + first + `:2 and ` + filepath.Join(dir, "dup-across.yaml") + `:2`},
		{"unknown-key", "addons:\n  - chart: a\n    repository: https://x.example.com\n    verison: 1.0.0\n",
			`unknown-key.yaml:4: addon "a": unknown key "verison" (catalog keys: chart, repository, oci_namespace, version, release, namespace, values, username, password_env)`},
		{"no-addons", "charts:\n  - chart: a\n", "no-addons.yaml:1: a catalog needs an `addons:` list"},
		{"no-repo", "addons:\n  - chart: a\n    release: a1\n", `no-repo.yaml:2: addon "a1": missing repository`},
		{"bad-version", "addons:\n  - chart: a\n    repository: oci://r.example.com/c\n    version: one\n", `bad-version.yaml:4: addon "a": version "one" is neither a version nor a semver range`},
		{"malformed", "addons:\n  - chart: a\n  repository: [\n", `malformed.yaml:3:3: malformed YAML: `},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, tc.name+".yaml", tc.content)
			_, err := LoadCatalogs([]string{first, p})
			if err == nil {
				t.Fatal("LoadCatalogs succeeded; want an error")
			}
			if !IsInputError(err) {
				t.Errorf("error %T is not an *InputError", err)
			}
			want := dir + string(filepath.Separator) + tc.want
			if tc.name == "malformed" {
				if !strings.HasPrefix(err.Error(), want) {
					t.Errorf("error:\n got %s\nwant prefix %s", err, want)
				}
				return
			}
			if err.Error() != want {
				t.Errorf("error:\n got %s\nwant %s", err, want)
			}
		})
	}
	t.Run("same release twice in one catalog", func(t *testing.T) {
		p := writeFile(t, dir, "twice.yaml", "addons:\n  - chart: a\n    repository: https://x.example.com\n  - chart: a\n    repository: https://y.example.com\n")
		_, err := LoadCatalogs([]string{p})
		want := `release "a" is declared twice: ` + p + `:2 and ` + p + `:4`
		if err == nil || !strings.HasSuffix(err.Error(), want) {
			t.Fatalf("error %v, want suffix %s", err, want)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := LoadCatalogs([]string{first, filepath.Join(dir, "absent.yaml")})
		if want := filepath.Join(dir, "absent.yaml") + ": catalog file does not exist"; err == nil || err.Error() != want {
			t.Fatalf("error %v, want %s", err, want)
		}
	})
	t.Run("directory", func(t *testing.T) {
		_, err := LoadCatalogs([]string{dir})
		if want := dir + ": is a directory, not a catalog file"; err == nil || err.Error() != want {
			t.Fatalf("error %v, want %s", err, want)
		}
	})
}
