package engine

import (
	"github.com/airgap-charts/airgap-charts/registry/once"

	"context"
	"strings"
	"sync"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/stages"
)

// chartHeads is the destination's answer about each chart tag whose pushed manifest the
// run cache knows: one HEAD per tag and run, asked for every such addon before the addons
// start (a rerun's chart checks then overlap the image lookups instead of following each
// addon's chart stages), and used by checkChart when the tag still holds that manifest.
type chartHeads struct {
	client *registry.Client
	once   once.Keyed[string, chartHead]
	warm   *warmer
	queued sync.WaitGroup
}

type chartHead struct {
	digest string
	exists bool
}

func newChartHeads(ctx context.Context, c *registry.Client, limit int) *chartHeads {
	return &chartHeads{client: c, warm: newWarmer(ctx, limit)}
}

// chartTagRef is the tag a chart reference (oci://host/path/chart:version) is pushed
// under, as Helm pushes it ("+" of the version as "_").
func chartTagRef(chartRef string) (registry.ImageRef, bool) {
	s := strings.TrimPrefix(chartRef, "oci://")
	i := strings.LastIndex(s, ":")
	if i <= strings.LastIndex(s, "/") {
		return registry.ImageRef{}, false
	}
	ref, err := registry.ParseImageRef(s[:i] + ":" + strings.ReplaceAll(s[i+1:], "+", "_"))
	if err != nil || ref.Tag == "" || ref.Digest != "" {
		return registry.ImageRef{}, false
	}
	return ref, true
}

func (h *chartHeads) head(ctx context.Context, ref registry.ImageRef) (chartHead, error) {
	return h.once.Do(ctx, ref.String(), func(ctx context.Context) (chartHead, error) {
		d, ok, err := h.client.HeadManifest(ctx, ref)
		return chartHead{digest: d, exists: ok}, err
	})
}

// prewarm asks, in the background, the chart tag of every addon whose run cache entry
// records a pushed manifest. A tag the addon's chart no longer lands on (its inputs
// changed) costs that HEAD uselessly. wait returns once every ask has ended.
func (h *chartHeads) prewarm(cache *runCache, addons []config.Addon) {
	h.queued.Add(1)
	go func() {
		defer h.queued.Done()
		for _, a := range addons {
			l := cache.read(a)
			if l.manifest == "" {
				continue
			}
			if ref, ok := chartTagRef(l.chartRef); ok {
				h.warm.add(func(ctx context.Context) { _, _ = h.head(ctx, ref) })
			}
		}
	}()
}

// wait returns once the prewarm has queued its asks and they have ended.
func (h *chartHeads) wait() {
	if h == nil {
		return
	}
	h.queued.Wait()
	h.warm.wait()
}

// same is the check of an archive whose manifest at chartRef is known to be known: the
// tag's HEAD (asked once per run, maybe ahead) says it still holds it. ok is false when
// it does not, or the HEAD failed: the caller checks the archive itself.
func (h *chartHeads) same(ctx context.Context, chartRef, known string, archive stages.ChartArchive) (stages.ChartCheck, bool) {
	ref, ok := chartTagRef(chartRef)
	if h == nil || !ok || known == "" {
		return stages.ChartCheck{}, false
	}
	a, err := h.head(ctx, ref)
	if err != nil || !a.exists || a.digest != known {
		return stages.ChartCheck{}, false
	}
	return stages.ChartCheck{Ref: ref.String(), Repository: ref.Repository, ArchiveDigest: archive.Digest,
		Exists: true, Manifest: a.digest, Same: true}, true
}
