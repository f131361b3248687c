package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// exampleValues is the reference README's "Example Inputs" values.yaml, verbatim.
const exampleValues = `addons:
  - chart: grafana/loki          # becomes oci_namespace=grafana, chart=loki
    repository: oci://ghcr.io/grafana/helm-charts
    version: 6.6.0
    release: loki
  - chart: aws-load-balancer-controller
    repository: https://aws.github.io/eks-charts
    targetRevision: 1.7.2
    release: alb
`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadValuesExampleInputs(t *testing.T) {
	p := writeFile(t, t.TempDir(), "values.yaml", exampleValues)
	got, err := LoadValues(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []Addon{
		{Chart: "loki", Repository: "oci://ghcr.io/grafana/helm-charts", OCINamespace: "grafana", Version: "6.6.0", Release: "loki", Source: Position{p, 2}},
		{Chart: "aws-load-balancer-controller", Repository: "https://aws.github.io/eks-charts", Version: "1.7.2", Release: "alb", Source: Position{p, 6}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LoadValues:\n got %#v\nwant %#v", got, want)
	}
}

func TestLoadValuesProbeNestedShapes(t *testing.T) {
	p := writeFile(t, t.TempDir(), "values.yaml", `
global:
  clusterName: prod
defaults: &defaults
  repoUrl: https://charts.example.com
platform:
  observability:
    tempo:
      enabled: true
      chart: grafana/tempo
      repoURL: https://grafana.github.io/helm-charts
      targetRevision: "^1.10"
      releaseName: traces
      namespace: monitoring
      values:
        replicas: 2
        image:
          repository: not-an-addon/only-a-repository
      helm:
        values: |
          replicas: 3
          storage:
            backend: s3
        valuesObject:
          storage:
            bucket: b1
  nginx:
    <<: *defaults
    chart: ingress-nginx
    version: v4.11.3
list:
  - chart: karpenter
    repository: oci://public.ecr.aws/karpenter
    version: 1.0.6
`)
	got, err := LoadValues(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []Addon{
		{
			Chart: "tempo", OCINamespace: "grafana", Repository: "https://grafana.github.io/helm-charts",
			Version: "^1.10", Release: "traces", Namespace: "monitoring",
			Values: map[string]any{
				"replicas": 3,
				"image":    map[string]any{"repository": "not-an-addon/only-a-repository"},
				"storage":  map[string]any{"backend": "s3", "bucket": "b1"},
			},
			Source: Position{p, 9},
		},
		{Chart: "ingress-nginx", Repository: "https://charts.example.com", Version: "v4.11.3", Release: "ingress-nginx", Source: Position{p, 28}},
		{Chart: "karpenter", Repository: "oci://public.ecr.aws/karpenter", Version: "1.0.6", Release: "karpenter", Source: Position{p, 32}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LoadValues:\n got %#v\nwant %#v", got, want)
	}
}

func TestLoadValuesArgoCDApplications(t *testing.T) {
	p := writeFile(t, t.TempDir(), "apps.yaml", `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: external-dns
spec:
  destination:
    namespace: dns
  source:
    repoURL: https://kubernetes-sigs.github.io/external-dns
    chart: external-dns
    targetRevision: 1.15.0
    helm:
      values: |
        provider:
          name: aws
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: cert-manager
spec:
  destination:
    namespace: cert-manager
  sources:
    - repoURL: https://github.com/example/config.git
      ref: values
    - repoURL: https://charts.jetstack.io
      chart: cert-manager
      targetRevision: v1.16.1
      helm:
        releaseName: certs
        valuesObject:
          crds:
            enabled: true
`)
	got, err := LoadValues(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []Addon{
		{
			Chart: "external-dns", Repository: "https://kubernetes-sigs.github.io/external-dns", Version: "1.15.0",
			Release: "external-dns", Namespace: "dns", Values: map[string]any{"provider": map[string]any{"name": "aws"}},
			Source: Position{p, 9},
		},
		{
			Chart: "cert-manager", Repository: "https://charts.jetstack.io", Version: "v1.16.1",
			Release: "certs", Namespace: "cert-manager", Values: map[string]any{"crds": map[string]any{"enabled": true}},
			Source: Position{p, 27},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LoadValues:\n got %#v\nwant %#v", got, want)
	}
}

func TestCheckVersion(t *testing.T) {
	for _, v := range []string{"", "6.6.0", "v1.2.3", "1.2", "^1.2", "~6.6", ">=1.0.0 <2.0.0", "*", "1.x", "1.0.0-rc.1+build.5"} {
		if msg := CheckVersion(v); msg != "" {
			t.Errorf("CheckVersion(%q) = %q, want accepted", v, msg)
		}
	}
	for _, v := range []string{"latest", "main", "1.2.3.4", "v"} {
		if msg := CheckVersion(v); msg == "" {
			t.Errorf("CheckVersion(%q) accepted, want rejected", v)
		}
	}
}

func TestLoadValuesInputErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, content, want string
		file                string // when set, load this path instead of the written file
	}{
		{name: "malformed", content: "addons:\n  - chart: a\n   repository: https://x\n", want: "malformed.yaml:3:4: malformed YAML: value is not allowed in this context"},
		{name: "unclosed", content: "addons:\n  - chart: \"a\n", want: "unclosed.yaml:2:12: malformed YAML: could not find end character of double-quoted text"},
		{name: "nochart", content: "addons:\n  - chart: a\n    repository: https://x\n  - repository: https://y\n    version: 1.0.0\n    release: r2\n",
			want: `nochart.yaml:4: addon "r2": missing chart`},
		{name: "norepo", content: "addons:\n  - chart: loki\n    version: 1.0.0\n", want: `norepo.yaml:2: addon "loki": missing repository`},
		{name: "empty-item", content: "addons:\n  - {}\n", want: `empty-item.yaml:2: addon #1: missing chart and repository`},
		{name: "probe-norepo", content: "x:\n  y:\n    chart: loki\n    version: 1.0.0\n    releaseName: logs\n", want: `probe-norepo.yaml:3: addon "logs": missing repository`},
		{name: "scheme", content: "addons:\n  - chart: a\n    repository: ftp://charts.example.com\n", want: `scheme.yaml:3: addon "a": repository "ftp://charts.example.com" has scheme "ftp"; use http://, https:// or oci://`},
		{name: "noscheme", content: "addons:\n  - chart: a\n    repository: ghcr.io/x\n", want: `noscheme.yaml:3: addon "a": repository "ghcr.io/x" has no scheme; use http://, https:// or oci://`},
		{name: "version", content: "addons:\n  - chart: a\n    repository: https://x\n    version: latest-stable\n", want: `version.yaml:4: addon "a": version "latest-stable" is neither a version nor a semver range`},
		{name: "listchart", content: "addons:\n  - chart: [a]\n    repository: https://x\n", want: `listchart.yaml:2: addon #1: chart must be a single value, not a list or mapping`},
		{name: "badvalues", content: "addons:\n  - chart: a\n    repository: https://x\n    helm:\n      values: |\n        a: 1\n        b: [\n", want: `badvalues.yaml:7:12: addon "a": values: malformed YAML: sequence end token ']' not found`},
		{name: "scalarvalues", content: "addons:\n  - chart: a\n    repository: https://x\n    values: 3\n", want: `scalarvalues.yaml:4: addon "a": values must be a mapping or a string of YAML`},
		{name: "nothing", content: "foo: bar\n", want: "nothing.yaml: no addons found: expected an `addons:` list, or maps carrying chart and repository (repoUrl/repoURL)"},
		{name: "missing", file: filepath.Join(dir, "nope.yaml"), want: filepath.Join(dir, "nope.yaml") + ": values file does not exist"},
		{name: "dir", file: filepath.Join(dir, "adir"), want: filepath.Join(dir, "adir") + ": is a directory, not a values file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.file
			if p == "" {
				p = writeFile(t, dir, tc.name+".yaml", tc.content)
			}
			_, err := LoadValues(p)
			if err == nil {
				t.Fatal("LoadValues succeeded; want an error")
			}
			if !IsInputError(err) {
				t.Errorf("error %T is not an *InputError", err)
			}
			want := tc.want
			if tc.file == "" {
				want = dir + string(filepath.Separator) + tc.want
			}
			if err.Error() != want {
				t.Errorf("error:\n got %s\nwant %s", err, want)
			}
		})
	}
}
