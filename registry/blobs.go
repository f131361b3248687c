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
// It also knows the manifests the run copied by digest into each repository (index
// children), so that two copies of one index into one repository fetch each child once.
type blobTable struct {
	mu       sync.Mutex
	inflight map[string]*blobCall
	present  map[string]map[string]bool // registry|digest → repositories holding it

	manifestsInflight map[string]*blobCall // registry|repository|digest
	manifestsPut      map[string]bool
}

type blobCall struct{ done chan struct{} }

func newBlobTable() *blobTable {
	return &blobTable{inflight: map[string]*blobCall{}, present: map[string]map[string]bool{},
		manifestsInflight: map[string]*blobCall{}, manifestsPut: map[string]bool{}}
}

// claimManifest returns done when the run already put the manifest d into repo; else it
// waits for a copy of it in flight, and when there is none claims it: the caller copies
// it and calls release with whether it succeeded (a failure is forgotten).
func (t *blobTable) claimManifest(ctx context.Context, repo name.Repository, d v1.Hash) (done bool, release func(ok bool), err error) {
	key := repo.RegistryStr() + "|" + repo.RepositoryStr() + "|" + d.String()
	for {
		t.mu.Lock()
		if t.manifestsPut[key] {
			t.mu.Unlock()
			return true, nil, nil
		}
		if call := t.manifestsInflight[key]; call != nil {
			t.mu.Unlock()
			select {
			case <-ctx.Done():
				return false, nil, ctx.Err()
			case <-call.done:
			}
			continue
		}
		call := &blobCall{done: make(chan struct{})}
		t.manifestsInflight[key] = call
		t.mu.Unlock()
		return false, func(ok bool) {
			t.mu.Lock()
			delete(t.manifestsInflight, key)
			if ok {
				t.manifestsPut[key] = true
			}
			t.mu.Unlock()
			close(call.done)
		}, nil
	}
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

// transfersPerCopy is how many blob transfers (source GET streamed into a destination PUT)
// each of the client's Concurrency copies may have in flight on average. A transfer is
// mostly waiting on round trips, so the slots are several per copy: with one each, a
// copy's blobs queue behind each other's.
const transfersPerCopy = 4

// transferBlob mounts the blob from the repository from (same registry) when the registry
// mounts and the job allows it; else it uploads the blob unless the destination holds it.
func (c *Client) transferBlob(ctx context.Context, j blobJob, from string) (blobOutcome, int64, error) {
	host := j.dst.RegistryStr()
	monolithic := !c.completionBudgeted(host)
	loc := ""
	if from != "" && !j.noMount {
		mounted, l, err := c.mountBlob(ctx, j, from)
		if err != nil {
			return 0, 0, err
		}
		if mounted {
			return blobMounted, 0, nil
		}
		loc = l // "": the host does not mount; else the session its refusal opened
	}
	attempt := 1
	if loc == "" {
		out, n, err := c.freshUpload(ctx, j, monolithic)
		if err == nil || !c.retryBlob(ctx, j, attempt, err) {
			return out, n, err
		}
		attempt++
	}
	for ; ; attempt++ {
		var err error
		if loc == "" {
			if loc, _, err = startUpload(ctx, c.hc, j.dst, j.desc.Digest, ""); err != nil {
				return 0, 0, fmt.Errorf("start upload: %w", err)
			}
		}
		n, err := c.uploadFromSource(ctx, loc, j, monolithic)
		if err == nil {
			return blobUploaded, n, nil
		}
		if !c.retryBlob(ctx, j, attempt, err) {
			return 0, 0, err
		}
		loc = ""
	}
}

// retryBlob says whether a failed transfer attempt is worth another.
func (c *Client) retryBlob(ctx context.Context, j blobJob, attempt int, err error) bool {
	if attempt >= blobAttempts || ctx.Err() != nil || !retryableUpload(err) {
		return false
	}
	c.log.Debug("retrying blob transfer", zap.String("digest", j.desc.Digest.String()), zap.String("repository", j.dst.String()), zap.Error(err))
	return true
}

// mountBlob mounts j's blob from the repository from. mounted is false when the host does
// not mount: loc is then the upload session its refusal opened, or "" when the host was
// already known not to mount and nothing was asked, or when it refused this mount (401,
// 403, 404, DENIED… or a 201 that is not the blob): the blob is uploaded instead. A host
// whose mounts never worked is not asked again; one whose mounts did keeps being asked
// (the refusal may be that source repository's alone).
func (c *Client) mountBlob(ctx context.Context, j blobJob, from string) (mounted bool, loc string, err error) {
	host := j.dst.RegistryStr()
	release, ok := c.limits.mountGate(host)
	if !ok {
		return false, "", nil
	}
	if c.limits.mountsConfirmed(host) {
		// The gate let this mount through after the probe that queued it answered 201:
		// nothing more to learn, so it need not hold the gate while it mounts.
		release()
		release = func() {}
	}
	defer release()
	loc, mounted, err = startUpload(ctx, c.hc, j.dst, j.desc.Digest, from)
	switch {
	case (err != nil && refusedMount(err)) || (err == nil && !mounted && loc == ""):
		if !c.limits.mountsConfirmed(host) {
			c.limits.disableMounts(host)
		}
		c.log.Debug("registry refused a blob mount; uploading instead", zap.String("registry", host),
			zap.String("from", from), zap.String("repository", j.dst.String()), zap.NamedError("refusal", err))
		return false, "", nil
	case err != nil:
		return false, "", fmt.Errorf("mount from %s: %w", from, err)
	case mounted:
		c.limits.confirmMounts(host)
	default:
		// 202: an upload session instead of a mount (ECR without BLOB_MOUNTING).
		c.limits.disableMounts(host)
		c.log.Debug("registry does not mount blobs; uploading instead", zap.String("registry", host))
	}
	return mounted, loc, nil
}

// freshUpload is the first attempt at a blob no repository of the run has given the
// registry: it asks whether the destination repository holds it and opens an upload
// session, and at the same time, as soon as a transfer slot is free, opens the blob's
// source; then it streams the blob. On a cold copy the three answers arrive in one round
// trip instead of three. When the destination holds the blob the session is left to
// expire and the source read is abandoned.
func (c *Client) freshUpload(ctx context.Context, j blobJob, monolithic bool) (blobOutcome, int64, error) {
	octx, cancel := context.WithCancel(ctx)
	defer cancel()
	type opened struct {
		rc  io.ReadCloser
		err error
	}
	source := make(chan opened, 1)
	go func() {
		if err := c.takeSlot(octx); err != nil {
			source <- opened{nil, err}
			return
		}
		rc, err := c.openBlob(octx, j)
		if err != nil {
			c.releaseSlot()
		}
		source <- opened{rc, err}
	}()
	exists, loc, err := c.headAndStart(ctx, j)
	if err != nil || exists {
		cancel() // the source is not needed: stop waiting for a slot, or abandon the read
	}
	o := <-source
	if o.err == nil {
		defer c.releaseSlot()
		defer o.rc.Close()
	}
	switch {
	case err != nil:
		return 0, 0, err
	case exists:
		return blobReused, 0, nil
	case o.err != nil:
		return 0, 0, o.err
	}
	n, err := sendBlob(ctx, c.hc, loc, j, o.rc, monolithic)
	if err != nil {
		return 0, 0, err
	}
	return blobUploaded, n, nil
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

func (c *Client) takeSlot(ctx context.Context) error {
	select {
	case c.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) releaseSlot() { <-c.slots }

// uploadFromSource streams the blob into the upload session at loc.
func (c *Client) uploadFromSource(ctx context.Context, loc string, j blobJob, monolithic bool) (int64, error) {
	if err := c.takeSlot(ctx); err != nil {
		return 0, err
	}
	defer c.releaseSlot()
	rc, err := c.openBlob(ctx, j)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return sendBlob(ctx, c.hc, loc, j, rc, monolithic)
}

// openBlob opens the blob from, in order of preference, the bytes already read, the spool,
// or the source registry (teed into the spool while the destination registry is not known
// to mount).
func (c *Client) openBlob(ctx context.Context, j blobJob) (io.ReadCloser, error) {
	d := j.desc.Digest
	if j.data != nil {
		return io.NopCloser(bytes.NewReader(j.data)), nil
	}
	if rc, ok := c.spool.open(d); ok {
		return rc, nil
	}
	l, err := c.puller.Layer(ctx, j.src.Digest(d.String()))
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", j.src, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("pull from %s: %w", j.src, err)
	}
	if !c.limits.mountsConfirmed(j.dst.RegistryStr()) {
		rc = c.spool.tee(d, j.desc.Size, rc)
	}
	return rc, nil
}

// sendBlob streams body into the upload session at loc and completes it: with the PUT
// itself when monolithic, else with a PATCH before it. It returns the bytes sent.
func sendBlob(ctx context.Context, hc *http.Client, loc string, j blobJob, body io.Reader, monolithic bool) (int64, error) {
	cr := &countingReader{r: body}
	upload := uploadBlob
	if monolithic {
		upload = putBlob
	}
	if err := upload(ctx, hc, loc, cr, j.desc.Size, j.desc.Digest); err != nil {
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
	return retryableError(err) || blobBodyMismatch(err)
}
