package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The client's artifact requests: what charts stored in OCI registries need (tag listing,
// manifests, blobs, pushes), over the same authentication, limits and single retry layer
// as image copies. References are taken as they are: the image registry mirrors
// (ClientOptions.Mirrors) do not apply.

// ErrNotFound is a manifest or blob the registry does not have.
var ErrNotFound = errors.New("not found")

// Manifest is a manifest as the registry served it.
type Manifest struct {
	MediaType string
	// Digest is "sha256:…" of Raw.
	Digest string
	Raw    []byte
}

// repository is ref's repository as go-containerregistry names it.
func (c *Client) repository(ref ImageRef) (name.Repository, error) {
	repo, err := name.NewRepository(ref.Name(), c.nameOptions(ref.Registry)...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("repository %s: %w", ref.Name(), err)
	}
	return repo, nil
}

// notFound wraps a 404 answer as ErrNotFound.
func notFound(err error) error {
	var te *ggcrtransport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// ListTags lists every tag of ref's repository (its tag and digest are ignored), every
// page of the listing.
func (c *Client) ListTags(ctx context.Context, ref ImageRef) ([]string, error) {
	repo, err := c.repository(ref)
	if err != nil {
		return nil, err
	}
	tags, err := c.puller.List(ctx, repo)
	if err != nil {
		return nil, c.explainAuth(fmt.Errorf("list tags of %s: %w", ref.Name(), notFound(err)))
	}
	return tags, nil
}

// GetManifest reads the manifest ref names (its digest when pinned, else its tag); a
// manifest the registry does not have is ErrNotFound.
func (c *Client) GetManifest(ctx context.Context, ref ImageRef) (Manifest, error) {
	nref, err := ref.NameReference(c.nameOptions(ref.Registry)...)
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest %s: %w", ref, err)
	}
	d, err := c.puller.Get(ctx, nref)
	if err != nil {
		return Manifest{}, c.explainAuth(fmt.Errorf("manifest %s: %w", ref, notFound(err)))
	}
	return Manifest{MediaType: string(d.MediaType), Digest: d.Digest.String(), Raw: d.Manifest}, nil
}

// HeadManifest is the digest ref's tag (or digest) points at, by one HEAD; exists is false
// when the registry does not have it.
func (c *Client) HeadManifest(ctx context.Context, ref ImageRef) (digest string, exists bool, err error) {
	repo, err := c.repository(ref)
	if err != nil {
		return "", false, err
	}
	d, exists, err := headManifest(ctx, c.hc, repo, ref.Identifier())
	if err != nil {
		return "", false, c.explainAuth(fmt.Errorf("check %s: %w", ref, err))
	}
	if !exists {
		return "", false, nil
	}
	return d.Digest.String(), true, nil
}

// FetchBlob opens the blob ref.Digest of ref's repository; the reader fails at its end when
// the bytes do not match the digest. A blob the registry does not have is ErrNotFound.
func (c *Client) FetchBlob(ctx context.Context, ref ImageRef) (io.ReadCloser, error) {
	repo, err := c.repository(ref)
	if err != nil {
		return nil, err
	}
	if ref.Digest == "" {
		return nil, fmt.Errorf("blob of %s: no digest", ref)
	}
	l, err := c.puller.Layer(ctx, repo.Digest(ref.Digest))
	if err != nil {
		return nil, c.explainAuth(fmt.Errorf("blob %s: %w", ref, notFound(err)))
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, c.explainAuth(fmt.Errorf("blob %s: %w", ref, notFound(err)))
	}
	return rc, nil
}

// PushBlob makes ref's repository hold data as a blob of mediaType and returns its
// descriptor. It is one of the run's blob transfers (ensureBlob): a repository that holds
// it already is left alone, one the run gave it to is mounted from, and a failed
// upload is started again.
func (c *Client) PushBlob(ctx context.Context, ref ImageRef, mediaType string, data []byte) (v1.Descriptor, error) {
	repo, err := c.repository(ref)
	if err != nil {
		return v1.Descriptor{}, err
	}
	h, size, err := v1.SHA256(bytes.NewReader(data))
	if err != nil {
		return v1.Descriptor{}, err
	}
	desc := v1.Descriptor{MediaType: types.MediaType(mediaType), Size: size, Digest: h}
	if _, _, err := c.ensureBlob(ctx, blobJob{dst: repo, desc: desc, data: data}); err != nil {
		return v1.Descriptor{}, c.explainAuth(err)
	}
	return desc, nil
}

// PutManifest puts raw (of mediaType) under ref's tag, or its digest when it has no tag,
// and returns the manifest's digest.
func (c *Client) PutManifest(ctx context.Context, ref ImageRef, mediaType string, raw []byte) (string, error) {
	repo, err := c.repository(ref)
	if err != nil {
		return "", err
	}
	at := ref.Tag
	if at == "" {
		at = ref.Digest
	}
	d, err := putManifest(ctx, c.hc, repo, at, types.MediaType(mediaType), raw)
	if err != nil {
		return "", c.explainAuth(fmt.Errorf("put manifest %s: %w", ref, err))
	}
	return d, nil
}
