package registry

import (
	"github.com/airgap-charts/airgap-charts/registry/transport"

	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// CopyResult says what a copy did.
type CopyResult struct {
	// SourceDigest is the digest of the manifest copied to the tag: the index for
	// platform auto, the chosen child otherwise. DestDigest is what the tag points at now.
	SourceDigest, DestDigest string
	// Bytes is the blob bytes uploaded to the destination.
	Bytes int64
	// Blobs is the blobs the copy needed; Mounted of them were mounted from another
	// repository, Reused were already in the destination repository.
	Blobs, Mounted, Reused int
	// Manifests are the manifests the copy put at the destination (the index and its
	// children, or the one image): the subjects whose referrers cross with them.
	Manifests []v1.Descriptor
	// LeftIndex is the source index a platform filter left behind (its referrers do not
	// apply to the copied children); nil otherwise.
	LeftIndex *v1.Descriptor
	// SourceIndex is the source index's digest when a platform list put a new index
	// holding only the requested children (DestDigest, a different digest: signatures
	// made for the source index do not cover it); empty otherwise.
	SourceIndex string
	// MissingPlatforms are the requested platforms the image lacked, left out
	// (--platform-missing skip).
	MissingPlatforms []string
}

// maxConfigBytes bounds an image config read to check its platform.
const maxConfigBytes = 16 << 20

// Copy copies src to dst for platform (see Platform). The source is pulled through its
// mirror when one is set; dst is where it lands, under dst's tag (or by digest when dst
// has none). auto copies an index with every child; one os/arch copies that child only and
// the tag points at it; a list copies an index holding exactly the listed children. Blobs
// are streamed and their digests verified; each blob crosses the wire once per run (see
// ensureBlob).
func (c *Client) Copy(ctx context.Context, src, dst ImageRef, platform Platform, opts ...CopyOption) (CopyResult, error) {
	var o copyOptions
	for _, opt := range opts {
		opt(&o)
	}
	ctx, endPulls := transport.WithPullGroup(ctx, len(platform.want)) // a spare pull budget completes whole images
	res, err := c.copy(ctx, src, dst, platform, o)
	endPulls()
	var nf *NotFoundError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &nf):
		return res, err // it names the image, and says first that it is missing
	}
	return res, &readableError{c.explainAuth(fmt.Errorf("copy %s to %s: %w", src, dst, err))}
}

// CopyOption adjusts one copy.
type CopyOption func(*copyOptions)

type copyOptions struct{ noMount, askFirst bool }

// WithoutMounts never tries a cross-repository blob mount on the destination (its
// MountPolicy says it does not mount: ECR without BLOB_MOUNTING). A blob another
// repository of the run received is uploaded again from the spool, not pulled again.
func WithoutMounts() CopyOption { return func(o *copyOptions) { o.noMount = true } }

// WithDestinationHeld says the destination repository likely holds most of the image's
// blobs already (its tag is being replaced, or an earlier run copied there): each blob's
// upload session and source are opened only once the destination said it lacks the blob,
// instead of beside that question (freshUpload), which on a cold copy saves round trips
// and here would open and drop a session and a source GET for every blob it holds.
func WithDestinationHeld() CopyOption { return func(o *copyOptions) { o.askFirst = true } }

func (c *Client) copy(ctx context.Context, src, dst ImageRef, platform Platform, o copyOptions) (CopyResult, error) {
	ref, err := c.pullRef(src)
	if err != nil {
		return CopyResult{}, err
	}
	dstRepo, err := c.destRepo(dst)
	if err != nil {
		return CopyResult{}, err
	}
	hc := c.hc
	top, err := c.puller.Get(ctx, ref)
	if err != nil {
		if isNotFound(err) {
			return CopyResult{}, &NotFoundError{Image: src.String(), Mirror: c.mirrorOf(src), Err: err}
		}
		return CopyResult{}, fmt.Errorf("pull manifest %s: %w", ref, err)
	}
	cp := &copier{c: c, src: ref.Context(), dst: dstRepo, hc: hc, noMount: o.noMount, askFirst: o.askFirst}
	putRef := func(d string) string {
		if dst.Tag != "" {
			return dst.Tag
		}
		return d
	}
	var digest string
	switch {
	case top.MediaType.IsIndex():
		idx, perr := v1.ParseIndexManifest(bytes.NewReader(top.Manifest))
		if perr != nil {
			return CopyResult{}, fmt.Errorf("parse index %s: %w", ref, perr)
		}
		if platform.Auto() {
			digest = top.Digest.String()
			err = cp.index(ctx, idx, top.Manifest, top.MediaType, putRef(digest))
			cp.res.Manifests = copiedManifests(top.Descriptor, top.Manifest)
			break
		}
		sel, perr := selectPlatforms(idx, top.Manifest, top.MediaType, platform)
		if perr != nil {
			return CopyResult{}, fmt.Errorf("%s: %w", ref, perr)
		}
		cp.res.MissingPlatforms = sel.missing
		if !platform.List() {
			child := sel.children[0]
			digest = child.Digest.String()
			err = cp.child(ctx, child, putRef(digest), false)
			cp.res.Manifests, cp.res.LeftIndex = []v1.Descriptor{child}, &top.Descriptor
			break
		}
		digest = sel.digest
		kept := *idx
		kept.Manifests = sel.children
		err = cp.index(ctx, &kept, sel.raw, top.MediaType, putRef(digest))
		if digest == top.Digest.String() {
			cp.res.Manifests = copiedManifests(top.Descriptor, top.Manifest)
			break
		}
		cp.res.Manifests, cp.res.LeftIndex, cp.res.SourceIndex = sel.children, &top.Descriptor, top.Digest.String()
	case top.MediaType.IsImage():
		digest = top.Digest.String()
		err = cp.image(ctx, top.Manifest, top.MediaType, putRef(digest), platform)
		cp.res.Manifests = []v1.Descriptor{top.Descriptor}
	default:
		return CopyResult{}, fmt.Errorf("%s: unsupported manifest media type %q", ref, top.MediaType)
	}
	if err != nil {
		return cp.res, err
	}
	cp.res.SourceDigest = digest
	cp.res.DestDigest = digest
	return cp.res, nil
}

// copier copies one image graph from one source repository to one destination repository.
type copier struct {
	c   *Client
	src name.Repository
	dst name.Repository
	hc  *http.Client
	// noMount: the destination does not mount (WithoutMounts).
	noMount bool
	// askFirst: the destination likely holds the blobs (WithDestinationHeld).
	askFirst bool

	mu  sync.Mutex
	res CopyResult
}

// child copies the manifest desc (from the source repository, by digest) and what it
// references, then puts it under putRef. With skipExisting, a manifest the destination
// already holds by digest is left alone (its blobs are there), and one another copy of the
// run is putting into the same repository is waited for, not fetched again.
func (cp *copier) child(ctx context.Context, desc v1.Descriptor, putRef string, skipExisting bool) error {
	if skipExisting {
		return cp.childOnce(ctx, desc, putRef)
	}
	got, err := cp.c.puller.Get(ctx, cp.src.Digest(desc.Digest.String()))
	if err != nil {
		return fmt.Errorf("pull manifest %s@%s: %w", cp.src, desc.Digest, err)
	}
	if got.MediaType.IsIndex() {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(got.Manifest))
		if err != nil {
			return fmt.Errorf("parse index %s@%s: %w", cp.src, desc.Digest, err)
		}
		return cp.index(ctx, idx, got.Manifest, got.MediaType, putRef)
	}
	return cp.image(ctx, got.Manifest, got.MediaType, putRef, PlatformAuto)
}

// index copies every child of idx, then puts raw (the index idx was read from) itself.
func (cp *copier) index(ctx context.Context, idx *v1.IndexManifest, raw []byte, mt types.MediaType, putRef string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cp.c.bounds.ManifestFanout)
	for _, m := range idx.Manifests {
		if !m.MediaType.IsIndex() && !m.MediaType.IsImage() {
			continue // not a manifest this tool copies (registries would reject the index then)
		}
		g.Go(func() error { return cp.child(gctx, m, m.Digest.String(), true) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return cp.put(ctx, putRef, mt, raw)
}

// image copies an image manifest's config and layers, then the manifest. Unless platform
// is auto, the image's config must be for a requested platform (checkImagePlatform).
func (cp *copier) image(ctx context.Context, raw []byte, mt types.MediaType, putRef string, platform Platform) error {
	if mt == types.DockerManifestSchema1 || mt == types.DockerManifestSchema1Signed {
		return fmt.Errorf("docker schema 1 manifests are not supported")
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("parse manifest: %w", err)
	}
	jobs := []blobJob{{src: cp.src, dst: cp.dst, desc: m.Config, noMount: cp.noMount, askFirst: cp.askFirst}}
	if !platform.Auto() {
		data, err := cp.readConfig(ctx, m.Config)
		if err != nil {
			return err
		}
		cfg, err := v1.ParseConfigFile(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("parse image config %s: %w", m.Config.Digest, err)
		}
		missing, err := checkImagePlatform(cp.src, cfg.Platform(), platform)
		if err != nil {
			return err
		}
		cp.res.MissingPlatforms = missing
		jobs[0].data = data
	}
	for _, l := range m.Layers {
		if l.MediaType.IsDistributable() {
			jobs = append(jobs, blobJob{src: cp.src, dst: cp.dst, desc: l, noMount: cp.noMount, askFirst: cp.askFirst})
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cp.c.bounds.ManifestFanout)
	for _, j := range jobs {
		g.Go(func() error {
			out, n, err := cp.c.ensureBlob(gctx, j)
			if err != nil {
				return err
			}
			cp.mu.Lock()
			cp.res.Blobs++
			cp.res.Bytes += n
			switch out {
			case blobMounted:
				cp.res.Mounted++
			case blobReused:
				cp.res.Reused++
			}
			cp.mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return cp.put(ctx, putRef, mt, raw)
}

func (cp *copier) put(ctx context.Context, putRef string, mt types.MediaType, raw []byte) error {
	if _, err := putManifest(ctx, cp.hc, cp.dst, putRef, mt, raw); err != nil {
		return fmt.Errorf("put manifest %s:%s: %w", cp.dst, putRef, err)
	}
	return nil
}

// readConfig reads a (small) image config blob, digest verified.
func (cp *copier) readConfig(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	l, err := cp.c.puller.Layer(ctx, cp.src.Digest(d.Digest.String()))
	if err != nil {
		return nil, fmt.Errorf("image config %s: %w", d.Digest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("pull image config %s: %w", d.Digest, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("pull image config %s: %w", d.Digest, err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("image config %s is larger than %d bytes", d.Digest, maxConfigBytes)
	}
	return data, nil
}

func platformString(p *v1.Platform) string {
	if p == nil || p.OS == "" {
		return "an unknown platform"
	}
	return p.String()
}

// SourceDigest is the digest a copy of src for platform would put under the tag, found
// with HEAD requests (free on Docker Hub). Unless platform is auto, a multi-platform index
// has to be read: that is one manifest GET (one Docker Hub pull). A source pinned by digest
// with platform auto costs no request.
func (c *Client) SourceDigest(ctx context.Context, src ImageRef, platform Platform) (string, error) {
	if src.Digest != "" && platform.Auto() {
		return src.Digest, nil
	}
	ref, err := c.pullRef(src)
	if err != nil {
		return "", err
	}
	desc, ok, err := headManifest(ctx, c.hc, ref.Context(), ref.Identifier())
	if err != nil {
		return "", c.explainAuth(fmt.Errorf("source digest of %s: %w", src, err))
	}
	if !ok {
		return "", &NotFoundError{Image: src.String(), Mirror: c.mirrorOf(src), Err: &ggcrtransport.Error{StatusCode: http.StatusNotFound}}
	}
	if platform.Auto() || !desc.MediaType.IsIndex() {
		return desc.Digest.String(), nil
	}
	got, err := c.puller.Get(ctx, ref.Context().Digest(desc.Digest.String()))
	if err != nil {
		return "", fmt.Errorf("source digest of %s for %s: %w", src, platform, err)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(got.Manifest))
	if err != nil {
		return "", fmt.Errorf("source digest of %s: parse index: %w", src, err)
	}
	sel, err := selectPlatforms(idx, got.Manifest, got.MediaType, platform)
	if err != nil {
		return "", fmt.Errorf("source %s: %w", src, err)
	}
	if !platform.List() {
		return sel.children[0].Digest.String(), nil
	}
	return sel.digest, nil
}
