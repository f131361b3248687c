package main

import (
	"bytes"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/engine"
)

// parseOnly parses args as the binary does, with env as the environment, and returns
// the parsed command line.
func parseOnly(t *testing.T, args []string, env map[string]string) *app {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, env: func(k string) string { return env[k] }}
	p, err := a.parser()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse(args); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return a
}

// TestFlagGroupsFromEnvironment: export and import take the flags they share with sync
// from the same variables as sync does (AIRGAP_CHARTS_* and the credential variables),
// and import's lock defaults to its output directory.
func TestFlagGroupsFromEnvironment(t *testing.T) {
	env := map[string]string{
		"AIRGAP_CHARTS_VALUES":            "in/values.yaml",
		"AIRGAP_CHARTS_CONCURRENCY":       "3",
		"AIRGAP_CHARTS_INSECURE_REGISTRY": "127.0.0.1:5001",
		"AIRGAP_CHARTS_KUBE_VERSION":      "1.30.2",
		"AIRGAP_CHARTS_TARGET_REGISTRY":   "harbor.example.com",
		"AIRGAP_CHARTS_OUTPUT_DIR":        "out",
		"AIRGAP_CHARTS_SKIP_EXISTING":     "false",
		"AIRGAP_CHARTS_PUSH_RATE_LIMIT":   "harbor.example.com=10/1s",
		"ECR_PUBLIC_PASSWORD":             "pub-token-1",
		"DOCKERHUB_USERNAME":              "dh-user",
		"DOCKERHUB_TOKEN":                 "dh-token-1",
		"ECR_PRIVATE_PASSWORD":            "priv-token-1",
	}
	lookup := func(k string) string { return env[k] }

	a := parseOnly(t, []string{"export", "--to", "bundle"}, env)
	eo, _, err := a.cli.Export.options(lookup)
	if err != nil {
		t.Fatal(err)
	}
	if eo.Concurrency != 3 || eo.KubeVersion != "1.30.2" || !reflect.DeepEqual(eo.InsecureRegistry, []string{"127.0.0.1:5001"}) ||
		eo.PublicECRPassword != "pub-token-1" || eo.DockerHubUsername != "dh-user" || eo.DockerHubToken != "dh-token-1" ||
		a.cli.Export.Values != "in/values.yaml" || eo.OutputDir != "bundle" || !eo.IncludeDeps {
		t.Errorf("export options from the environment: %+v", eo)
	}

	a = parseOnly(t, []string{"import", "--from", "bundle"}, env)
	io, err := a.cli.Import.options(lookup)
	if err != nil {
		t.Fatal(err)
	}
	if io.Concurrency != 3 || io.TargetRegistry != "harbor.example.com" || io.OutputDir != "out" || io.SkipExisting ||
		io.PrivateECRPassword != "priv-token-1" || len(io.PushLimits) != 1 || io.PushLimits[0].N != 10 ||
		io.LockFile != filepath.Join("out", engine.LockFileName) {
		t.Errorf("import options from the environment: %+v", io)
	}
	a = parseOnly(t, []string{"import", "--from", "bundle", "--lock", "elsewhere.lock.yaml"}, env)
	if io, _ = a.cli.Import.options(lookup); io.LockFile != "elsewhere.lock.yaml" {
		t.Errorf("import --lock: lock file %q", io.LockFile)
	}

	a = parseOnly(t, []string{"plan"}, env)
	po, _, err := a.cli.Plan.options(lookup)
	if err != nil {
		t.Fatal(err)
	}
	if po.Concurrency != 3 || po.TargetRegistry != "harbor.example.com" || po.PublicECRPassword != "pub-token-1" ||
		po.PrivateECRPassword != "priv-token-1" || po.LockFile != filepath.Join("in", engine.LockFileName) {
		t.Errorf("plan options from the environment: %+v", po)
	}
}

// TestCommandsEmbedOnlyTheirGroups: export takes no destination flag (nor a key to verify
// with), import no source input flag, and plan every flag of sync; shared flags keep each
// command's wording.
func TestCommandsEmbedOnlyTheirGroups(t *testing.T) {
	help := func(cmd string) string {
		var stdout, stderr bytes.Buffer
		if code := run([]string{cmd, "--help"}, &stdout, &stderr, func(string) string { return "" }); code != exitOK {
			t.Fatalf("%s --help: exit %d: %s", cmd, code, stderr.String())
		}
		return strings.Join(strings.Fields(stdout.String()), " ")
	}
	sync, plan, export, imp := help("sync"), help("plan"), help("export"), help("import")
	for _, f := range []string{"--target-registry", "--skip-existing", "--ecr-kms-key", "--push-rate-limit", "--max-per-host", "--lock=", "--locked", "--verify-signatures", "--scan-only"} {
		if strings.Contains(export, f) {
			t.Errorf("export --help lists %s", f)
		}
	}
	for _, f := range []string{"--values", "--catalog", "--only-addon", "--kube-version", "--rate-limit", "--registry-mirror", "--dockerhub-token", "--locked", "--platform"} {
		if strings.Contains(imp, f) {
			t.Errorf("import --help lists %s", f)
		}
	}
	for _, f := range regexp.MustCompile(`--[a-z][a-z0-9-]*`).FindAllString(sync, -1) {
		if !strings.Contains(plan, f) {
			t.Errorf("plan --help lacks sync's %s", f)
		}
	}
	for _, c := range []struct{ name, help, want string }{
		{"sync", sync, "Image copy workers (default: "},
		{"export", export, "Image manifest reads at once (default: "},
		{"export", export, "What travels with each image: all its referrers"},
		{"export", export, "--platform-missing"},
		{"import", imp, "each image's signature that travelled in the bundle must verify"},
		{"import", imp, "Where repacked charts and consumer overrides are written (default: ./helm-charts)"},
		{"import", imp, "Create missing ECR repositories (default: true) ($AIRGAP_CHARTS_ECR_CREATE_REPOSITORIES"},
	} {
		if !strings.Contains(c.help, c.want) {
			t.Errorf("%s --help lacks %q", c.name, c.want)
		}
	}
}
