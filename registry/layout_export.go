package registry

import (
	"github.com/airgap-charts/airgap-charts/registry/transport"

	"bytes"
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
)

// LayoutImage is what copying one image into an OCI image layout needs: the manifest the
// tag points at, every manifest under it that a copy reads (read whole: they are small) and
// the blobs they reference. It is the layout-destination side of Copy.
type LayoutImage struct {
	// Top is the manifest the source tag points at, served under the tag on import: with
	// a platform choice, the source index (only the chosen children come along), so that
	// the import chooses as a sync does.
	Top v1.Descriptor
	// Put is the manifest a copy puts under the tag: Top for platform auto, the chosen
	// child for one platform, the index of the chosen children for a list.
	Put v1.Descriptor
	// Subjects are the manifests a copy puts (CopyResult.Manifests): the ones whose
	// referrers cross. LeftIndex is the source index a platform choice leaves behind.
	Subjects  []v1.Descriptor
	LeftIndex *v1.Descriptor
	// Manifests are Top and the manifests under it, children first.
	Manifests []LayoutManifest
	// Blobs are the configs and distributable layers, each once, in manifest order.
	Blobs []v1.Descriptor
	// Config holds image configs read to check their platform (not read again).
	Config map[v1.Hash][]byte
	// Referrers are the artifacts referring to Subjects (and LeftIndex) that the
	// referrer options keep (PlanLayoutReferrers); their manifests and blobs are in
	// Manifests and Blobs.
	Referrers []LayoutReferrer
	// Always are the digests that travel even where a receipt says the destination holds
	// them: the source index of a platform choice (the import reads it to choose) and
	// the referrers' manifests and blobs (read to copy or verify them).
	Always map[v1.Hash]bool
	repo   name.Repository
	seen   map[v1.Hash]bool
}

// LayoutReferrer is one referrer of a manifest of the image, as the source lists it.
type LayoutReferrer struct {
	Subject    v1.Hash
	Descriptor v1.Descriptor // with ArtifactType and annotations, as listed
	// Tag is cosign's tag holding it (sha256-<hex>.sig/.att/.sbom); empty: a referrer by
	// subject (referrers API or tag schema).
	Tag string
	// ListedOnly: a referrer of the index a platform choice leaves behind that is not a
	// signature: a copy reports it as not applicable without reading it, so only its
	// listing travels.
	ListedOnly bool
}

// LayoutManifest is one manifest and its bytes.
type LayoutManifest struct {
	Desc v1.Descriptor
	Raw  []byte
}

// PlanLayoutCopy reads src's manifests (through its mirror) for platform, as Copy would
// read them, without reading any layer.
func (c *Client) PlanLayoutCopy(ctx context.Context, src ImageRef, platform Platform) (*LayoutImage, error) {
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
	li := &LayoutImage{Config: map[v1.Hash][]byte{}, Always: map[v1.Hash]bool{}, repo: ref.Context(), seen: map[v1.Hash]bool{}}
	desc := top.Descriptor
	desc.Platform, desc.Annotations, desc.URLs = nil, nil, nil
	li.Top, li.Put = desc, desc
	switch {
	case top.MediaType.IsIndex() && !platform.Auto():
		idx, err := v1.ParseIndexManifest(bytes.NewReader(top.Manifest))
		if err != nil {
			return nil, fmt.Errorf("image %s: parse index: %w", src, err)
		}
		sel, err := selectPlatforms(idx, top.Manifest, top.MediaType, platform)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", src, err)
		}
		raws, err := li.fetchManifests(ctx, c, sel.children)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", src, err)
		}
		for i, child := range sel.children {
			if err := li.walk(ctx, c, child, raws[i], PlatformAuto); err != nil {
				return nil, fmt.Errorf("image %s: %w", src, err)
			}
		}
		li.addManifest(desc, top.Manifest)
		li.Always[desc.Digest] = true
		left := desc
		li.LeftIndex, li.Subjects = &left, sel.children
		switch {
		case !platform.List():
			li.Put = sel.children[0]
		case sel.digest == desc.Digest.String():
			li.Subjects, li.LeftIndex = copiedManifests(desc, top.Manifest), nil
		default:
			h, err := v1.NewHash(sel.digest)
			if err != nil {
				return nil, fmt.Errorf("image %s: %w", src, err)
			}
			li.Put = v1.Descriptor{MediaType: top.MediaType, Digest: h, Size: int64(len(sel.raw))}
			// The index of the chosen children too: what the layout's index.json names
			// is complete for other OCI tools.
			li.addManifest(li.Put, sel.raw)
		}
		li.Put.Platform, li.Put.Annotations, li.Put.URLs = nil, nil, nil
		return li, nil
	case top.MediaType.IsIndex():
		li.Subjects = copiedManifests(desc, top.Manifest)
	default:
		li.Subjects = []v1.Descriptor{desc}
	}
	if err := li.walk(ctx, c, desc, top.Manifest, platform); err != nil {
		return nil, fmt.Errorf("image %s: %w", src, err)
	}
	return li, nil
}

func (li *LayoutImage) walk(ctx context.Context, c *Client, desc v1.Descriptor, raw []byte, platform Platform) error {
	if li.seen[desc.Digest] {
		return nil
	}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("parse index %s: %w", desc.Digest, err)
		}
		var children []v1.Descriptor
		listed := map[v1.Hash]bool{}
		for _, m := range idx.Manifests {
			if (!m.MediaType.IsIndex() && !m.MediaType.IsImage()) || li.seen[m.Digest] || listed[m.Digest] {
				continue
			}
			listed[m.Digest] = true
			children = append(children, m)
		}
		raws, err := li.fetchManifests(ctx, c, children)
		if err != nil {
			return err
		}
		for i, m := range children {
			if err := li.walk(ctx, c, m, raws[i], PlatformAuto); err != nil {
				return err
			}
		}
	case desc.MediaType.IsImage():
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("parse manifest %s: %w", desc.Digest, err)
		}
		if !platform.Auto() {
			cp := &copier{c: c, src: li.repo}
			data, err := cp.readConfig(ctx, m.Config)
			if err != nil {
				return err
			}
			cfg, err := v1.ParseConfigFile(bytes.NewReader(data))
			if err != nil {
				return fmt.Errorf("parse image config %s: %w", m.Config.Digest, err)
			}
			if _, err := checkImagePlatform(li.repo, cfg.Platform(), platform); err != nil {
				return err
			}
			li.Config[m.Config.Digest] = data
		}
		li.addBlob(m.Config)
		for _, l := range m.Layers {
			if l.MediaType.IsDistributable() || l.MediaType == "" {
				li.addBlob(l)
			}
		}
	default:
		return fmt.Errorf("unsupported manifest media type %q", desc.MediaType)
	}
	li.addManifest(desc, raw)
	return nil
}

// fetchManifests reads the manifests descs name from the image's repository, ManifestFanout
// at once (a copy reads an index's children so too): their round trips overlap. They are
// walked afterwards, in order, so the plan is the same however the reads end; the first
// failure in order is the error.
func (li *LayoutImage) fetchManifests(ctx context.Context, c *Client, descs []v1.Descriptor) ([][]byte, error) {
	raws := make([][]byte, len(descs))
	errs := make([]error, len(descs))
	var g errgroup.Group
	g.SetLimit(c.bounds.ManifestFanout)
	for i, d := range descs {
		g.Go(func() error {
			got, err := c.puller.Get(ctx, li.repo.Digest(d.Digest.String()))
			if err != nil {
				errs[i] = fmt.Errorf("pull manifest %s: %w", d.Digest, err)
				return nil
			}
			raws[i] = got.Manifest
			return nil
		})
	}
	_ = g.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return raws, nil
}

func (li *LayoutImage) addManifest(desc v1.Descriptor, raw []byte) {
	if li.seen[desc.Digest] {
		return
	}
	li.seen[desc.Digest] = true
	li.Manifests = append(li.Manifests, LayoutManifest{Desc: v1.Descriptor{MediaType: desc.MediaType, Size: int64(len(raw)), Digest: desc.Digest}, Raw: raw})
}

func (li *LayoutImage) addBlob(d v1.Descriptor) {
	if li.seen[d.Digest] {
		return
	}
	li.seen[d.Digest] = true
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

// PlanLayoutReferrers finds, at the source, what refers to the image's subjects and the
// options keep, and what refers to those (as deep as CopyReferrers follows), and what
// refers to the index a platform choice leaves behind (one level: the import reports them
// as not applicable and verifies its signatures). It reads each referrer's manifests, as
// CopyReferrers would, and adds them and their blobs to li.
func (c *Client) PlanLayoutReferrers(ctx context.Context, li *LayoutImage, o ReferrerOptions) error {
	if !o.Enabled() {
		return nil
	}
	type item struct {
		subject v1.Hash
		depth   int
		left    bool
	}
	var queue []item
	for _, s := range li.Subjects {
		queue = append(queue, item{s.Digest, 1, false})
	}
	if li.LeftIndex != nil {
		queue = append(queue, item{li.LeftIndex.Digest, o.depth(), true})
	}
	done := map[v1.Hash]bool{}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if done[it.subject] {
			continue
		}
		done[it.subject] = true
		refs, err := c.discoverReferrers(ctx, li.repo, it.subject, o, nil)
		if err != nil {
			return err
		}
		sortReferrers(refs) // a rerun plans the same blobs in the same order (resume)
		for _, r := range refs {
			if it.left && !IsSignatureType(r.Descriptor.ArtifactType) {
				// Reported as not applicable, never read: only its listing travels.
				li.Referrers = append(li.Referrers, LayoutReferrer{Subject: r.Subject, Descriptor: r.Descriptor, Tag: r.Tag, ListedOnly: true})
				continue
			}
			if err := li.addReferrer(ctx, c, r); err != nil {
				return fmt.Errorf("referrer %s of %s: %w", r.Descriptor.Digest, it.subject, err)
			}
			if it.depth < o.depth() {
				queue = append(queue, item{r.Descriptor.Digest, it.depth + 1, false})
			}
		}
	}
	if len(o.Types) == 0 {
		return nil
	}
	// --verify-signatures on import checks the signatures of the manifest the tag points
	// at whatever the types kept: they come along too (the import's own options still
	// leave them out of what it copies).
	refs, err := c.discoverReferrers(ctx, li.repo, li.Top.Digest, ReferrerOptions{Mode: ReferrersSignatures, MaxDepth: 1}, nil)
	if err != nil {
		return err
	}
	sortReferrers(refs)
	for _, r := range refs {
		if err := li.addReferrer(ctx, c, r); err != nil {
			return fmt.Errorf("signature %s of %s: %w", r.Descriptor.Digest, li.Top.Digest, err)
		}
	}
	return nil
}

func sortReferrers(refs []Referrer) {
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].Descriptor.Digest != refs[j].Descriptor.Digest {
			return refs[i].Descriptor.Digest.String() < refs[j].Descriptor.Digest.String()
		}
		return refs[i].Tag < refs[j].Tag
	})
}

// addReferrer records r and reads its manifest and what it references.
func (li *LayoutImage) addReferrer(ctx context.Context, c *Client, r Referrer) error {
	for _, x := range li.Referrers {
		if x.Subject == r.Subject && x.Descriptor.Digest == r.Descriptor.Digest && x.Tag == r.Tag {
			return nil
		}
	}
	d := r.Descriptor
	if !li.seen[d.Digest] {
		got, err := c.puller.Get(ctx, li.repo.Digest(d.Digest.String()))
		if err != nil {
			return fmt.Errorf("pull %s@%s: %w", li.repo, d.Digest, err)
		}
		desc := got.Descriptor
		desc.Platform, desc.Annotations, desc.URLs = nil, nil, nil
		nm, nb := len(li.Manifests), len(li.Blobs)
		if err := li.walk(ctx, c, desc, got.Manifest, PlatformAuto); err != nil {
			return err
		}
		for _, m := range li.Manifests[nm:] {
			li.Always[m.Desc.Digest] = true
		}
		for _, b := range li.Blobs[nb:] {
			li.Always[b.Digest] = true
		}
		if d.Size == 0 {
			d.Size, d.MediaType = int64(len(got.Manifest)), got.MediaType
		}
	}
	li.Referrers = append(li.Referrers, LayoutReferrer{Subject: r.Subject, Descriptor: d, Tag: r.Tag})
	return nil
}
