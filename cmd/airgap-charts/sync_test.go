package main

import (
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/engine"
	"github.com/airgap-charts/airgap-charts/registry"
)

func TestSyncDefaultsAndDefaultCommand(t *testing.T) {
	for _, args := range [][]string{
		{"--values", "values.yaml"},         // no command: sync is the default
		{"sync", "--values", "values.yaml"}, // named
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			dir := inTempDir(t, map[string]string{"values.yaml": exampleValues})
			out := invoke(t, args, nil, nil)
			if out.code != exitOK || out.engineCalls != 1 {
				t.Fatalf("exit %d, engine calls %d; stderr:\n%s", out.code, out.engineCalls, out.stderr)
			}
			want := engine.Options{
				Addons: []config.Addon{
					{Chart: "loki", Repository: "oci://ghcr.io/grafana/helm-charts", OCINamespace: "grafana", Version: "6.6.0", Release: "loki", Source: config.Position{File: "values.yaml", Line: 2}},
					{Chart: "aws-load-balancer-controller", Repository: "https://aws.github.io/eks-charts", Version: "1.7.2", Release: "alb", Source: config.Position{File: "values.yaml", Line: 6}},
				},
				TargetKind:       "auto",
				IncludeDeps:      true,
				Platform:         registry.PlatformAuto,
				SkipExisting:     true,
				Concurrency:      8,
				ChartConcurrency: runtime.NumCPU(),
				RegistryMirrors:  map[string]string{},
				RepoMirrors:      map[string]string{},
				OutputDir:        "./helm-charts",
				LockFile:         "airgap-charts.lock.yaml",
				KubeVersion:      "1.33.0",
				RequestTimeout:   time.Minute,
				StallTimeout:     time.Minute,
				Retries:          5,
				Referrers:        "all",
				OnBudget:         "fail",
				ECR:              engine.ECROptions{CreateRepositories: true, PutImageRate: 10, LayerUploadRate: 100},
				InputAddons:      []string{"loki", "alb"},
				CommandLine:      args,
			}
			if !reflect.DeepEqual(out.opts, want) {
				t.Fatalf("options:\n got %#v\nwant %#v", out.opts, want)
			}
			if tree := listTree(t, dir); !reflect.DeepEqual(tree, []string{"values.yaml"}) {
				t.Errorf("the CLI itself wrote files: %v", tree)
			}
		})
	}
}

func TestSyncEveryFlagReachesTheEngine(t *testing.T) {
	inTempDir(t, map[string]string{
		"a.yaml": "addons:\n  - chart: loki\n    repository: oci://ghcr.io/grafana/helm-charts\n    oci_namespace: grafana\n    version: 6.6.0\n    release: logs\n" +
			"  - chart: karpenter\n    repository: oci://public.ecr.aws/karpenter\n    version: 1.0.6\n    release: karpenter\n",
		"b.yaml":                      "addons:\n  - chart: argo-cd\n    repository: https://argoproj.github.io/argo-helm\n    version: 8.0.10\n    release: argocd\n    username: robot\n    password_env: ARGO_REPO_PASSWORD\n",
		"c.yaml":                      "addons:\n  - chart: kyverno\n    repository: https://kyverno.github.io/kyverno\n    release: kyverno\n",
		"chart-overrides.yaml":        "overrides:\n  karpenter:\n    settings:\n      clusterName: my-eks\npublic_images:\n  loki:\n    - quay.io/org/img\n",
		"policy.json":                 `{"rules": []}`,
		"ca.pem":                      testCAPEM(t),
		"cosign.pub":                  "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n",
		"certs.d/harbor.local/ca.crt": testCAPEM(t),
	})
	args := []string{
		"sync", "--catalog", "a.yaml", "--catalog", "b.yaml,c.yaml",
		"--only-addon", "LOGS,karpenter,argocd", "--exclude-addons", "karpenter,unknown",
		"--latest", "--scan-only", "--exclude-dependencies", "--platform", "linux/arm64",
		"--target-registry", "111122223333.dkr.ecr.us-east-1.amazonaws.com", "--target-prefix", "/team/x/", "--chart-prefix", "/charts/x/", "--target-kind", "ecr",
		"--no-skip-existing", "--verify-existing-digest", "--overwrite-existing",
		"--private-ecr-password", "flag-private",
		"--dockerhub-username", "dh-user",
		"--concurrency", "16", "--chart-concurrency", "3",
		"--rate-limit", "docker.io=100/6h", "--rate-limit", "ghcr.io=50/1d", "--rate-limit", "quay.io=5/s",
		"--push-rate-limit", "harbor.local=10/1s", "--upload-rate-limit", "harbor.local=100/1s",
		"--registry-mirror", "docker.io=127.0.0.1:5001/docker.io/", "--registry-mirror", "ghcr.io=mirror.local",
		"--repo-mirror", "https://argoproj.github.io/argo-helm/=http://127.0.0.1:8080/argo?token=a=b",
		"--repo-mirror", "https://kyverno.github.io/kyverno=https://m:mirror-pw@mirror.local/kyverno/",
		"--insecure-registry", "127.0.0.1:5001,mirror.local", "--insecure-registry", "[::1]:5000",
		"--ca-file", "ca.pem", "--certs-dir", "certs.d", "--on-budget", "wait", "--request-timeout", "90s", "--stall-timeout", "2m", "--retries", "0",
		"--output-dir", "out", "--report", "report.json", "--kube-version", "v1.31.2", "--allow-public-images", "--prune",
		"--no-ecr-create-repositories", "--ecr-immutable-tags", "--ecr-scan-on-push",
		"--ecr-kms-key", "arn:aws:kms:us-east-1:111122223333:key/abcd", "--ecr-lifecycle-policy", "policy.json",
		"--ecr-put-image-rate", "5", "--ecr-layer-upload-rate", "50.5",
		"--referrers", "signatures", "--referrers-type", "application/vnd.dev.sigstore.bundle.v0.3+json",
		"--referrers-type", "application/vnd.cncf.notary.signature", "--verify-signatures", "cosign.pub",
		"--lock", "locks/nightly.lock.yaml", "--locked", "--update-lock", "--pin-digests",
		"--log-level", "debug", "--log-format", "json",
	}
	env := map[string]string{
		"ECR_PUBLIC_PASSWORD":  "env-public",
		"ECR_PRIVATE_PASSWORD": "env-private", // the flag wins
		"DOCKERHUB_TOKEN":      "env-dh-token",
		"ARGO_REPO_PASSWORD":   "argo-pass",
	}
	out := invoke(t, args, env, nil)
	if out.code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", out.code, out.stderr)
	}
	want := engine.Options{
		Addons: []config.Addon{
			{Chart: "loki", Repository: "oci://ghcr.io/grafana/helm-charts", OCINamespace: "grafana", Version: "6.6.0", Release: "logs", Source: config.Position{File: "a.yaml", Line: 2}},
			{Chart: "argo-cd", Repository: "https://argoproj.github.io/argo-helm", Version: "8.0.10", Release: "argocd", Username: "robot", Password: "argo-pass", PasswordEnv: "ARGO_REPO_PASSWORD", Source: config.Position{File: "b.yaml", Line: 2}},
		},
		Overrides:         config.Overrides{"karpenter": {"settings": map[string]any{"clusterName": "my-eks"}}},
		AllowPublicImages: true,
		PublicImages: config.PublicImages{"loki": {{Ref: "quay.io/org/img", Name: "quay.io/org/img",
			Pos: config.Position{File: "chart-overrides.yaml", Line: 7}}}},
		Latest:             true,
		ScanOnly:           true,
		TargetRegistry:     "111122223333.dkr.ecr.us-east-1.amazonaws.com",
		TargetPrefix:       "team/x",
		ChartPrefix:        "charts/x",
		TargetKind:         "ecr",
		IncludeDeps:        false,
		Platform:           registry.MustParsePlatform("linux/arm64"),
		SkipExisting:       false,
		VerifyDigest:       true,
		OverwriteDigest:    true,
		PublicECRPassword:  "env-public",
		PrivateECRPassword: "flag-private",
		DockerHubUsername:  "dh-user",
		DockerHubToken:     "env-dh-token",
		Concurrency:        16,
		ChartConcurrency:   3,
		RateLimits: []engine.RateLimit{
			{Host: "docker.io", N: 100, Period: 6 * time.Hour},
			{Host: "ghcr.io", N: 50, Period: 24 * time.Hour},
			{Host: "quay.io", N: 5, Period: time.Second},
		},
		PushLimits:      []engine.RateLimit{{Host: "harbor.local", N: 10, Period: time.Second}},
		UploadLimits:    []engine.RateLimit{{Host: "harbor.local", N: 100, Period: time.Second}},
		RegistryMirrors: map[string]string{"docker.io": "127.0.0.1:5001/docker.io", "ghcr.io": "mirror.local"},
		RepoMirrors: map[string]string{"https://argoproj.github.io/argo-helm": "http://127.0.0.1:8080/argo?token=a=b",
			"https://kyverno.github.io/kyverno": "https://mirror.local/kyverno"},
		RepoMirrorCredentials: map[string]engine.Credential{"https://mirror.local/kyverno": {Username: "m", Password: "mirror-pw"}},
		InsecureRegistry:      []string{"127.0.0.1:5001", "mirror.local", "[::1]:5000"},
		CAFile:                "ca.pem",
		CertsDir:              "certs.d",
		OnBudget:              "wait",
		RequestTimeout:        90 * time.Second,
		StallTimeout:          2 * time.Minute,
		Retries:               -1,
		OutputDir:             "out",
		ReportFile:            "report.json",
		LockFile:              "locks/nightly.lock.yaml",
		Locked:                true,
		UpdateLock:            true,
		PinDigests:            true,
		Prune:                 true,
		InputAddons:           []string{"logs", "karpenter", "argocd", "kyverno"},
		KubeVersion:           "v1.31.2",
		Referrers:             "signatures",
		ReferrerTypes:         []string{"application/vnd.dev.sigstore.bundle.v0.3+json", "application/vnd.cncf.notary.signature"},
		VerifyKeys:            []string{"cosign.pub"},
		ECR: engine.ECROptions{
			CreateRepositories:  false,
			ImmutableTags:       true,
			ScanOnPush:          true,
			KMSKey:              "arn:aws:kms:us-east-1:111122223333:key/abcd",
			LifecyclePolicyFile: "policy.json",
			PutImageRate:        5,
			LayerUploadRate:     50.5,
		},
	}
	// The report's command line: every argument, secrets and URL passwords redacted.
	wantLine := make([]string, len(args))
	for i, a := range args {
		switch {
		case i > 0 && args[i-1] == "--private-ecr-password":
			a = "[redacted]"
		case strings.Contains(a, "m:mirror-pw@"):
			a = strings.Replace(a, "m:mirror-pw@", "", 1)
		}
		wantLine[i] = a
	}
	if got := strings.Join(out.opts.CommandLine, " "); strings.Contains(got, "flag-private") || strings.Contains(got, "mirror-pw") {
		t.Errorf("command line holds a secret: %s", got)
	}
	want.CommandLine = wantLine
	if !reflect.DeepEqual(out.opts, want) {
		t.Fatalf("options:\n got %#v\nwant %#v", out.opts, want)
	}
	if !strings.Contains(out.stderr, `--exclude-addons \"unknown\" matches no addon (catalog mode matches release names)`) {
		t.Errorf("no warning for the unmatched filter name; stderr:\n%s", out.stderr)
	}
}

func TestSyncPushIsTheDefault(t *testing.T) {
	inTempDir(t, map[string]string{"values.yaml": exampleValues})
	for _, tc := range []struct {
		args     []string
		scanOnly bool
	}{{nil, false}, {[]string{"--push-images"}, false}, {[]string{"--scan-only"}, true}} {
		out := invoke(t, append([]string{"--values", "values.yaml"}, tc.args...), nil, nil)
		if out.code != exitOK || out.opts.ScanOnly != tc.scanOnly {
			t.Errorf("%v: exit %d, ScanOnly %v; want 0, %v", tc.args, out.code, out.opts.ScanOnly, tc.scanOnly)
		}
	}
}

func TestSyncExitCodes(t *testing.T) {
	inTempDir(t, map[string]string{"values.yaml": exampleValues})
	cases := []struct {
		name      string
		engine    func(engine.Options) (*engine.Report, error)
		code      int
		logSubstr string
	}{
		{"all succeeded", nil, exitOK, `"msg":"sync starting"`},
		{"one addon failed", func(o engine.Options) (*engine.Report, error) {
			return &engine.Report{Addons: []*engine.AddonReport{
				{Addon: "loki", Status: "SUCCESS"}, {Addon: "alb", Status: "ERROR", Error: "boom"},
			}}, nil
		}, exitFailed, `"msg":"sync finished with failures","failed":1,"incomplete":0,"addons":2`},
		{"one addon incomplete", func(o engine.Options) (*engine.Report, error) {
			return &engine.Report{Addons: []*engine.AddonReport{
				{Addon: "loki", Status: engine.StatusSuccess}, {Addon: "alb", Status: engine.StatusIncomplete, Stage: "verify",
					PublicImages: []engine.PublicImage{{Image: "quay.io/org/img:1", Render: "packaged"}}},
			}}, nil
		}, exitFailed, `"msg":"sync finished with failures","failed":0,"incomplete":1,"addons":2`},
		{"destination unreachable", func(o engine.Options) (*engine.Report, error) {
			return &engine.Report{Addons: []*engine.AddonReport{{Addon: "alb", Status: engine.StatusError, Error: "down"}},
				Unreachable: map[string]int{"127.0.0.1:5000": 2}}, nil
		}, exitNoRun, `"msg":"could not run: host unreachable","host":"127.0.0.1:5000","images_not_copied":2`},
		{"run could not start", func(o engine.Options) (*engine.Report, error) {
			return nil, errors.New("no destination registry")
		}, exitFailed, "airgap-charts: error: sync: no destination registry"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := invoke(t, []string{"--values", "values.yaml", "--log-format", "json"}, nil, tc.engine)
			if out.code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", out.code, tc.code, out.stderr)
			}
			if !strings.Contains(out.stderr, tc.logSubstr) {
				t.Errorf("stderr lacks %q:\n%s", tc.logSubstr, out.stderr)
			}
		})
	}
}

func TestSyncReadsDefaultOverridesOnlyWhenPresent(t *testing.T) {
	inTempDir(t, map[string]string{"values.yaml": exampleValues})
	out := invoke(t, []string{"--values", "values.yaml"}, nil, nil)
	if out.code != exitOK || out.opts.Overrides != nil {
		t.Fatalf("without chart-overrides.yaml: exit %d, overrides %v", out.code, out.opts.Overrides)
	}
	inTempDir(t, map[string]string{
		"values.yaml":          exampleValues,
		"custom.yaml":          "overrides:\n  loki:\n    deploymentMode: SingleBinary\n",
		"chart-overrides.yaml": "overrides:\n  loki:\n    deploymentMode: Distributed\n",
	})
	out = invoke(t, []string{"--values", "values.yaml"}, nil, nil)
	if got := out.opts.Overrides["loki"]["deploymentMode"]; got != "Distributed" {
		t.Errorf("default overrides file: deploymentMode = %v", got)
	}
	out = invoke(t, []string{"--values", "values.yaml", "--overrides", "custom.yaml"}, nil, nil)
	if got := out.opts.Overrides["loki"]["deploymentMode"]; got != "SingleBinary" {
		t.Errorf("--overrides custom.yaml: deploymentMode = %v", got)
	}
}

// testCAPEM is a PEM certificate (httptest's), as --ca-file wants.
func testCAPEM(t *testing.T) string {
	t.Helper()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
}
