package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airgap-charts/airgap-charts/engine"
	"github.com/airgap-charts/airgap-charts/engine/reporttest"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// writeChart writes a chart of ours whose one Deployment runs image.
func writeChart(t *testing.T, dir, chart, image string) string {
	t.Helper()
	d := filepath.Join(dir, chart)
	files := map[string]string{
		"Chart.yaml":            "apiVersion: v2\nname: " + chart + "\nversion: 0.1.0\n",
		"values.yaml":           "image: " + image + "\n",
		"templates/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: {{ .Values.image }}\n",
	}
	for n, c := range files {
		p := filepath.Join(d, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// basicOrMode makes reg ask for user:pass, or answer every request 401 (mode 1) or 503
// (mode 2).
func basicOrMode(reg *registrytest.Registry, user, pass string, mode *atomic.Int32) {
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		switch mode.Load() {
		case 1:
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return true
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		if u, p, ok := r.BasicAuth(); ok && u == user && p == pass {
			return false
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return true
	})
}

// TestSecretsNeverWrittenWhateverTheOutcome passes secrets every way there is (flags, the
// environment, password_env, user:pass@ of HTTP and OCI repository URLs, Docker's
// config.json, AWS's environment) through runs that succeed, draw 401s and draw 5xx, and
// looks for each in everything the runs wrote: stdout, stderr (the JSON debug log),
// report.json and every file of the output directory.
func TestSecretsNeverWrittenWhateverTheOutcome(t *testing.T) {
	var mode atomic.Int32
	src, dst, oci := registrytest.New(t), registrytest.New(t), registrytest.New(t)
	image := src.Host + "/team/app:1.0"
	tag, _ := name.NewTag(image, name.Insecure)
	img, _ := random.Image(1024, 2)
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	dir := inTempDir(t, nil)
	web := chartrepotest.NewHTTPRepo(t, writeChart(t, filepath.Join(dir, "src"), "web", image))
	api := chartrepotest.NewHTTPRepo(t, writeChart(t, filepath.Join(dir, "src"), "api", image))
	chartrepotest.PushOCI(t, oci, "charts", writeChart(t, filepath.Join(dir, "src"), "job", image))

	secrets := map[string]string{
		"flag dockerhub token": "FLAGtok-S3CRET", "flag private ECR": "FLAGpriv-S3CRET",
		"env public ECR": "ENVpub-S3CRET", "password_env": "APIpw-S3CRET",
		"HTTP URL password": "WEBpw-S3CRET", "OCI URL password": "OCIpw-S3CRET",
		"docker config source": "CFGsrc-S3CRET", "docker config destination": "CFGdst-S3CRET",
		"AWS secret key": "AWSsecret-S3CRET", "AWS session token": "AWSsession-S3CRET",
	}
	cfgAuth := func(u, p string) string { return base64.StdEncoding.EncodeToString([]byte(u + ":" + p)) }
	secrets["docker config auth (base64)"] = cfgAuth("cfg", secrets["docker config source"])
	web.RequireBasicAuth("webuser", secrets["HTTP URL password"])
	api.RequireBasicAuth("apiuser", secrets["password_env"])
	basicOrMode(oci, "robot", secrets["OCI URL password"], &mode)
	basicOrMode(src, "cfg", secrets["docker config source"], &mode)
	basicOrMode(dst, "cfg", secrets["docker config destination"], &mode)

	dockerDir := filepath.Join(dir, "docker")
	_ = os.MkdirAll(dockerDir, 0o700)
	cfg := fmt.Sprintf(`{"auths": {%q: {"auth": %q}, %q: {"auth": %q}}}`,
		src.Host, cfgAuth("cfg", secrets["docker config source"]), dst.Host, cfgAuth("cfg", secrets["docker config destination"]))
	if err := os.WriteFile(filepath.Join(dockerDir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dockerDir)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", secrets["AWS secret key"])
	t.Setenv("AWS_SESSION_TOKEN", secrets["AWS session token"])
	webURL := strings.Replace(web.URL, "http://", "http://webuser:"+secrets["HTTP URL password"]+"@", 1)
	values := "addons:\n" +
		"  - chart: web\n    repository: " + webURL + "\n    version: 0.1.0\n" +
		"  - chart: api\n    repository: " + api.URL + "\n    version: 0.1.0\n    username: apiuser\n    password_env: API_PW\n" +
		"  - chart: job\n    repository: oci://robot:" + secrets["OCI URL password"] + "@" + oci.Host + "/charts\n    version: 0.1.0\n"
	if err := os.WriteFile("values.yaml", []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ECR_PUBLIC_PASSWORD": secrets["env public ECR"], "API_PW": secrets["password_env"], "DOCKERHUB_USERNAME": "hubuser"}

	for _, run := range []struct {
		name string
		mode int32
		prep func()
		code int
	}{
		{"success", 0, func() {}, exitOK},
		{"401", 1, func() { web.RequireBasicAuth("webuser", "another"); api.RequireBasicAuth("apiuser", "another") }, exitFailed},
		{"5xx", 2, func() { web.Fail("/index.yaml", 503); api.Fail("/index.yaml", 502) }, exitFailed},
	} {
		mode.Store(run.mode)
		run.prep()
		out := filepath.Join(dir, "out-"+run.name)
		args := []string{"sync", "--values", "values.yaml", "--target-registry", dst.Host, "--target-kind", "oci",
			"--insecure-registry", "127.0.0.1", "--output-dir", out, "--report", filepath.Join(out, "report.json"),
			"--log-format", "json", "--log-level", "debug", "--retries", "1",
			"--dockerhub-token", secrets["flag dockerhub token"], "--private-ecr-password=" + secrets["flag private ECR"]}
		var stdout, stderr bytes.Buffer
		code := runApp(args, &stdout, &stderr, env)
		if code != run.code {
			t.Errorf("%s run: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", run.name, code, run.code, stdout.String(), lastLines(stderr.String(), 20))
		}
		written := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
		_ = filepath.Walk(out, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				b, _ := os.ReadFile(p)
				written[p] = string(b)
			}
			return nil
		})
		if _, ok := written[filepath.Join(out, "report.json")]; !ok {
			t.Errorf("%s run wrote no report", run.name)
		} else {
			reporttest.CheckFile(t, engine.ReportSchema, filepath.Join(out, "report.json"))
		}
		for what, secret := range secrets {
			for where, text := range written {
				if i := strings.Index(text, secret); i >= 0 {
					t.Errorf("%s run: the %s appears in %s: …%s…", run.name, what, where, text[max(0, i-80):min(len(text), i+len(secret)+20)])
				}
			}
		}
		t.Logf("%s run: exit %d, %d files and streams searched for %d secrets", run.name, code, len(written), len(secrets))
	}
}

func runApp(args []string, stdout, stderr *bytes.Buffer, env map[string]string) int {
	return run(args, stdout, stderr, func(k string) string { return env[k] })
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
