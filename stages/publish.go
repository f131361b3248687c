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
	"oras.land/oras-go/v2/registry/remote/auth"
)

// PublishOptions configures PublishChart. The zero value pushes over HTTPS with
// http.DefaultTransport and no credentials.
type PublishOptions struct {
	// Insecure talks plain HTTP to the registry.
	Insecure bool
	// Transport carries every request (nil: http.DefaultTransport).
	Transport http.RoundTripper
	// Keychain resolves the registry's credentials (nil: anonymous).
	Keychain authn.Keychain
	// EnsureRepository makes the repository ("ns/chart") exist before a push, for
	// registries that do not create repositories on push (ECR); nil skips it.
	EnsureRepository func(ctx context.Context, repository string) error
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

// pushCreationTime is the creation annotation of every pushed chart, so that the same
// archive always gives the same manifest.
const pushCreationTime = "1980-01-01T00:00:00Z"

// PublishChart pushes the chart archive to oci://{registry}/{namespace?}/{chart}:{version}
// with Helm's registry client. It resolves the tag first and skips the push when the chart
// layer there has the archive's digest. Helm's client state lives in a temporary sandbox,
// never in the user's Helm home; credentials come from opts.Keychain only.
func PublishChart(ctx context.Context, archivePath string, ociBase string, opts PublishOptions) (PublishResult, error) {
	data, err := os.ReadFile(archivePath)
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish chart: %w", err)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish chart %s: %w", archivePath, err)
	}
	host, namespace, err := splitOCIBase(ociBase)
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish chart %s: %w", ch.Name(), err)
	}
	repository := ch.Name()
	if namespace != "" {
		repository = namespace + "/" + ch.Name()
	}
	ref := host + "/" + repository + ":" + ch.Metadata.Version
	fail := func(err error) (PublishResult, error) {
		return PublishResult{}, fmt.Errorf("publish chart %s to %s: %w", ch.Name(), ref, err)
	}

	sandbox, err := os.MkdirTemp("", "airgap-charts-helm-*")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(sandbox)
	client, err := newHelmRegistryClient(ctx, sandbox, opts)
	if err != nil {
		return fail(err)
	}

	sum := sha256.Sum256(data)
	chartDigest := "sha256:" + hex.EncodeToString(sum[:])
	desc, err := client.Resolve(ref)
	switch {
	case err == nil:
		layer, err := chartLayerDigest(client, ref)
		if err != nil {
			return fail(fmt.Errorf("read the chart already there: %w", err))
		}
		if layer == chartDigest {
			return PublishResult{Ref: ref, Digest: desc.Digest.String(), Skipped: true}, nil
		}
	case errors.Is(err, errdef.ErrNotFound):
		if opts.EnsureRepository != nil {
			if err := opts.EnsureRepository(ctx, repository); err != nil {
				return fail(fmt.Errorf("create repository %s: %w", repository, err))
			}
		}
	default:
		return fail(fmt.Errorf("resolve: %w", err))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	res, err := client.Push(data, ref, helmregistry.PushOptCreationTime(pushCreationTime))
	if err != nil {
		return fail(err)
	}
	return PublishResult{Ref: ref, Digest: res.Manifest.Digest}, nil
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

func newHelmRegistryClient(ctx context.Context, sandbox string, opts PublishOptions) (*helmregistry.Client, error) {
	base := opts.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	httpClient := &http.Client{Transport: contextTransport{ctx: ctx, base: base}}
	authorizer := auth.Client{
		Client:     httpClient,
		Credential: keychainCredential(opts.Keychain),
		Cache:      auth.NewCache(),
	}
	options := []helmregistry.ClientOption{
		helmregistry.ClientOptHTTPClient(httpClient),
		helmregistry.ClientOptAuthorizer(authorizer),
		helmregistry.ClientOptCredentialsFile(filepath.Join(sandbox, "registry", "config.json")),
		helmregistry.ClientOptWriter(io.Discard),
	}
	if opts.Insecure {
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

// chartLayerDigest reads the manifest at ref (and its config, not the chart) and returns
// the digest of its chart layer.
func chartLayerDigest(client *helmregistry.Client, ref string) (string, error) {
	res, err := client.Pull(ref,
		helmregistry.PullOptWithChart(false),
		helmregistry.PullOptWithProv(true),
		helmregistry.PullOptIgnoreMissingProv(true))
	if err != nil {
		return "", err
	}
	var manifest struct {
		Layers []struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(res.Manifest.Data, &manifest); err != nil {
		return "", fmt.Errorf("manifest: %w", err)
	}
	for _, l := range manifest.Layers {
		if l.MediaType == helmregistry.ChartLayerMediaType || l.MediaType == helmregistry.LegacyChartLayerMediaType {
			return l.Digest, nil
		}
	}
	return "", fmt.Errorf("manifest has no chart layer")
}
