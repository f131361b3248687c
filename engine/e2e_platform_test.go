package engine

import (
	"os"
	"strings"
	"testing"

	"github.com/airgap-charts/airgap-charts/registry"
)

// A platform list through a whole run: a platform the image lacks fails the addon, naming
// the image and the platforms it has, and publishes nothing; with --platform-missing skip
// the addon succeeds with a warning, and the image's report says which platform was left
// out and which source index the new destination index differs from.
func TestE2EPlatformListMissingAndSkip(t *testing.T) {
	w := newGateWorld(t, gateChart(false), gateApp)
	list := registry.MustParsePlatform("linux/amd64,linux/s390x")

	opts := w.options(t)
	opts.Platform = list
	a := w.run(t, opts)
	if a.Status != StatusError || !strings.Contains(a.Error, "quay.io/org/app:1") ||
		!strings.Contains(a.Error, "lacks linux/s390x (it has: linux/amd64, linux/arm64)") {
		t.Fatalf("missing platform: %s: %s; want an error naming the image and its platforms", a.Status, a.Error)
	}
	if w.chartAtDestination(t) {
		t.Fatal("the chart was published though its image failed")
	}

	opts = w.options(t)
	opts.Platform, _ = list.WithMissing(registry.PlatformMissingSkip)
	a = w.run(t, opts)
	if a.Status != StatusSuccess {
		t.Fatalf("skip: %s at %s: %s", a.Status, a.Stage, a.Error)
	}
	checkImagesCopied(t, a, gateApp)
	img := a.Images[0]
	if strings.Join(img.MissingPlatforms, ",") != "linux/s390x" || img.SourceIndexDigest == "" || img.SourceIndexDigest == img.DestDigest {
		t.Fatalf("image report: missing %v, source index %q, destination %q", img.MissingPlatforms, img.SourceIndexDigest, img.DestDigest)
	}
	warned := false
	for _, wr := range a.Warnings {
		warned = warned || strings.Contains(wr, "lacks linux/s390x")
	}
	if !warned {
		t.Fatalf("no warning about the missing platform: %v", a.Warnings)
	}
	raw, err := os.ReadFile(opts.ReportFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"platform":"linux/amd64,linux/s390x"`, `"source_index_digest":"` + img.SourceIndexDigest, `"missing_platforms"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("report.json lacks %s", want)
		}
	}
}
