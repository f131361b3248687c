package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ResolveSource is the digest a copy of src for platform would put under its tag, asked of
// the source (or its mirror) even when src pins a digest: one manifest HEAD (free on
// Docker Hub), plus one GET of the index when an os/arch platform is chosen and the
// source is an index. A reference the source does not have is ErrNotFound.
func (c *Client) ResolveSource(ctx context.Context, src ImageRef, platform Platform) (string, error) {
	if src.Digest == "" || !platform.Auto() {
		d, err := c.SourceDigest(ctx, src, platform)
		return d, sourceNotFound(err)
	}
	ref, err := c.pullRef(src)
	if err != nil {
		return "", err
	}
	desc, err := c.puller.Head(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("source digest of %s: %w", src, sourceNotFound(err))
	}
	if got := desc.Digest.String(); got != src.Digest {
		return "", fmt.Errorf("source %s answers digest %s for its pinned digest", src, got)
	}
	return src.Digest, nil
}

// sourceNotFound wraps a 404 (or a registry error code saying the manifest or repository
// is unknown) as ErrNotFound.
func sourceNotFound(err error) error {
	if err == nil || errors.Is(err, ErrNotFound) {
		return err
	}
	var te *ggcrtransport.Error
	if !errors.As(err, &te) {
		return err
	}
	if te.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	for _, d := range te.Errors {
		if d.Code == ggcrtransport.ManifestUnknownErrorCode || d.Code == ggcrtransport.NameUnknownErrorCode {
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		}
	}
	return err
}
