package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/engine"
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

// exampleCatalog is what `airgap-charts catalog` makes of exampleValues.
const exampleCatalog = `addons:
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

// outcome is what one CLI invocation did.
type outcome struct {
	code           int
	stdout, stderr string
	engineCalls    int
	opts           engine.Options // what the engine was given (last call)
}

// invoke runs the CLI in process with env as the whole environment; engineRun answers
// for the engine (nil: an engine that records its options and succeeds).
func invoke(t *testing.T, args []string, env map[string]string, engineRun func(engine.Options) (*engine.Report, error)) outcome {
	t.Helper()
	var out outcome
	var stdout, stderr bytes.Buffer
	a := &app{
		stdout: &stdout,
		stderr: &stderr,
		env:    func(k string) string { return env[k] },
		runEngine: func(ctx context.Context, o engine.Options, log *zap.Logger) (*engine.Report, error) {
			if ctx == nil || log == nil {
				t.Error("engine called without a context or a logger")
			}
			out.engineCalls++
			out.opts = o
			if engineRun != nil {
				return engineRun(o)
			}
			r := &engine.Report{}
			for _, ad := range o.Addons {
				r.Addons = append(r.Addons, &engine.AddonReport{Addon: ad.Name(), Chart: ad.Chart, Version: ad.Version, Status: "SUCCESS"})
			}
			return r, nil
		},
	}
	out.code = a.main(args)
	out.stdout, out.stderr = stdout.String(), stderr.String()
	return out
}

// inTempDir makes a fresh working directory for the test and writes files into it.
func inTempDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// listTree lists every path under dir, relative, sorted.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(dir, p); rel != "." {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}
