package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/engine"
)

// TestLockDefaultPath: the lock goes beside the first input file, values or catalog.
func TestLockDefaultPath(t *testing.T) {
	inTempDir(t, map[string]string{"in/values.yaml": exampleValues, "cat/a.yaml": exampleCatalog, "cat/b.yaml": "addons: []\n"})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--values", "in/values.yaml"}, filepath.Join("in", engine.LockFileName)},
		{[]string{"--catalog", "cat/a.yaml,cat/b.yaml"}, filepath.Join("cat", engine.LockFileName)},
		{[]string{"--values", "in/values.yaml", "--lock", "elsewhere.lock"}, "elsewhere.lock"},
	} {
		out := invoke(t, append([]string{"sync"}, tc.args...), nil, nil)
		if out.code != exitOK || out.opts.LockFile != tc.want {
			t.Errorf("%v: exit %d, lock %q; want 0, %q (stderr %s)", tc.args, out.code, out.opts.LockFile, tc.want, out.stderr)
		}
	}
}

// TestLockFlagErrors: --update-lock alone is a usage error; a lock from a newer schema
// stops the run before it contacts anything, exit 2, naming the file.
func TestLockFlagErrors(t *testing.T) {
	dir := inTempDir(t, map[string]string{
		"values.yaml":       "addons:\n  - chart: web\n    repository: http://127.0.0.1:1/charts\n    version: 1.0.0\n",
		engine.LockFileName: fmt.Sprintf("schema_version: %d\ninputs: sha256:00\naddons: []\n", engine.LockSchemaVersion+1),
	})
	out := invoke(t, []string{"sync", "--values", "values.yaml", "--update-lock"}, nil, nil)
	if out.code != exitUsage || out.engineCalls != 0 || !strings.Contains(out.stderr, "--update-lock needs --locked") {
		t.Errorf("--update-lock alone: exit %d, engine calls %d; stderr:\n%s", out.code, out.engineCalls, out.stderr)
	}
	realEngine := func(o engine.Options) (*engine.Report, error) { return engine.Run(context.Background(), o, nil) }
	for _, extra := range [][]string{nil, {"--locked"}} {
		args := append([]string{"sync", "--values", "values.yaml", "--target-registry", "127.0.0.1:1", "--target-kind", "oci",
			"--insecure-registry", "127.0.0.1:1", "--output-dir", "out"}, extra...)
		out = invoke(t, args, nil, realEngine)
		if out.code != exitUsage {
			t.Errorf("%v: exit %d, want %d; stderr:\n%s", extra, out.code, exitUsage, out.stderr)
		}
		if !strings.Contains(out.stderr, engine.LockFileName) || !strings.Contains(out.stderr, fmt.Sprintf("newer airgap-charts (lock schema %d", engine.LockSchemaVersion+1)) {
			t.Errorf("%v: the error does not name the lock and its schema:\n%s", extra, out.stderr)
		}
	}
	if tree := listTree(t, dir); strings.Join(tree, " ") != engine.LockFileName+" values.yaml" {
		t.Errorf("a refused run wrote files: %v", tree)
	}
}
