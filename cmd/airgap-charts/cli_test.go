package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry"
)

// TestHelpListsEverySyncFlag: `airgap-charts --help` documents the whole sync interface.
func TestHelpListsEverySyncFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--help"}, &stdout, &stderr, func(string) string { return "" })
	if code != exitOK {
		t.Fatalf("--help exit %d; stderr:\n%s", code, stderr.String())
	}
	help := stdout.String()
	for _, flag := range []string{
		"--values", "--catalog", "--latest", "--scan-only", "--push-images", "--target-registry", "--target-prefix",
		"--public-ecr-password", "--private-ecr-password", "--include-dependencies", "--exclude-dependencies",
		"--platform", "--dockerhub-username", "--dockerhub-token", "--[no-]skip-existing", "--verify-existing-digest",
		"--overwrite-existing", "--only-addon", "--exclude-addons", "--concurrency", "--chart-concurrency",
		"--rate-limit", "--registry-mirror", "--repo-mirror", "--insecure-registry", "--overrides", "--output-dir",
		"--report", "--kube-version", "--target-kind", "--log-format", "--log-level", "--[no-]ecr-create-repositories",
		"--ecr-immutable-tags", "--ecr-scan-on-push", "--ecr-kms-key", "--ecr-lifecycle-policy", "--ecr-put-image-rate",
		"--ecr-layer-upload-rate", "ECR_PUBLIC_PASSWORD", "ECR_PRIVATE_PASSWORD", "DOCKERHUB_USERNAME", "DOCKERHUB_TOKEN",
		"sync", "catalog", "demo", "version",
	} {
		if !strings.Contains(help, flag) {
			t.Errorf("--help does not mention %s", flag)
		}
	}
}

// TestSecretsNeverPrinted: passwords and tokens, from flags or the environment, appear in
// no output of help, of a usage error, of a failed run or of debug logs.
func TestSecretsNeverPrinted(t *testing.T) {
	secrets := map[string]string{
		"ECR_PUBLIC_PASSWORD":  "env-public-S3CRET",
		"ECR_PRIVATE_PASSWORD": "env-private-S3CRET",
		"DOCKERHUB_USERNAME":   "dh-user",
		"DOCKERHUB_TOKEN":      "env-dockerhub-S3CRET",
		"REPO_PASSWORD":        "env-repo-S3CRET",
	}
	flagSecrets := []string{"--private-ecr-password", "flag-private-S3CRET", "--public-ecr-password", "flag-public-S3CRET", "--dockerhub-token", "flag-dockerhub-S3CRET"}
	dir := inTempDir(t, map[string]string{
		"values.yaml": "addons:\n  - chart: loki\n    repository: http://127.0.0.1:1/charts\n    version: 6.6.0\n    passwordEnv: REPO_PASSWORD\n    password: literal-S3CRET\n",
	})
	cases := [][]string{
		{"--help"},
		{"sync", "--help"},
		append([]string{"--values", "values.yaml", "--platform", "windows/amd64"}, flagSecrets...),                 // usage error
		append([]string{"--values", "absent.yaml"}, flagSecrets...),                                                // input error
		append([]string{"--values", "values.yaml", "--private-ecr-password"}, "--public-ecr-password=flag-S3CRET"), // odd flag use
		append([]string{"--log-level", "debug", "--log-format", "console", "--values", "values.yaml", "--scan-only", // run to the engine and fail
			"--target-registry", "127.0.0.1:1", "--output-dir", filepath.Join(dir, "out")}, flagSecrets...),
		{"--log-level", "debug", "--values", "values.yaml", "--scan-only", "--target-registry", "127.0.0.1:1", "--output-dir", filepath.Join(dir, "out")},
	}
	secretRE := regexp.MustCompile(`S3CRET`)
	ran := 0
	for _, args := range cases {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr, func(k string) string { return secrets[k] })
		if strings.Contains(strings.Join(args, " "), "--scan-only") {
			ran++
			if code != exitFailed {
				t.Errorf("%v: exit %d, want %d (the mirror cannot reach 127.0.0.1:1); stderr:\n%s", args, code, exitFailed, stderr.String())
			}
			if stderr.Len() == 0 {
				t.Errorf("%v: a failed run printed nothing", args)
			}
		}
		for name, text := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String()} {
			if loc := secretRE.FindStringIndex(text); loc != nil {
				t.Errorf("%v: a secret appears in %s: ...%s...", args, name, text[max(0, loc[0]-60):min(len(text), loc[1]+20)])
			}
		}
	}
	if ran != 2 {
		t.Fatalf("ran %d failing syncs, want 2", ran)
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"version"}, &stdout, &stderr, os.Getenv); code != exitOK {
		t.Fatalf("version exit %d: %s", code, stderr.String())
	}
	if out := stdout.String(); !strings.HasPrefix(out, "airgap-charts ") || !strings.Contains(out, runtime.Version()) {
		t.Fatalf("version printed %q; want the module and Go versions", out)
	}
}

func TestVersionLine(t *testing.T) {
	goPart := " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	for _, c := range []struct {
		in   registry.BuildInfo
		want string
	}{
		{registry.BuildInfo{Version: "v1.2.3"}, "airgap-charts v1.2.3" + goPart},
		{registry.BuildInfo{Version: "v0.0.0-20261201095412-0123456789ab+dirty", Revision: "0123456789abcdef0123", Modified: true},
			"airgap-charts v0.0.0-20261201095412-0123456789ab+dirty (commit 0123456789ab, modified)" + goPart},
		{registry.BuildInfo{Version: "0123456789ab", Revision: "0123456789abcdef0123"}, "airgap-charts 0123456789ab (commit 0123456789ab)" + goPart},
	} {
		if got := versionLine(c.in); got != c.want {
			t.Errorf("versionLine(%+v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestDemoIsRegistered(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"demo", "--help"}, &stdout, &stderr, os.Getenv); code != exitOK {
		t.Fatalf("demo --help exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "Usage: airgap-charts demo") {
		t.Fatalf("demo --help printed %q", stdout.String())
	}
}
