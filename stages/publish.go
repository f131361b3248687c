package stages

import (
	"context"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/airgap-charts/airgap-charts/registry"
)

// PublishOptions configures a Publisher.
type PublishOptions struct {
	// Registry carries every request: the run's registry client, its authentication,
	// per-host limits, retries and blob table.
	Registry *registry.Client
	// EnsureRepository makes the repository ("ns/chart") exist before a push, for
	// registries that do not create repositories on push (ECR); nil skips it.
	EnsureRepository func(ctx context.Context, repository string) error
	// TempDir is where a push keeps Helm's client state while it runs; empty: os.TempDir().
	TempDir string
}

// PublishResult says where a chart was published.
type PublishResult struct {
	// Ref is host/namespace/chart:version (install with oci://{Ref without tag}).
	Ref string
	// Digest is the manifest digest of the chart in the registry.
	Digest string
	// Skipped is true when the registry already held the same chart archive.
	Skipped bool
}

// ChartCheck is what a destination holds at a chart archive's tag.
type ChartCheck struct {
	// Ref is host/namespace/chart:tag (a "+" of the version is "_", as Helm pushes it).
	Ref string
	// Repository is namespace/chart.
	Repository string
	// ArchiveDigest is the archive's "sha256:…".
	ArchiveDigest string
	// Exists says the tag exists; Manifest is then its manifest digest.
	Exists   bool
	Manifest string
	// Same says the tag holds this very archive: nothing to push.
	Same bool
}

// pushCreationTime is the creation annotation of every pushed chart, so that the same
// archive always gives the same manifest.
const pushCreationTime = "1980-01-01T00:00:00Z"

// Publisher checks and pushes chart archives as Helm stores them in OCI registries (a
// config blob, the archive as the one layer, an image manifest under the version's tag),
// through the run's registry client. Safe for concurrent use.
type Publisher struct {
	opts PublishOptions
}

// NewPublisher returns a Publisher with opts.
func NewPublisher(opts PublishOptions) *Publisher { return &Publisher{opts: opts} }

// chartTarget is where an archive is published.
type chartTarget struct {
	name, version string
	repository    string            // namespace/chart
	ref           registry.ImageRef // host/namespace/chart:tag
}

func targetOf(a ChartArchive, ociBase string) (chartTarget, error) {
	if a.Metadata == nil || (len(a.Data) == 0 && a.Path == "") {
		return chartTarget{}, errors.New("publish chart: no packaged archive")
	}
	host, namespace, err := splitOCIBase(ociBase)
	if err != nil {
		return chartTarget{}, fmt.Errorf("publish chart %s: %w", a.Metadata.Name, err)
	}
	repository := a.Metadata.Name
	if namespace != "" {
		repository = namespace + "/" + a.Metadata.Name
	}
	return chartTarget{name: a.Metadata.Name, version: a.Metadata.Version, repository: repository,
		ref: registry.ImageRef{Registry: host, Repository: repository, Tag: strings.ReplaceAll(a.Metadata.Version, "+", "_")}}, nil
}

// display is host/namespace/chart:version, as Helm names what it pushed.
func (t chartTarget) display() string { return t.ref.Name() + ":" + t.version }

func (p *Publisher) client() (*registry.Client, error) {
	if p.opts.Registry == nil {
		return nil, errors.New("no registry client")
	}
	return p.opts.Registry, nil
}

// Check says whether the destination already holds the archive at its tag. With
// knownManifest (the manifest digest this archive was pushed as before, "" when unknown)
// it sends one manifest HEAD and, when the tag matches, nothing else; otherwise one
// manifest GET, whose chart layer is compared with the archive.
func (p *Publisher) Check(ctx context.Context, a ChartArchive, ociBase, knownManifest string) (ChartCheck, error) {
	t, err := targetOf(a, ociBase)
	if err != nil {
		return ChartCheck{}, err
	}
	c, err := p.check(ctx, t, a.Digest, knownManifest)
	if err != nil {
		return ChartCheck{}, fmt.Errorf("publish chart %s: check %s: %w", t.name, t.display(), err)
	}
	return c, nil
}

func (p *Publisher) check(ctx context.Context, t chartTarget, archiveDigest, knownManifest string) (ChartCheck, error) {
	c := ChartCheck{Ref: t.ref.String(), Repository: t.repository, ArchiveDigest: archiveDigest}
	reg, err := p.client()
	if err != nil {
		return c, err
	}
	if knownManifest != "" {
		d, exists, err := reg.HeadManifest(ctx, t.ref)
		switch {
		case err != nil:
			return c, err
		case !exists:
			return c, nil
		}
		c.Exists, c.Manifest = true, d
		if d == knownManifest {
			c.Same = true
			return c, nil
		}
	}
	m, err := reg.GetManifest(ctx, t.ref)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		c.Exists, c.Manifest = false, ""
		return c, nil
	case err != nil:
		return c, err
	}
	c.Exists, c.Manifest = true, m.Digest
	layer, err := chartLayerOf(m.Raw)
	if err != nil {
		return c, fmt.Errorf("the tag holds something else than a chart: %w", err)
	}
	c.Same = layer == archiveDigest
	return c, nil
}

// Publish pushes the archive unless the destination already holds it. check is an earlier
// Check of this archive at this destination (nil: Publish checks first, one manifest GET).
// A push is the config and the archive uploaded as blobs (each a blob transfer of the
// run: retried when cut, skipped when the repository holds it), then the manifest put
// under the version's tag.
func (p *Publisher) Publish(ctx context.Context, a ChartArchive, ociBase string, check *ChartCheck) (PublishResult, error) {
	t, err := targetOf(a, ociBase)
	if err != nil {
		return PublishResult{}, err
	}
	fail := func(err error) (PublishResult, error) {
		return PublishResult{}, fmt.Errorf("publish chart %s to %s: %w", t.name, t.display(), err)
	}
	reg, err := p.client()
	if err != nil {
		return fail(err)
	}
	var c ChartCheck
	if check != nil && check.ArchiveDigest == a.Digest {
		c = *check
	} else if c, err = p.check(ctx, t, a.Digest, ""); err != nil {
		return fail(fmt.Errorf("read the chart already there: %w", err))
	}
	if c.Same {
		return PublishResult{Ref: t.display(), Digest: c.Manifest, Skipped: true}, nil
	}
	if err := a.Load(); err != nil {
		return fail(err)
	}
	if !c.Exists && p.opts.EnsureRepository != nil {
		if err := p.opts.EnsureRepository(ctx, t.repository); err != nil {
			return fail(fmt.Errorf("create repository %s: %w", t.repository, err))
		}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	config, err := helmConfig(a.Metadata)
	if err != nil {
		return fail(err)
	}
	var cfg, layer v1.Descriptor
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		cfg, err = reg.PushBlob(gctx, t.ref, HelmConfigMediaType, config)
		return err
	})
	g.Go(func() (err error) {
		layer, err = reg.PushBlob(gctx, t.ref, HelmChartLayerMediaType, a.Data)
		return err
	})
	if err := g.Wait(); err != nil {
		return fail(err)
	}
	manifest, err := helmManifest(a.Metadata, cfg, layer, pushCreationTime)
	if err != nil {
		return fail(err)
	}
	digest, err := reg.PutManifest(ctx, t.ref, ociImageManifestMedia, manifest)
	if err != nil {
		return fail(err)
	}
	return PublishResult{Ref: t.display(), Digest: digest}, nil
}

// splitOCIBase splits "oci://host/ns" into host and ns (ns may be empty).
func splitOCIBase(base string) (host, namespace string, err error) {
	rest, ok := strings.CutPrefix(base, "oci://")
	if !ok {
		return "", "", fmt.Errorf("destination %q is not oci://host[/namespace]", base)
	}
	host, namespace, _ = strings.Cut(strings.Trim(rest, "/"), "/")
	if host == "" {
		return "", "", fmt.Errorf("destination %q has no registry host", base)
	}
	return host, strings.Trim(namespace, "/"), nil
}
