package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
	"github.com/airgap-charts/airgap-charts/stages/chartrepotest"
)

// lockImages are the lock chart's images, one per value shape the rewrite knows.
var lockImages = []string{"quay.io/org/alpha:1", "quay.io/org/beta:1", "quay.io/org/gamma:1", "quay.io/org/delta:1"}

const lockChartValues = `alpha:
  image:
    registry: quay.io
    repository: org/alpha
    tag: "1"
beta:
  image:
    repository: quay.io/org/beta
    tag: "1"
gamma:
  image: quay.io/org/gamma:1
delta:
  image:
    repository: quay.io/org/delta
    tag: "1"
    digest: ""
`

const lockChartDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
      - name: alpha
        image: "{{ .Values.alpha.image.registry }}/{{ .Values.alpha.image.repository }}:{{ .Values.alpha.image.tag }}"
      - name: beta
        image: "{{ .Values.beta.image.repository }}:{{ .Values.beta.image.tag }}"
      - name: gamma
        image: {{ .Values.gamma.image | quote }}
      - name: delta
        image: "{{ .Values.delta.image.repository }}{{ if .Values.delta.image.digest }}@{{ .Values.delta.image.digest }}{{ else }}:{{ .Values.delta.image.tag }}{{ end }}"
`

// lockChart is chart "locky" at version; note changes its content (a republish).
func lockChart(version, note string) *chart.Chart {
	vals := map[string]any{
		"alpha": map[string]any{"image": map[string]any{"registry": "quay.io", "repository": "org/alpha", "tag": "1"}},
		"beta":  map[string]any{"image": map[string]any{"repository": "quay.io/org/beta", "tag": "1"}},
		"gamma": map[string]any{"image": "quay.io/org/gamma:1"},
		"delta": map[string]any{"image": map[string]any{"repository": "quay.io/org/delta", "tag": "1", "digest": ""}},
	}
	return &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "locky", Version: version, Description: "lock test chart" + note},
		Values:    vals,
		Templates: []*chart.File{{Name: "templates/deployment.yaml", Data: []byte(lockChartDeployment)}},
		Raw:       []*chart.File{{Name: "values.yaml", Data: []byte(lockChartValues)}},
	}
}

// lockWorld is a source registry holding lockImages, a destination registry and the
// chart repository serving locky 1.0.0.
type lockWorld struct {
	src, dst *registrytest.Registry
	charts   *chartrepotest.HTTPRepo
	digests  map[string]string // image → seeded index digest
	lockFile string
}

func newLockWorld(t *testing.T) *lockWorld {
	t.Helper()
	w := &lockWorld{src: registrytest.New(t), dst: registrytest.New(t), charts: chartrepotest.NewHTTPRepo(t),
		digests: map[string]string{}, lockFile: filepath.Join(t.TempDir(), LockFileName)}
	for _, img := range lockImages {
		w.digests[img] = seedImage(t, w.src.Host, mustRef(t, img))
	}
	w.charts.AddChart(t, lockChart("1.0.0", ""))
	return w
}

// options syncs locky (version constraint ^1.0.0) into dst, its lock in w.lockFile.
func (w *lockWorld) options(t *testing.T) Options {
	out := t.TempDir()
	return Options{
		Addons: []config.Addon{{Chart: "locky", Repository: w.charts.URL, Version: "^1.0.0",
			Release: "locky", Namespace: "ns", Source: config.Position{File: "values.yaml", Line: 3}}},
		TargetRegistry: w.dst.Host, TargetPrefix: "mirror", TargetKind: "oci",
		IncludeDeps: true, Platform: registry.PlatformAuto, SkipExisting: true, Concurrency: 4, ChartConcurrency: 1,
		RegistryMirrors:  map[string]string{"quay.io": w.src.Host + "/quay.io"},
		InsecureRegistry: []string{w.src.Host, w.dst.Host},
		OutputDir:        out, ReportFile: filepath.Join(out, "report.json"),
		LockFile: w.lockFile, Referrers: "none",
	}
}

func (w *lockWorld) run(t *testing.T, opts Options) (*Report, *AddonReport) {
	t.Helper()
	rep, err := Run(context.Background(), opts, e2eLogger(t))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if len(rep.Addons) != 1 {
		t.Fatalf("%d addon reports", len(rep.Addons))
	}
	return rep, rep.Addons[0]
}

func (w *lockWorld) readLock(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(w.lockFile)
	if err != nil {
		t.Fatalf("lock: %v", err)
	}
	return data
}

// move pushes new content under img's tag at the source: the tag moves.
func (w *lockWorld) move(t *testing.T, img string) string {
	t.Helper()
	old := w.digests[img]
	w.digests[img] = seedImage(t, w.src.Host, mustRef(t, img))
	if w.digests[img] == old {
		t.Fatalf("reseeding %s kept its digest", img)
	}
	return old
}

func imageOf(a *AddonReport, source string) *ImageReport {
	for i := range a.Images {
		if a.Images[i].Source == source {
			return &a.Images[i]
		}
	}
	return nil
}

func lockedImage(l *Lock, source string) *LockImage {
	if a := l.addon("locky"); a != nil {
		for i := range a.Images {
			if a.Images[i].Source == source {
				return &a.Images[i]
			}
		}
	}
	return nil
}

func mustReadLock(t *testing.T, path string) *Lock {
	t.Helper()
	l, err := ReadLock(path)
	if err != nil || l == nil {
		t.Fatalf("read lock %s: %v (nil: %v)", path, err, l == nil)
	}
	return l
}

func containsAll(s string, subs ...string) error {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return fmt.Errorf("%q does not contain %q", s, sub)
		}
	}
	return nil
}
