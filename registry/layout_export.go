package registry

import (
	"github.com/airgap-charts/airgap-charts/registry/transport"

	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// LayoutImage is what copying one image into an OCI image layout needs: the manifest the
// tag points at, every manifest under it (read whole: they are small) and the blobs they
// reference. It is the layout-destination side of Copy.
type LayoutImage struct {
	// Top is the manifest a copy puts under the tag: the index for platform auto, the
	// chosen child otherwise.
	Top v1.Descriptor
	// Manifests are Top and the manifests under it, children first.
	Manifests []LayoutManifest
	// Blobs are the configs and distributable layers, each once, in manifest order.
	Blobs []v1.Descriptor
	// Config holds image configs read to check their platform (not read again).
	Config map[v1.Hash][]byte
	repo   name.Repository
}

// LayoutManifest is one manifest and its bytes.
type LayoutManifest struct {
	Desc v1.Descriptor
	Raw  []byte
}

// PlanLayoutCopy reads src's manifests (through its mirror) for platform, as Copy would
// copy them, without reading any layer.
func (c *Client) PlanLayoutCopy(ctx context.Context, src ImageRef, platform Platform) (*LayoutImage, error) {
	var want *v1.Platform
	switch {
	case platform.List():
		return nil, fmt.Errorf("image %s: a --platform list (%s) is not supported by bundles yet: export with auto or one platform", src, platform)
	case !platform.Auto():
		want = &platform.Platforms()[0]
	}
	ref, err := c.pullRef(src)
	if err != nil {
		return nil, err
	}
	ctx, endPulls := transport.WithPullGroup(ctx, len(platform.want))
	defer endPulls()
	top, err := c.puller.Get(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("image %s: pull manifest %s: %w", src, ref, err)
	}
	li := &LayoutImage{Config: map[v1.Hash][]byte{}, repo: ref.Context()}
	seen := map[v1.Hash]bool{}
	desc, raw := top.Descriptor, top.Manifest
	if top.MediaType.IsIndex() && want != nil {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("image %s: parse index: %w", src, err)
		}
		child, err := pickChild(idx, *want)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", src, err)
		}
		got, err := c.puller.Get(ctx, ref.Context().Digest(child.Digest.String()))
		if err != nil {
			return nil, fmt.Errorf("image %s: pull manifest %s: %w", src, child.Digest, err)
		}
		desc, raw, want = child, got.Manifest, nil
	}
	desc.Platform, desc.Annotations, desc.URLs = nil, nil, nil
	li.Top = desc
	if err := li.walk(ctx, c, desc, raw, want, seen); err != nil {
		return nil, fmt.Errorf("image %s: %w", src, err)
	}
	return li, nil
}

func (li *LayoutImage) walk(ctx context.Context, c *Client, desc v1.Descriptor, raw []byte, want *v1.Platform, seen map[v1.Hash]bool) error {
	switch {
	case desc.MediaType.IsIndex():
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("parse index %s: %w", desc.Digest, err)
		}
		for _, m := range idx.Manifests {
			if (!m.MediaType.IsIndex() && !m.MediaType.IsImage()) || seen[m.Digest] {
				continue
			}
			got, err := c.puller.Get(ctx, li.repo.Digest(m.Digest.String()))
			if err != nil {
				return fmt.Errorf("pull manifest %s: %w", m.Digest, err)
			}
			if err := li.walk(ctx, c, m, got.Manifest, nil, seen); err != nil {
				return err
			}
		}
	case desc.MediaType.IsImage():
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("parse manifest %s: %w", desc.Digest, err)
		}
		if want != nil {
			cp := &copier{c: c, src: li.repo}
			data, err := cp.readConfig(ctx, m.Config)
			if err != nil {
				return err
			}
			cfg, err := v1.ParseConfigFile(bytes.NewReader(data))
			if err != nil {
				return fmt.Errorf("parse image config %s: %w", m.Config.Digest, err)
			}
			if got := cfg.Platform(); !platformMatches(*want, got) {
				return fmt.Errorf("a single-platform image for %s, not %s: use --platform auto or the matching platform", platformString(got), want)
			}
			li.Config[m.Config.Digest] = data
		}
		li.addBlob(m.Config, seen)
		for _, l := range m.Layers {
			if l.MediaType.IsDistributable() {
				li.addBlob(l, seen)
			}
		}
	default:
		return fmt.Errorf("unsupported manifest media type %q", desc.MediaType)
	}
	seen[desc.Digest] = true
	li.Manifests = append(li.Manifests, LayoutManifest{Desc: v1.Descriptor{MediaType: desc.MediaType, Size: int64(len(raw)), Digest: desc.Digest}, Raw: raw})
	return nil
}

func (li *LayoutImage) addBlob(d v1.Descriptor, seen map[v1.Hash]bool) {
	if seen[d.Digest] {
		return
	}
	seen[d.Digest] = true
	li.Blobs = append(li.Blobs, v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest})
}

// OpenLayoutBlob streams blob d of the planned image from its source (digest verified at
// the end of the stream by go-containerregistry); a config read for its platform comes
// from memory.
func (c *Client) OpenLayoutBlob(ctx context.Context, li *LayoutImage, d v1.Hash) (io.ReadCloser, error) {
	if data, ok := li.Config[d]; ok {
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	l, err := c.puller.Layer(ctx, li.repo.Digest(d.String()))
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", li.repo, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("pull %s from %s: %w", d, li.repo, err)
	}
	return rc, nil
}
