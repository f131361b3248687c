package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airgap-charts/airgap-charts/engine"
	"github.com/airgap-charts/airgap-charts/engine/reporttest"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// TestSignalsEndTheRunWithTheirExitCode sends SIGINT, then SIGTERM, to a real airgap-charts
// process at the moment it uploads an image blob (the destination holding that request is
// the event waited for): the run stops, says so, writes a report that follows the schema
// with its addon ended as interrupted, and exits 130 and 143.
func TestSignalsEndTheRunWithTheirExitCode(t *testing.T) {
	bin := buildBinary(t)
	src := registrytest.New(t)
	image := src.Host + "/team/app:1.0"
	tag, _ := name.NewTag(image, name.Insecure)
	img, _ := random.Image(64<<10, 2)
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	web := chartrepotest.NewHTTPRepo(t, writeChart(t, filepath.Join(dir, "src"), "web", image))
	values := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(values, []byte("addons:\n  - chart: web\n    repository: "+web.URL+"\n    version: 0.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
		says string
	}{
		{syscall.SIGINT, 130, "interrupted by SIGINT"},
		{syscall.SIGTERM, 143, "terminated by SIGTERM"},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			dst := registrytest.New(t)
			arrived := make(chan struct{})
			var once sync.Once
			dst.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost || !strings.Contains(r.URL.Path, "/blobs/uploads") {
					return false
				}
				once.Do(func() { close(arrived) })
				<-r.Context().Done() // held until the interrupted run lets go of it
				return true
			})
			out := filepath.Join(t.TempDir(), "out")
			report := filepath.Join(out, "report.json")
			cmd := exec.Command(bin, "--values", values, "--target-registry", dst.Host, "--target-kind", "oci",
				"--insecure-registry", "127.0.0.1", "--output-dir", out, "--report", report, "--log-format", "json")
			cmd.Env = []string{"TMPDIR=" + t.TempDir(), "HOME=" + t.TempDir(), "DOCKER_CONFIG=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			select {
			case <-arrived:
			case err := <-waited:
				t.Fatalf("the run ended (%v) before its first upload:\n%s", err, lastLines(stderr.String(), 5))
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			err := <-waited
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tc.code {
				t.Fatalf("exit: %v, want code %d\n%s", err, tc.code, lastLines(stderr.String(), 8))
			}
			if !strings.Contains(stderr.String(), "airgap-charts: "+tc.says) {
				t.Errorf("stderr does not say %q:\n%s", tc.says, lastLines(stderr.String(), 5))
			}
			reporttest.CheckFile(t, engine.ReportSchema, report)
			var rep engine.Report
			data, _ := os.ReadFile(report)
			if err := json.Unmarshal(data, &rep); err != nil || len(rep.Addons) != 1 {
				t.Fatalf("report: %v: %.300s", err, data)
			}
			if a := rep.Addons[0]; a.Status != engine.StatusError || !strings.Contains(a.Error, "interrupted") {
				t.Errorf("addon after the signal: %s %q, want ERROR, interrupted", a.Status, a.Error)
			}
		})
	}
}
