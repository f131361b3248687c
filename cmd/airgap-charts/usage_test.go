package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/engine"
)

// TestUsageAndInputErrors: every bad flag or bad input ends with a clear message on
// stderr, exit code 2, the engine never started and nothing written.
func TestUsageAndInputErrors(t *testing.T) {
	good := "addons:\n  - chart: loki\n    repository: https://grafana.github.io/helm-charts\n    version: 6.6.0\n    release: loki\n"
	files := map[string]string{
		"values.yaml":    good,
		"catalog-a.yaml": good,
		"catalog-b.yaml": "addons:\n  - chart: promtail\n    repository: https://grafana.github.io/helm-charts\n    release: loki\n",
		"malformed.yaml": "addons:\n  - chart: loki\n   repository: https://x.example.com\n",
		"nochart.yaml":   "addons:\n  - repository: https://x.example.com\n    version: 1.0.0\n    release: r1\n",
		"norepo.yaml":    "addons:\n  - chart: loki\n    version: 1.0.0\n",
		"scheme.yaml":    "addons:\n  - chart: loki\n    repository: s3://bucket/charts\n",
		"version.yaml":   "addons:\n  - chart: loki\n    repository: https://x.example.com\n    version: newest\n",
		"pwenv.yaml":     "addons:\n  - chart: loki\n    repository: https://x.example.com\n    passwordEnv: LOKI_REPO_PASSWORD\n",
		"policy.json":    "{not json",
		"adir/keep":      "",
	}
	cases := []struct {
		name string
		args []string
		want string // the whole error line after "airgap-charts: error: "
	}{
		{"values with catalog", []string{"--values", "values.yaml", "--catalog", "catalog-a.yaml"}, "--values and --catalog cannot be used together: choose one input mode (see airgap-charts --help)"},
		{"neither values nor catalog", []string{"--scan-only"}, "one of --values or --catalog is required (see airgap-charts --help)"},
		{"missing values file", []string{"--values", "absent.yaml"}, "absent.yaml: values file does not exist"},
		{"directory as values file", []string{"sync", "--values", "adir"}, "adir: is a directory, not a values file"},
		{"missing catalog file", []string{"--catalog", "catalog-a.yaml,absent.yaml"}, "absent.yaml: catalog file does not exist"},
		{"directory as catalog file", []string{"--catalog", "adir"}, "adir: is a directory, not a catalog file"},
		{"platform without arch", []string{"--values", "values.yaml", "--platform", "linux/amd64,linux"}, `--platform "linux/amd64,linux": want auto, OS/ARCH[/VARIANT] (e.g. linux/amd64) or a comma-separated list of them (see airgap-charts --help)`},
		{"platform-missing skip with auto", []string{"--values", "values.yaml", "--platform-missing", "skip"}, "--platform-missing skip needs --platform OS/ARCH or a list: auto copies every platform an image has (see airgap-charts --help)"},
		{"max-per-host zero", []string{"--values", "values.yaml", "--max-per-host", "docker.io=0"}, `--max-per-host "docker.io=0": N must be a positive whole number, not "0" (want N or HOST=N, e.g. docker.io=4) (see airgap-charts --help)`},
		{"scan-only with push-images", []string{"--values", "values.yaml", "--scan-only", "--push-images"}, "--scan-only and --push-images cannot be used together (see airgap-charts --help)"},
		{"include with exclude dependencies", []string{"--values", "values.yaml", "--include-dependencies", "--exclude-dependencies"}, "--include-dependencies and --exclude-dependencies cannot be used together (see airgap-charts --help)"},
		{"push-rate-limit without period", []string{"--values", "values.yaml", "--push-rate-limit", "reg.example.com=10"}, `--push-rate-limit "reg.example.com=10": missing /PERIOD (want HOST=N/PERIOD, e.g. registry.example.com=10/1s) (see airgap-charts --help)`},
		{"upload-rate-limit bad count", []string{"--values", "values.yaml", "--upload-rate-limit", "reg.example.com=0/1s"}, `--upload-rate-limit "reg.example.com=0/1s": N must be a positive whole number, not "0" (want HOST=N/PERIOD, e.g. registry.example.com=100/1s) (see airgap-charts --help)`},
		{"rate-limit without host", []string{"--values", "values.yaml", "--rate-limit", "100/6h"}, `--rate-limit "100/6h": missing HOST= (want HOST=N/PERIOD, e.g. docker.io=100/6h) (see airgap-charts --help)`},
		{"rate-limit without period", []string{"--values", "values.yaml", "--rate-limit", "docker.io=100"}, `--rate-limit "docker.io=100": missing /PERIOD (want HOST=N/PERIOD, e.g. docker.io=100/6h) (see airgap-charts --help)`},
		{"rate-limit bad count", []string{"--values", "values.yaml", "--rate-limit", "docker.io=many/6h"}, `--rate-limit "docker.io=many/6h": N must be a positive whole number, not "many" (want HOST=N/PERIOD, e.g. docker.io=100/6h) (see airgap-charts --help)`},
		{"rate-limit bad period", []string{"--values", "values.yaml", "--rate-limit", "docker.io=100/6y"}, `--rate-limit "docker.io=100/6y": PERIOD "6y" is not a duration (e.g. 1s, 6h, 1d) (want HOST=N/PERIOD, e.g. docker.io=100/6h) (see airgap-charts --help)`},
		{"registry-mirror without mirror", []string{"--values", "values.yaml", "--registry-mirror", "docker.io"}, `--registry-mirror "docker.io": missing HOST= (want HOST=MIRROR[/path], e.g. docker.io=127.0.0.1:5001/docker.io) (see airgap-charts --help)`},
		{"registry-mirror with scheme", []string{"--values", "values.yaml", "--registry-mirror", "docker.io=https://mirror.example.com"}, `--registry-mirror "docker.io=https://mirror.example.com": MIRROR is a registry host[:port][/path], without a scheme (want HOST=MIRROR[/path], e.g. docker.io=127.0.0.1:5001/docker.io) (see airgap-charts --help)`},
		{"mirror-complete without its mirror", []string{"--values", "values.yaml", "--registry-mirror", "docker.io=mirror.example", "--mirror-complete", "quay.io"}, `--mirror-complete "quay.io": no --registry-mirror quay.io=MIRROR is given (see airgap-charts --help)`},
		{"registry-mirror bad port", []string{"--values", "values.yaml", "--registry-mirror", "docker.io=mirror:99999/x"}, `--registry-mirror "docker.io=mirror:99999/x": MIRROR: "mirror:99999" is not a host[:port] (want HOST=MIRROR[/path], e.g. docker.io=127.0.0.1:5001/docker.io) (see airgap-charts --help)`},
		{"repo-mirror without target", []string{"--values", "values.yaml", "--repo-mirror", "https://charts.example.com"}, `--repo-mirror "https://charts.example.com": missing =URL (want URL=URL, e.g. https://charts.example.com=http://127.0.0.1:8080/charts) (see airgap-charts --help)`},
		{"repo-mirror without scheme", []string{"--values", "values.yaml", "--repo-mirror", "https://charts.example.com=mirror.local/charts"}, `--repo-mirror "https://charts.example.com=mirror.local/charts": repository "mirror.local/charts" has no scheme; use http://, https:// or oci:// (want URL=URL, e.g. https://charts.example.com=http://127.0.0.1:8080/charts) (see airgap-charts --help)`},
		{"malformed YAML", []string{"--values", "malformed.yaml"}, "malformed.yaml:3:4: malformed YAML: value is not allowed in this context"},
		{"addon without chart", []string{"--values", "nochart.yaml"}, `nochart.yaml:2: addon "r1": missing chart`},
		{"addon without repository", []string{"--values", "norepo.yaml"}, `norepo.yaml:2: addon "loki": missing repository`},
		{"repository scheme", []string{"--values", "scheme.yaml"}, `scheme.yaml:3: addon "loki": repository "s3://bucket/charts" has scheme "s3"; use http://, https:// or oci://`},
		{"version neither version nor range", []string{"--values", "version.yaml"}, `version.yaml:4: addon "loki": version "newest" is neither a version nor a semver range`},
		{"same release across catalogs", []string{"--catalog", "catalog-a.yaml", "--catalog", "catalog-b.yaml"}, `catalog-b.yaml:2: release "loki" is declared twice: catalog-a.yaml:2 and catalog-b.yaml:2`},
		{"password_env unset", []string{"--values", "pwenv.yaml"}, `pwenv.yaml:2: addon "loki": password_env LOKI_REPO_PASSWORD is not set`},
		{"overrides file missing", []string{"--values", "values.yaml", "--overrides", "absent-overrides.yaml"}, "absent-overrides.yaml: overrides file does not exist"},
		{"filters leave nothing", []string{"--values", "values.yaml", "--only-addon", "tempo"}, `no addon left to process after --only-addon "tempo" / --exclude-addons "" (see airgap-charts --help)`},
		{"concurrency zero", []string{"--values", "values.yaml", "--concurrency", "0"}, "--concurrency must be at least 1, not 0 (see airgap-charts --help)"},
		{"target-kind", []string{"--values", "values.yaml", "--target-kind", "gcr"}, `--target-kind must be one of "auto","ecr","oci" but got "gcr" (see airgap-charts --help)`},
		{"kube-version", []string{"--values", "values.yaml", "--kube-version", "latest"}, `--kube-version "latest" is not a version (e.g. 1.33.0) (see airgap-charts --help)`},
		{"target-registry with scheme", []string{"--values", "values.yaml", "--target-registry", "https://r.example.com"}, `--target-registry "https://r.example.com": give a registry host without a scheme (see airgap-charts --help)`},
		{"insecure-registry path", []string{"--values", "values.yaml", "--insecure-registry", "r.example.com/x"}, `--insecure-registry: "r.example.com/x" is not a host[:port] (see airgap-charts --help)`},
		{"lifecycle policy not JSON", []string{"--values", "values.yaml", "--ecr-lifecycle-policy", "policy.json"}, "policy.json: lifecycle policy is not valid JSON"},
		{"lifecycle policy missing", []string{"--values", "values.yaml", "--ecr-lifecycle-policy", "absent.json"}, "absent.json: lifecycle policy file does not exist"},
		{"referrers", []string{"--values", "values.yaml", "--referrers", "sboms"}, `--referrers must be one of "all","signatures","none" but got "sboms" (see airgap-charts --help)`},
		{"referrers-type with none", []string{"--values", "values.yaml", "--referrers", "none", "--referrers-type", "application/spdx+json"}, "--referrers-type needs --referrers all or signatures, not none (see airgap-charts --help)"},
		{"verify key missing", []string{"--values", "values.yaml", "--verify-signatures", "absent.pub"}, "absent.pub: --verify-signatures key file does not exist"},
		{"log-format", []string{"--values", "values.yaml", "--log-format", "xml"}, `--log-format must be one of "auto","console","json" but got "xml" (see airgap-charts --help)`},
		{"unknown flag", []string{"--values", "values.yaml", "--scan-onyl"}, `unknown flag --scan-onyl, did you mean "--scan-only"? (see airgap-charts --help)`},
		{"catalog without values", []string{"catalog", "--out", "c.yaml"}, "missing flags: --values=FILE (see airgap-charts --help)"},
		{"catalog out is a directory", []string{"catalog", "--values", "values.yaml", "--out", "adir"}, "adir: is a directory, not a catalog file"},
		{"catalog of malformed values", []string{"catalog", "--values", "malformed.yaml", "--out", "c.yaml"}, "malformed.yaml:3:4: malformed YAML: value is not allowed in this context"},
		{"catalog filters leave nothing", []string{"catalog", "--values", "values.yaml", "--out", "c.yaml", "--exclude-addons", "LOKI"}, `no addon left after --only-addon "" / --exclude-addons "LOKI" (see airgap-charts --help)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := inTempDir(t, files)
			before := listTree(t, dir)
			out := invoke(t, append(tc.args, "--output-dir", "out", "--report", "report.json"), nil, func(engine.Options) (*engine.Report, error) {
				t.Error("the engine ran despite bad input")
				return nil, nil
			})
			if tc.args[0] == "catalog" {
				out = invoke(t, tc.args, nil, nil)
			}
			if out.code != exitUsage {
				t.Errorf("exit code %d, want %d; stderr:\n%s", out.code, exitUsage, out.stderr)
			}
			lines := strings.Split(strings.TrimSpace(out.stderr), "\n")
			if got := lines[len(lines)-1]; got != "airgap-charts: error: "+tc.want {
				t.Errorf("stderr last line:\n got %s\nwant airgap-charts: error: %s", got, tc.want)
			}
			if out.stdout != "" {
				t.Errorf("stdout not empty: %q", out.stdout)
			}
			if after := listTree(t, dir); !reflect.DeepEqual(after, before) {
				t.Errorf("files changed: before %v, after %v", before, after)
			}
		})
	}
}
