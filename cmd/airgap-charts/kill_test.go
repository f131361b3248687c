package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"unsafe"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airgap-charts/airgap-charts/engine"
	"github.com/airgap-charts/airgap-charts/engine/reporttest"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// buildBinary builds airgap-charts into a directory of the test.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "airgap-charts")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// watchCreates reports each name created in (or renamed into) dir, until the test ends.
func watchCreates(t *testing.T, dir string) <-chan string {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_CREATE|syscall.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	names := make(chan string, 64)
	f := os.NewFile(uintptr(fd), "inotify")
	t.Cleanup(func() { f.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				nameBytes := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
				select {
				case names <- strings.TrimRight(string(nameBytes), "\x00"):
				default:
				}
				off += syscall.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}()
	return names
}

// TestKilledRunsThenRerunCompletes kills a real airgap-charts process (SIGKILL) while it
// copies an image, while it pushes a chart and while it writes its report, each moment
// caught as it happens (the destination registry receiving the first image blob upload,
// the first chart upload; the report's temporary file appearing), then runs again: the
// rerun completes, removes what the killed run left in the temporary directory, leaves
// nothing there of its own, and writes a whole report. A killed run never leaves a
// half-written report.
func TestKilledRunsThenRerunCompletes(t *testing.T) {
	bin := buildBinary(t)
	src := registrytest.New(t)
	image := src.Host + "/team/app:1.0"
	tag, _ := name.NewTag(image, name.Insecure)
	img, _ := random.Image(256<<10, 3)
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	web := chartrepotest.NewHTTPRepo(t, writeChart(t, filepath.Join(dir, "src"), "web", image))
	values := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(values, []byte("addons:\n  - chart: web\n    repository: "+web.URL+"\n    version: 0.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	uploadTo := func(repo string) func(*http.Request) bool {
		var once sync.Once
		return func(r *http.Request) bool {
			match := false
			if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v2/"+repo+"/blobs/uploads") {
				once.Do(func() { match = true })
			}
			return match
		}
	}

	for _, point := range []struct {
		name string
		hold func(*http.Request) bool
		file string // kill when this file prefix appears in the output directory
	}{
		{name: "during image copy", hold: uploadTo("team/app")},
		{name: "during chart push", hold: uploadTo("web")},
		{name: "during report write", file: ".report.json.partial"},
	} {
		t.Run(point.name, func(t *testing.T) {
			dst := registrytest.New(t) // each kill against a destination of its own
			var hold atomic.Value      // func(*http.Request) bool: the request held while the process is killed
			hold.Store(func(*http.Request) bool { return false })
			arrived := make(chan struct{}, 1)
			dst.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
				if !hold.Load().(func(*http.Request) bool)(r) {
					return false
				}
				select {
				case arrived <- struct{}{}:
				default:
				}
				<-r.Context().Done() // until the killed process's connection closes
				return true
			})
			tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			report := filepath.Join(out, "report.json")
			args := []string{"--values", values, "--target-registry", dst.Host, "--target-kind", "oci", "--insecure-registry", "127.0.0.1",
				"--output-dir", out, "--report", report, "--log-format", "json", "--private-ecr-password", killFlagSecret}
			env := []string{"TMPDIR=" + tmp, "HOME=" + t.TempDir(), "DOCKER_CONFIG=" + t.TempDir(), "PATH=" + os.Getenv("PATH"),
				"ECR_PUBLIC_PASSWORD=" + killEnvSecret}
			var created <-chan string
			if point.file != "" {
				created = watchCreates(t, out)
			}
			if point.hold != nil {
				hold.Store(point.hold)
			}
			cmd := exec.Command(bin, args...)
			cmd.Env = env
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			if point.hold != nil {
				select {
				case <-arrived:
				case err := <-waited:
					t.Fatalf("the run ended (%v) before the moment to kill it:\n%s", err, lastLines(stderr.String(), 5))
				}
			} else {
			wait:
				for {
					select {
					case n := <-created:
						if strings.HasPrefix(n, point.file) {
							break wait
						}
					case err := <-waited:
						t.Fatalf("the run ended (%v) before the moment to kill it:\n%s", err, lastLines(stderr.String(), 5))
					}
				}
			}
			_ = cmd.Process.Kill()
			<-waited
			hold.Store(func(*http.Request) bool { return false })
			if b, err := os.ReadFile(report); err == nil && !json.Valid(b) {
				t.Errorf("the killed run left a half-written report: %.200s", b)
			} else {
				t.Logf("killed; report.json there after the kill: %v", err == nil)
			}
			if point.hold != nil {
				left, _ := filepath.Glob(filepath.Join(tmp, "airgap-charts-run-*"))
				if len(left) != 1 {
					t.Errorf("the killed run's temporary directory: %v, want one", left)
				}
			}

			rerun := exec.Command(bin, args...)
			rerun.Env = env
			combined, err := rerun.CombinedOutput()
			if err != nil {
				t.Fatalf("rerun: %v\n%s", err, lastLines(string(combined), 10))
			}
			if point.hold != nil && !strings.Contains(string(combined), "removed temporary files of runs that were killed") {
				t.Errorf("the rerun did not say it removed the killed run's files:\n%s", lastLines(string(combined), 10))
			}
			reporttest.CheckFile(t, engine.ReportSchema, report)
			b, err := os.ReadFile(report)
			var rep struct {
				Addons []struct{ Status string } `json:"addons"`
			}
			if err != nil || json.Unmarshal(b, &rep) != nil || len(rep.Addons) != 1 || rep.Addons[0].Status != "SUCCESS" {
				t.Errorf("rerun report (%v): %.300s", err, b)
			}
			_ = filepath.Walk(out, func(p string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() && strings.HasPrefix(fi.Name(), ".") {
					t.Errorf("temporary file left in the output directory: %s", p)
				}
				return nil
			})
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("temporary directory after the rerun holds %v, want nothing", left)
			}
			// Secrets given to a run that was killed appear nowhere: not in what either run
			// printed, not in any file they left.
			for _, secret := range []string{killFlagSecret, killEnvSecret} {
				if strings.Contains(stderr.String(), secret) || strings.Contains(string(combined), secret) {
					t.Errorf("a secret was printed by the killed run or its rerun")
				}
				for _, dir := range []string{out, tmp} {
					_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
						if err == nil && !fi.IsDir() {
							if b, rerr := os.ReadFile(p); rerr == nil && strings.Contains(string(b), secret) {
								t.Errorf("a secret is written in %s", p)
							}
						}
						return nil
					})
				}
			}
			if _, err := remote.Head(mustRef(t, dst.Host+"/team/app:1.0")); err != nil {
				t.Errorf("image not at the destination after the rerun: %v", err)
			}
			if _, err := remote.Head(mustRef(t, dst.Host+"/web:0.1.0")); err != nil {
				t.Errorf("chart not at the destination after the rerun: %v", err)
			}
		})
	}
}

// Secrets the killed runs are given (a flag and its environment fallback's sibling).
const (
	killFlagSecret = "KILLflag-S3CRET"
	killEnvSecret  = "KILLenv-S3CRET"
)

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
