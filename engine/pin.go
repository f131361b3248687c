package engine

import (
	"context"

	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/stages"
)

// pinDigests waits for the images of p.shared (the addon's own and its chart group
// peers') and gives each mapping the digest its destination tag now holds, so that the
// rewrite writes repo:tag@sha256:… (--pin-digests). An image that failed keeps its tag
// only: its addon fails at the images stage anyway. p.unpinned maps each pinned reference
// (and its repo@digest form) back to the destination the pool knows.
func (e *runEnv) pinDigests(ctx context.Context, p *preparedAddon, own *addonImages, peers []*Pending, log *zap.Logger) {
	digests := map[stages.ImageMapping]string{}
	waitAll := append(append([]*Pending(nil), own.pending...), peers...)
	for _, pd := range waitAll {
		res := pd.Wait(ctx)
		if res.Outcome != OutcomeFailed && res.DestDigest != "" {
			digests[stages.ImageMapping{Source: res.Job.Source, Destination: res.Job.Destination}] = res.DestDigest
		}
	}
	p.unpinned = map[registry.ImageRef]registry.ImageRef{}
	for i, m := range p.shared {
		d, ok := digests[m]
		if !ok || m.Destination.Digest != "" {
			continue
		}
		pinned := m.Destination
		pinned.Digest = d
		p.shared[i].Destination = pinned
		p.unpinned[pinned] = m.Destination
		digestOnly := pinned
		digestOnly.Tag = ""
		p.unpinned[digestOnly] = m.Destination
	}
	log.Debug("destination digests pinned", zap.Int("pinned", len(p.unpinned)/2), zap.Int("images", len(p.shared)))
}

// unpin maps the references a pinned rewrite uses back to the pool's destinations.
func (p *preparedAddon) unpin(uses []registry.ImageRef) []registry.ImageRef {
	if len(p.unpinned) == 0 {
		return uses
	}
	out := make([]registry.ImageRef, len(uses))
	for i, u := range uses {
		out[i] = u
		if d, ok := p.unpinned[u]; ok {
			out[i] = d
		}
	}
	return out
}

// warnPinScanOnly says that a scan-only run, which copies nothing, cannot pin.
func warnPinScanOnly(opts Options, log *zap.Logger) {
	if opts.PinDigests && opts.ScanOnly {
		log.Warn("--pin-digests with --scan-only: nothing is copied, so the charts written reference tags, unpinned")
	}
}
