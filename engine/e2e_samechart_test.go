package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// TestE2ETwoReleasesOfOneChart: two addons release the same chart with values that need
// different images (one enables a sidecar); a third fails to render. The chart is pushed
// once for both; each release gets consumer overrides of its own,
// {chart}/{release}.values.yaml (no {chart}/values.yaml then), and rendering with either
// addon's values and its overrides yields private images only. The failed release leaves
// no overrides.
func TestE2ETwoReleasesOfOneChart(t *testing.T) {
	w := newE2EWorld(t, []string{"alertmanager"})
	withReloader := map[string]any{"configmapReload": map[string]any{"enabled": true}}
	original, err := loader.LoadDir(w.dirs["alertmanager"])
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range renderImages(t, original, "alertmanager", withReloader) {
		if w.sourceDigest(ref) == "" {
			w.digests[ref.Name()+":"+ref.Tag] = seedImage(t, w.src.Host, ref)
			w.mirrors[ref.Registry] = w.src.Host + "/" + ref.Registry
		}
	}
	dst := registrytest.New(t)
	opts := w.options(dst.Host, t.TempDir())
	plain := opts.Addons[0]
	plain.Release = "am-plain"
	reload := opts.Addons[0]
	reload.Release, reload.Values = "am-reload", withReloader
	// A third release fails to render (its values break the chart's schema): it must leave
	// the group, not keep the others waiting for its images.
	broken := opts.Addons[0]
	broken.Release, broken.Values = "am-broken", map[string]any{"replicaCount": "many"}
	opts.Addons = append(opts.Addons[:0], plain, reload, broken)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := runChecked(t, ctx, opts, e2eLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if a := rep.Addons[2]; a.Status != StatusError || a.Stage != "render" {
		t.Errorf("am-broken: %s at %q: %s", a.Status, a.Stage, a.Error)
	}
	rep.Addons = rep.Addons[:2]
	checkAddonsSucceeded(t, rep)
	if a, b := rep.Addons[0].PackagedDigest, rep.Addons[1].PackagedDigest; a == "" || a != b {
		t.Errorf("the two releases packaged different archives (%s, %s) for the one chart:version", a, b)
	}
	mirrored := pullChart(t, dst.Host, "alertmanager", w.versions["alertmanager"])
	for _, gone := range []string{"values.yaml", "am-broken.values.yaml"} {
		if _, err := os.Stat(filepath.Join(opts.OutputDir, "alertmanager", gone)); err == nil {
			t.Errorf("alertmanager/%s written", gone)
		}
	}
	for i, tc := range []struct {
		release string
		values  map[string]any
	}{{"am-plain", nil}, {"am-reload", withReloader}} {
		path := filepath.Join(opts.OutputDir, "alertmanager", tc.release+".values.yaml")
		if rep.Addons[i].ConsumerOverrides != path {
			t.Errorf("%s: consumer overrides at %q, want %s", tc.release, rep.Addons[i].ConsumerOverrides, path)
		}
		ov := readOverrides(t, path)
		if mirrored != nil {
			for _, ref := range renderImages(t, mirrored, "alertmanager", tc.values) {
				if ref.Registry != dst.Host {
					t.Errorf("%s: the pushed chart renders public image %s", tc.release, ref)
				}
			}
		}
		for _, ref := range renderImages(t, original, "alertmanager", tc.values, ov) {
			if ref.Registry != dst.Host {
				t.Errorf("%s: the original chart + consumer overrides renders public image %s", tc.release, ref)
			}
		}
	}
}
