package main

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/config"
)

// TestCatalogFromReferenceExample: `airgap-charts catalog` turns the reference README's
// "Example Inputs" values.yaml into its catalog schema.
func TestCatalogFromReferenceExample(t *testing.T) {
	inTempDir(t, map[string]string{"values.yaml": exampleValues})
	out := invoke(t, []string{"catalog", "--values", "values.yaml", "--out", "catalog.yaml"}, nil, nil)
	if out.code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", out.code, out.stderr)
	}
	got, err := os.ReadFile("catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != exampleCatalog {
		t.Fatalf("catalog.yaml:\n%s\nwant:\n%s", got, exampleCatalog)
	}
	if out.engineCalls != 0 {
		t.Errorf("catalog ran the engine")
	}

	// Without --out the catalog goes to stdout.
	out = invoke(t, []string{"catalog", "--values", "values.yaml"}, nil, nil)
	if out.code != exitOK || out.stdout != exampleCatalog {
		t.Fatalf("catalog to stdout: exit %d, stdout:\n%s", out.code, out.stdout)
	}
}

// TestCatalogFeedsSync: the catalog written from a values file, read back with --catalog,
// gives the engine the same addons as the values file did.
func TestCatalogFeedsSync(t *testing.T) {
	inTempDir(t, map[string]string{"values.yaml": `platform:
  tempo:
    chart: grafana/tempo
    repoURL: https://grafana.github.io/helm-charts
    targetRevision: ">=1.10.0 <2.0.0"
    releaseName: traces
    namespace: monitoring
    helm:
      values: |
        tempo:
          retention: 24h
  karpenter:
    chart: karpenter
    repoUrl: oci://public.ecr.aws/karpenter
    version: 1.0.6
  unused:
    chart: kyverno
    repository: https://kyverno.github.io/kyverno
`})
	if out := invoke(t, []string{"catalog", "--values", "values.yaml", "--out", "catalog.yaml", "--exclude-addons", "Kyverno"}, nil, nil); out.code != exitOK {
		t.Fatalf("catalog exit %d; stderr:\n%s", out.code, out.stderr)
	}
	fromValues := invoke(t, []string{"--values", "values.yaml", "--exclude-addons", "kyverno"}, nil, nil)
	fromCatalog := invoke(t, []string{"--catalog", "catalog.yaml"}, nil, nil)
	if fromValues.code != exitOK || fromCatalog.code != exitOK {
		t.Fatalf("sync exits %d and %d; stderr:\n%s\n%s", fromValues.code, fromCatalog.code, fromValues.stderr, fromCatalog.stderr)
	}
	strip := func(as []config.Addon) []config.Addon {
		out := append([]config.Addon(nil), as...)
		for i := range out {
			out[i].Source = config.Position{}
		}
		return out
	}
	if a, b := strip(fromValues.opts.Addons), strip(fromCatalog.opts.Addons); !reflect.DeepEqual(a, b) || len(a) != 2 {
		t.Fatalf("addons differ:\nvalues  %#v\ncatalog %#v", a, b)
	}
	if got := fromCatalog.opts.Addons[0].Values["tempo"]; !reflect.DeepEqual(got, map[string]any{"retention": "24h"}) {
		t.Errorf("tempo values through the catalog: %#v", got)
	}
}

func TestCatalogWarnsAboutUnmatchedNames(t *testing.T) {
	inTempDir(t, map[string]string{"values.yaml": exampleValues})
	out := invoke(t, []string{"catalog", "--values", "values.yaml", "--only-addon", "loki,alb", "--log-format", "console"}, nil, nil)
	if out.code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", out.code, out.stderr)
	}
	if !strings.Contains(out.stderr, `--only-addon "alb" matches no addon (values mode matches chart names)`) {
		t.Errorf("no warning naming alb; stderr:\n%s", out.stderr)
	}
	if !strings.Contains(out.stdout, "chart: loki") || strings.Contains(out.stdout, "aws-load-balancer-controller") {
		t.Errorf("catalog kept the wrong addons:\n%s", out.stdout)
	}
}
