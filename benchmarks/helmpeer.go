package benchmarks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/airgap-charts/airgap-charts/stages"
)

// helmModulePath is the module the `helm template` peer is built from, at the version this
// module requires (so both render with the same engine).
const helmModulePath = "helm.sh/helm/v3"

// HelmModuleVersion is the version of helm.sh/helm/v3 this module builds with: from the
// running binary's build information (a test or benchmark binary), else `go list -m`.
func HelmModuleVersion(ctx context.Context) (string, error) {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == helmModulePath {
				if m.Replace != nil {
					return m.Replace.Version, nil
				}
				return m.Version, nil
			}
		}
	}
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("helm version: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Version}}", helmModulePath)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", helmModulePath, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// HelmTemplate is the Helm CLI, built from the Go module proxy, rendering charts one after
// another with `helm template`.
type HelmTemplate struct {
	Bin string
	// Home isolates Helm's cache, configuration and data directories from the user's.
	Home string
}

// BuildHelm builds helm.sh/helm/v3/cmd/helm at this module's Helm version into
// dir/helm-VERSION/ (once; reused afterwards), as the crane and regsync peers are built.
func BuildHelm(ctx context.Context, dir string) (*HelmTemplate, error) {
	v, err := HelmModuleVersion(ctx)
	if err != nil {
		return nil, err
	}
	if v == "" || v == "(devel)" {
		return nil, fmt.Errorf("helm peer: no released version of %s in the build (%q)", helmModulePath, v)
	}
	binDir := filepath.Join(dir, "helm-"+v)
	bin, err := goInstall(ctx, binDir, helmModulePath+"/cmd/helm@"+v, "helm")
	if err != nil {
		return nil, fmt.Errorf("helm peer: %w", err)
	}
	home, err := os.MkdirTemp("", "helm-home-")
	if err != nil {
		return nil, fmt.Errorf("helm peer: %w", err)
	}
	return &HelmTemplate{Bin: bin, Home: home}, nil
}

// Close removes Helm's home directories.
func (h *HelmTemplate) Close() { _ = os.RemoveAll(h.Home) }

// HelmChart is one archive for `helm template` (dependencies included under charts/) and
// its values file ("" for none).
type HelmChart struct {
	Name, Archive, Values string
}

// HelmPass is one pass of `helm template` over a chart set, one process after another.
type HelmPass struct {
	Charts int
	Wall   time.Duration
	// CPU is the user and system time of the helm processes.
	CPU time.Duration
	// OutputBytes is what the renders wrote to stdout.
	OutputBytes int64
}

// Template renders every chart in sequence the way the chart stages render: release rel,
// namespace ns, Kubernetes 1.33.0, CRDs included, the same extra API versions. The first
// failure ends the pass.
func (h *HelmTemplate) Template(ctx context.Context, charts []HelmChart) (HelmPass, error) {
	var p HelmPass
	start := time.Now()
	for _, c := range charts {
		args := []string{"template", "rel", c.Archive, "--namespace", "ns", "--kube-version", stages.DefaultKubeVersion, "--include-crds"}
		for _, a := range stages.RenderAPIVersions() {
			args = append(args, "--api-versions", a)
		}
		if c.Values != "" {
			args = append(args, "-f", c.Values)
		}
		cmd := exec.CommandContext(ctx, h.Bin, args...)
		cmd.Env = append(os.Environ(),
			"HELM_CACHE_HOME="+filepath.Join(h.Home, "cache"),
			"HELM_CONFIG_HOME="+filepath.Join(h.Home, "config"),
			"HELM_DATA_HOME="+filepath.Join(h.Home, "data"))
		var stderr bytes.Buffer
		cw := &countWriter{}
		cmd.Stdout, cmd.Stderr = cw, &stderr
		err := cmd.Run()
		if cmd.ProcessState != nil {
			p.CPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		if err != nil {
			return p, fmt.Errorf("helm template %s (%s): %w: %s", c.Name, filepath.Base(c.Archive), err, tail(stderr.String(), 400))
		}
		p.OutputBytes += cw.n
		p.Charts++
	}
	p.Wall = time.Since(start)
	if p.Charts == 0 {
		return p, errors.New("helm template: no charts")
	}
	return p, nil
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(b []byte) (int, error) { w.n += int64(len(b)); return len(b), nil }

var _ io.Writer = (*countWriter)(nil)
