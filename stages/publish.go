package stages

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"helm.sh/helm/v3/pkg/chart/loader"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// PublishOptions configures PublishChart. The zero value pushes over HTTPS with
// http.DefaultTransport and no credentials.
type PublishOptions struct {
	// Insecure: the registry is marked insecure. Without Scheme, it is spoken to in plain
	// HTTP; with Scheme, Scheme decides (TLS unless the host does not speak it).
	Insecure bool
	// Scheme says how a host is spoken to ("https" or "http"); nil: https unless Insecure.
	Scheme func(ctx context.Context, host string) (string, error)
	// Transport carries every request (nil: http.DefaultTransport).
	Transport http.RoundTripper
	// Keychain resolves the registry's credentials (nil: anonymous).
	Keychain authn.Keychain
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

// maxChartManifestBytes bounds the chart manifest read by a check.
const maxChartManifestBytes = 4 << 20

// Publisher checks and pushes chart archives with one auth cache for all of them (a
// registry's challenge and tokens are learnt once, not once per chart). Safe for
// concurrent use.
type Publisher struct {
	opts  PublishOptions
	cache auth.Cache
}

// NewPublisher returns a Publisher with opts.
func NewPublisher(opts PublishOptions) *Publisher {
	return &Publisher{opts: opts, cache: auth.NewCache()}
}

// PublishChart pushes the chart archive to oci://{registry}/{namespace?}/{chart}:{version}
// with Helm's registry client, unless the tag already holds the archive (checked with one
// manifest GET). Helm's client state lives in a temporary sandbox, never in the user's Helm
// home; credentials come from opts.Keychain only.
func PublishChart(ctx context.Context, archivePath string, ociBase string, opts PublishOptions) (PublishResult, error) {
	return NewPublisher(opts).Publish(ctx, archivePath, ociBase, nil)
}

// chartArchive is an archive read for publishing.
type chartArchive struct {
	data            []byte
	name, version   string
	ref, repository string
	digest, host    string
}

func readChartArchive(archivePath, ociBase string) (*chartArchive, error) {
	data, err := os.ReadFile(archivePath)
	if err != nil {
		return nil, fmt.Errorf("publish chart: %w", err)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("publish chart %s: %w", archivePath, err)
	}
	host, namespace, err := splitOCIBase(ociBase)
	if err != nil {
		return nil, fmt.Errorf("publish chart %s: %w", ch.Name(), err)
	}
	repository := ch.Name()
	if namespace != "" {
		repository = namespace + "/" + ch.Name()
	}
	sum := sha256.Sum256(data)
	return &chartArchive{data: data, name: ch.Name(), version: ch.Metadata.Version, host: host,
		repository: repository,
		ref:        host + "/" + repository + ":" + ch.Metadata.Version,
		digest:     "sha256:" + hex.EncodeToString(sum[:])}, nil
}

// tag is the version as Helm tags it ("+" is not allowed in a tag).
func (a *chartArchive) tag() string { return strings.ReplaceAll(a.version, "+", "_") }

// Check says whether the destination already holds the archive at its tag. With
// knownManifest (the manifest digest this archive was pushed as before, "" when unknown)
// it sends one manifest HEAD and, when the tag matches, nothing else; otherwise one
// manifest GET, whose chart layer is compared with the archive.
func (p *Publisher) Check(ctx context.Context, archivePath, ociBase, knownManifest string) (ChartCheck, error) {
	a, err := readChartArchive(archivePath, ociBase)
	if err != nil {
		return ChartCheck{}, err
	}
	c, err := p.check(ctx, a, knownManifest)
	if err != nil {
		return ChartCheck{}, fmt.Errorf("publish chart %s: check %s: %w", a.name, a.ref, err)
	}
	return c, nil
}

func (p *Publisher) check(ctx context.Context, a *chartArchive, knownManifest string) (ChartCheck, error) {
	c := ChartCheck{Ref: a.host + "/" + a.repository + ":" + a.tag(), Repository: a.repository, ArchiveDigest: a.digest}
	repo, err := p.repository(ctx, a)
	if err != nil {
		return c, err
	}
	if knownManifest != "" {
		desc, err := repo.Resolve(ctx, a.tag())
		switch {
		case errors.Is(err, errdef.ErrNotFound):
			return c, nil
		case err != nil:
			return c, fmt.Errorf("HEAD manifest: %w", err)
		}
		c.Exists, c.Manifest = true, desc.Digest.String()
		if c.Manifest == knownManifest {
			c.Same = true
			return c, nil
		}
	}
	desc, body, err := repo.FetchReference(ctx, a.tag())
	switch {
	case errors.Is(err, errdef.ErrNotFound):
		c.Exists, c.Manifest = false, ""
		return c, nil
	case err != nil:
		return c, fmt.Errorf("GET manifest: %w", err)
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, maxChartManifestBytes))
	if err != nil {
		return c, fmt.Errorf("GET manifest: %w", err)
	}
	c.Exists, c.Manifest = true, desc.Digest.String()
	layer, err := chartLayerOf(data)
	if err != nil {
		return c, fmt.Errorf("the tag holds something else than a chart: %w", err)
	}
	c.Same = layer == a.digest
	return c, nil
}

// repository is a's repository at the destination, reached through the publisher's
// transport and auth cache.
func (p *Publisher) repository(ctx context.Context, a *chartArchive) (*remote.Repository, error) {
	repo, err := remote.NewRepository(a.host + "/" + a.repository)
	if err != nil {
		return nil, err
	}
	if repo.PlainHTTP, err = p.plainHTTP(ctx, a.host); err != nil {
		return nil, err
	}
	repo.Client = p.authorizer(ctx)
	return repo, nil
}

// plainHTTP says whether host is spoken to in plain HTTP.
func (p *Publisher) plainHTTP(ctx context.Context, host string) (bool, error) {
	if p.opts.Scheme == nil {
		return p.opts.Insecure, nil
	}
	s, err := p.opts.Scheme(ctx, host)
	if err != nil {
		return false, err
	}
	return s == "http", nil
}

func (p *Publisher) authorizer(ctx context.Context) *auth.Client {
	base := p.opts.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	return &auth.Client{
		Client:     &http.Client{Transport: contextTransport{ctx: ctx, base: base}},
		Credential: keychainCredential(p.opts.Keychain),
		Cache:      p.cache,
	}
}

// Publish pushes the archive unless the destination already holds it. check is an earlier
// Check of this archive at this destination (nil: Publish checks first, one manifest GET).
func (p *Publisher) Publish(ctx context.Context, archivePath, ociBase string, check *ChartCheck) (PublishResult, error) {
	a, err := readChartArchive(archivePath, ociBase)
	if err != nil {
		return PublishResult{}, err
	}
	fail := func(err error) (PublishResult, error) {
		return PublishResult{}, fmt.Errorf("publish chart %s to %s: %w", a.name, a.ref, err)
	}
	var c ChartCheck
	if check != nil && check.ArchiveDigest == a.digest {
		c = *check
	} else if c, err = p.check(ctx, a, ""); err != nil {
		return fail(fmt.Errorf("read the chart already there: %w", err))
	}
	if c.Same {
		return PublishResult{Ref: a.ref, Digest: c.Manifest, Skipped: true}, nil
	}
	if !c.Exists && p.opts.EnsureRepository != nil {
		if err := p.opts.EnsureRepository(ctx, a.repository); err != nil {
			return fail(fmt.Errorf("create repository %s: %w", a.repository, err))
		}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	sandbox, err := os.MkdirTemp(p.opts.TempDir, "airgap-charts-helm-*")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(sandbox)
	plain, err := p.plainHTTP(ctx, a.host)
	if err != nil {
		return fail(err)
	}
	client, err := p.helmClient(ctx, sandbox, plain)
	if err != nil {
		return fail(err)
	}
	var res *helmregistry.PushResult
	for attempt := 1; ; attempt++ {
		// A blob upload's body cannot be replayed by the transport: a 5xx or a cut on it
		// fails the push, which is started again (the registry keeps what it got whole).
		res, err = client.Push(a.data, a.ref, helmregistry.PushOptCreationTime(pushCreationTime))
		if err == nil || attempt >= downloadAttempts || ctx.Err() != nil || !retryablePush(err) {
			break
		}
	}
	if err != nil {
		return fail(err)
	}
	return PublishResult{Ref: a.ref, Digest: res.Manifest.Digest}, nil
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

// helmClient is a Helm registry client over the publisher's transport and auth cache,
// its state in sandbox.
func (p *Publisher) helmClient(ctx context.Context, sandbox string, plainHTTP bool) (*helmregistry.Client, error) {
	authorizer := p.authorizer(ctx)
	options := []helmregistry.ClientOption{
		helmregistry.ClientOptHTTPClient(authorizer.Client),
		helmregistry.ClientOptAuthorizer(*authorizer),
		helmregistry.ClientOptCredentialsFile(filepath.Join(sandbox, "registry", "config.json")),
		helmregistry.ClientOptWriter(io.Discard),
	}
	if plainHTTP {
		options = append(options, helmregistry.ClientOptPlainHTTP())
	}
	client, err := helmregistry.NewClient(options...)
	if err != nil {
		return nil, fmt.Errorf("helm registry client: %w", err)
	}
	return client, nil
}

// contextTransport ties the requests of Helm's client (made without a context) to ctx.
type contextTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t contextTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.ctx.Err(); err != nil {
		return nil, err
	}
	return t.base.RoundTrip(req.WithContext(t.ctx))
}

// chartLayerOf returns the digest of a chart manifest's chart layer.
func chartLayerOf(manifestJSON []byte) (string, error) {
	var manifest struct {
		Layers []struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(manifestJSON, &manifest); err != nil {
		return "", fmt.Errorf("manifest: %w", err)
	}
	for _, l := range manifest.Layers {
		if l.MediaType == helmregistry.ChartLayerMediaType || l.MediaType == helmregistry.LegacyChartLayerMediaType {
			return l.Digest, nil
		}
	}
	return "", fmt.Errorf("manifest has no chart layer")
}

// retryablePush reports whether a failed push is worth starting again: a 5xx, 408 or 429
// answer, or a transfer cut in the middle.
func retryablePush(err error) bool {
	var er *errcode.ErrorResponse
	if errors.As(err, &er) {
		return er.StatusCode >= 500 || er.StatusCode == http.StatusRequestTimeout || er.StatusCode == http.StatusTooManyRequests
	}
	return cutTransfer(err)
}
