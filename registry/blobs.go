package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"go.uber.org/zap"
)

// blobTable knows, for the whole run, which blobs are being transferred to a destination
// registry and which repositories of it already hold them. It is keyed by registry and
// digest across every repository: go-containerregistry only deduplicates per repository.
type blobTable struct {
	mu       sync.Mutex
	inflight map[string]*blobCall
	present  map[string]map[string]bool // registry|digest → repositories holding it
}

type blobCall struct{ done chan struct{} }

func newBlobTable() *blobTable {
	return &blobTable{inflight: map[string]*blobCall{}, present: map[string]map[string]bool{}}
}

// blobJob is one blob that one destination repository needs.
type blobJob struct {
	src  name.Repository // where it is pulled from (mirror applied)
	dst  name.Repository
	desc v1.Descriptor
	data []byte // the blob, when it was already read (an image config checked for platform)
	// noMount: never try a cross-repository mount (the destination's MountPolicy says it
	// does not mount); a blob another repository received is uploaded again, from the spool.
	noMount bool
}

type blobOutcome int

const (
	blobUploaded blobOutcome = iota
	blobMounted
	blobReused
)

// ensureBlob makes j.dst hold the blob. One transfer per registry and digest runs at a
// time; a caller that finds one running waits for it, then mounts from the repository
// that received the blob. A failed transfer is forgotten, so the next caller tries again.
func (c *Client) ensureBlob(ctx context.Context, j blobJob) (blobOutcome, int64, error) {
	key := j.dst.RegistryStr() + "|" + j.desc.Digest.String()
	repo := j.dst.RepositoryStr()
	for {
		c.blobs.mu.Lock()
		holders := c.blobs.present[key]
		if holders[repo] {
			c.blobs.mu.Unlock()
			return blobReused, 0, nil
		}
		if call := c.blobs.inflight[key]; call != nil {
			c.blobs.mu.Unlock()
			select {
			case <-ctx.Done():
				return 0, 0, ctx.Err()
			case <-call.done:
			}
			continue
		}
		call := &blobCall{done: make(chan struct{})}
		c.blobs.inflight[key] = call
		from := ""
		for h := range holders {
			from = h
			break
		}
		c.blobs.mu.Unlock()

		out, n, err := c.transferBlob(ctx, j, from)

		c.blobs.mu.Lock()
		delete(c.blobs.inflight, key)
		if err == nil {
			if c.blobs.present[key] == nil {
				c.blobs.present[key] = map[string]bool{}
			}
			c.blobs.present[key][repo] = true
		}
		c.blobs.mu.Unlock()
		close(call.done)
		if err != nil {
			return 0, 0, fmt.Errorf("blob %s to %s: %w", j.desc.Digest, j.dst, err)
		}
		return out, n, nil
	}
}

const blobAttempts = 3

// transferBlob mounts the blob from the repository from (same registry) when the registry
// mounts and the job allows it, else checks whether the destination holds it, else uploads it.
func (c *Client) transferBlob(ctx context.Context, j blobJob, from string) (blobOutcome, int64, error) {
	hc := c.hc
	host := j.dst.RegistryStr()
	d := j.desc.Digest
	loc := ""
	mountOK := false
	if from != "" && !j.noMount {
		var release func()
		if release, mountOK = c.limits.mountGate(host); mountOK {
			l, mounted, err := startUpload(ctx, hc, j.dst, d, from)
			if err == nil && mounted {
				c.limits.confirmMounts(host)
			} else if err == nil {
				// 202: an upload session instead of a mount (ECR without BLOB_MOUNTING).
				c.limits.disableMounts(host)
				c.log.Debug("registry does not mount blobs; uploading instead", zap.String("registry", host))
			}
			release()
			if err != nil {
				return 0, 0, fmt.Errorf("mount from %s: %w", from, err)
			}
			if mounted {
				return blobMounted, 0, nil
			}
			loc = l
		}
	}
	if !mountOK {
		exists, err := headBlob(ctx, hc, j.dst, d)
		if err != nil {
			return 0, 0, err
		}
		if exists {
			return blobReused, 0, nil
		}
	}
	var err error
	for attempt := 1; ; attempt++ {
		if loc == "" {
			if loc, _, err = startUpload(ctx, hc, j.dst, d, ""); err != nil {
				return 0, 0, fmt.Errorf("start upload: %w", err)
			}
		}
		n, err := c.uploadFromSource(ctx, hc, loc, j)
		if err == nil {
			return blobUploaded, n, nil
		}
		if attempt >= blobAttempts || ctx.Err() != nil || !retryableUpload(err) {
			return 0, 0, err
		}
		c.log.Debug("retrying blob transfer", zap.String("digest", d.String()), zap.String("repository", j.dst.String()), zap.Error(err))
		loc = ""
	}
}

// uploadFromSource streams the blob into an upload session from, in order of preference,
// the bytes already read, the spool, or the source registry (teed into the spool while the
// destination registry is not known to mount).
func (c *Client) uploadFromSource(ctx context.Context, hc *http.Client, loc string, j blobJob) (int64, error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-c.slots }()

	d := j.desc.Digest
	var body io.ReadCloser
	if j.data != nil {
		body = io.NopCloser(bytes.NewReader(j.data))
	} else if rc, ok := c.spool.open(d); ok {
		body = rc
	} else {
		l, err := c.puller.Layer(ctx, j.src.Digest(d.String()))
		if err != nil {
			return 0, fmt.Errorf("source %s: %w", j.src, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return 0, fmt.Errorf("pull from %s: %w", j.src, err)
		}
		if !c.limits.mountsConfirmed(j.dst.RegistryStr()) {
			rc = c.spool.tee(d, j.desc.Size, rc)
		}
		body = rc
	}
	defer body.Close()
	cr := &countingReader{r: body}
	if err := uploadBlob(ctx, hc, loc, cr, j.desc.Size, d); err != nil {
		return 0, err
	}
	return cr.n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// retryableUpload says whether a failed blob transfer is worth starting again.
func retryableUpload(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode >= 500 || te.StatusCode == 408 || te.StatusCode == 429
	}
	return retryableError(err)
}
