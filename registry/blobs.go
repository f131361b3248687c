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

// ensureBlob makes j.dst hold the blob. The first transfer of a digest to a registry runs
// alone: a caller that finds it running waits, then mounts from the repository that
// received the blob. Once a repository holds it, every other repository mounts (or, where
// the registry does not mount, uploads from the spool) at once, one transfer per
// repository. A failed transfer is forgotten, so the next caller tries again.
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
		// Holders only grow: while there are none, the registry-wide claim is the one to
		// take; afterwards each repository takes its own.
		claim := key
		if len(holders) > 0 {
			claim = key + "|" + repo
		}
		if call := c.blobs.inflight[claim]; call != nil {
			c.blobs.mu.Unlock()
			select {
			case <-ctx.Done():
				return 0, 0, ctx.Err()
			case <-call.done:
			}
			continue
		}
		call := &blobCall{done: make(chan struct{})}
		c.blobs.inflight[claim] = call
		from := ""
		for h := range holders {
			from = h
			break
		}
		c.blobs.mu.Unlock()

		out, n, err := c.transferBlob(ctx, j, from)

		c.blobs.mu.Lock()
		delete(c.blobs.inflight, claim)
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
// mounts and the job allows it; else it asks whether the destination holds the blob while
// it opens an upload session (one round trip for both), and uploads it unless it is there.
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
		exists, l, err := c.headAndStart(ctx, j)
		if err != nil {
			return 0, 0, err
		}
		if exists {
			return blobReused, 0, nil
		}
		loc = l
	}
	monolithic := !c.completionBudgeted(host)
	var err error
	for attempt := 1; ; attempt++ {
		if loc == "" {
			if loc, _, err = startUpload(ctx, hc, j.dst, d, ""); err != nil {
				return 0, 0, fmt.Errorf("start upload: %w", err)
			}
		}
		n, err := c.uploadFromSource(ctx, hc, loc, j, monolithic)
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

// headAndStart asks whether j.dst holds the blob and opens an upload session, both at
// once: on a cold copy the blob is absent and the session is needed, so the answer costs
// no round trip of its own. When the blob is there the session is left to expire.
func (c *Client) headAndStart(ctx context.Context, j blobJob) (exists bool, loc string, err error) {
	type headAnswer struct {
		exists bool
		err    error
	}
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	head := make(chan headAnswer, 1)
	go func() {
		ok, err := headBlob(hctx, c.hc, j.dst, j.desc.Digest)
		head <- headAnswer{ok, err}
	}()
	loc, _, startErr := startUpload(ctx, c.hc, j.dst, j.desc.Digest, "")
	h := <-head
	switch {
	case h.err != nil:
		return false, "", fmt.Errorf("check blob: %w", h.err)
	case h.exists:
		return true, "", nil
	case startErr != nil:
		return false, "", fmt.Errorf("start upload: %w", startErr)
	}
	return false, loc, nil
}

// completionBudgeted reports whether the host budgets upload completions (ECR's
// CompleteLayerUpload quota, or a rate the user set). Such a host gets the chunked upload:
// its budgeted PUT carries no body, so a 429 on it is retried by the transport instead of
// costing the blob's bytes again.
func (c *Client) completionBudgeted(host string) bool {
	s := c.limits.state(host)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buckets[bucketKind(KindUpload)+":complete"] != nil
}

// uploadFromSource streams the blob into an upload session from, in order of preference,
// the bytes already read, the spool, or the source registry (teed into the spool while the
// destination registry is not known to mount). monolithic sends it with the PUT that
// completes the session; otherwise with a PATCH before it.
func (c *Client) uploadFromSource(ctx context.Context, hc *http.Client, loc string, j blobJob, monolithic bool) (int64, error) {
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
	upload := uploadBlob
	if monolithic {
		upload = putBlob
	}
	if err := upload(ctx, hc, loc, cr, j.desc.Size, d); err != nil {
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
