package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/airgap-charts/airgap-charts/registry/once"
	"github.com/airgap-charts/airgap-charts/registry/transport"
	"io"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"go.uber.org/zap"
)

// blobTable knows, for the whole run, which blobs are being transferred to a destination
// registry and which repositories of it already hold them. It is keyed by registry and
// digest across every repository: go-containerregistry only deduplicates per repository.
// It also knows the manifests the run copied by digest into each repository (index
// children), so that two copies of one index into one repository fetch each child once.
type blobTable struct {
	mu      sync.Mutex
	present map[string]map[string]bool // registry|digest → repositories holding it

	// transfers runs each blob transfer once (see ensureBlob for its keys).
	transfers once.Keyed[string, blobTransfer]
	// manifests copies each index child once per registry|repository|digest; a failed copy
	// is made again by the copies that waited for it.
	manifests once.Keyed[string, struct{}]
}

type blobTransfer struct {
	out blobOutcome
	n   int64
}

func newBlobTable() *blobTable {
	t := &blobTable{present: map[string]map[string]bool{}}
	t.manifests.RetryWaiters = true
	return t
}

// childOnce copies the index child desc into cp.dst and puts it under putRef, unless the
// run did already or the destination holds it by digest (its blobs are there): one copy
// per repository and digest for the run, which the other copies of that child wait for.
func (cp *copier) childOnce(ctx context.Context, desc v1.Descriptor, putRef string) error {
	key := cp.dst.RegistryStr() + "|" + cp.dst.RepositoryStr() + "|" + desc.Digest.String()
	var sub *copier // this copy's own run, when it is the one that runs
	_, err := cp.c.blobs.manifests.Do(ctx, key, func(ctx context.Context) (struct{}, error) {
		sub = &copier{c: cp.c, src: cp.src, dst: cp.dst, hc: cp.hc, noMount: cp.noMount, askFirst: cp.askFirst}
		if _, ok, err := headManifest(ctx, cp.hc, cp.dst, desc.Digest.String()); err != nil {
			return struct{}{}, fmt.Errorf("check manifest %s in %s: %w", desc.Digest, cp.dst, err)
		} else if ok {
			return struct{}{}, nil
		}
		return struct{}{}, sub.child(ctx, desc, putRef, false)
	})
	if err == nil && sub != nil { // read once Do returned this copy's own run
		cp.mu.Lock()
		cp.res.Blobs += sub.res.Blobs
		cp.res.Bytes += sub.res.Bytes
		cp.res.Mounted += sub.res.Mounted
		cp.res.Reused += sub.res.Reused
		cp.mu.Unlock()
	}
	return err
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
	// askFirst: open the source only once the destination said it lacks the blob
	// (WithDestinationHeld).
	askFirst bool
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
		from := ""
		for h := range holders {
			from = h
			break
		}
		c.blobs.mu.Unlock()

		own := false // set by this caller's transfer, read once Do has returned it
		res, err := c.blobs.transfers.Do(ctx, claim, func(ctx context.Context) (blobTransfer, error) {
			own = true
			out, n, err := c.transferBlob(ctx, j, from)
			if err == nil {
				c.blobs.mu.Lock()
				if c.blobs.present[key] == nil {
					c.blobs.present[key] = map[string]bool{}
				}
				c.blobs.present[key][repo] = true
				c.blobs.mu.Unlock()
			}
			return blobTransfer{out, n}, err
		})
		switch {
		case ctx.Err() != nil:
			return 0, 0, ctx.Err()
		case own && err != nil:
			return 0, 0, fmt.Errorf("blob %s to %s: %w", j.desc.Digest, j.dst, err)
		case own:
			return res.out, res.n, nil
		}
		// another caller's transfer ended (or failed, and was forgotten): look again
	}
}

const blobAttempts = 3

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
	release, ok := c.limits.MountGate(host)
	if !ok {
		return false, "", nil
	}
	if c.limits.MountsConfirmed(host) {
		// The gate let this mount through after the probe that queued it answered 201:
		// nothing more to learn, so it need not hold the gate while it mounts.
		release()
		release = func() {}
	}
	defer release()
	loc, mounted, err = startUpload(ctx, c.hc, j.dst, j.desc.Digest, from)
	switch {
	case (err != nil && refusedMount(err)) || (err == nil && !mounted && loc == ""):
		if !c.limits.MountsConfirmed(host) {
			c.limits.DisableMounts(host)
		}
		c.log.Debug("registry refused a blob mount; uploading instead", zap.String("registry", host),
			zap.String("from", from), zap.String("repository", j.dst.String()), zap.NamedError("refusal", err))
		return false, "", nil
	case err != nil:
		return false, "", fmt.Errorf("mount from %s: %w", from, err)
	case mounted:
		c.limits.ConfirmMounts(host)
	default:
		// 202: an upload session instead of a mount (ECR without BLOB_MOUNTING).
		c.limits.DisableMounts(host)
		c.log.Debug("registry does not mount blobs; uploading instead", zap.String("registry", host))
	}
	return mounted, loc, nil
}

// freshUpload is the first attempt at a blob no repository of the run has given the
// registry: it asks whether the destination repository holds it and opens an upload
// session, and at the same time, as soon as a transfer slot is free, opens the blob's
// source; then it streams the blob. On a cold copy the three answers arrive in one round
// trip instead of three. When the destination holds the blob the session is left to
// expire and the source read is abandoned. With j.askFirst (a repository that likely holds
// the blob) the destination is asked alone first: the upload session and the source are
// opened only for a blob it lacks (on ECR an upload session is a quota'd
// InitiateLayerUpload, and one per held blob was spent for nothing).
func (c *Client) freshUpload(ctx context.Context, j blobJob, monolithic bool) (blobOutcome, int64, error) {
	if j.askFirst {
		exists, err := headBlob(ctx, c.hc, j.dst, j.desc.Digest)
		switch {
		case err != nil:
			return 0, 0, fmt.Errorf("check blob: %w", err)
		case exists:
			return blobReused, 0, nil
		}
		loc, _, err := startUpload(ctx, c.hc, j.dst, j.desc.Digest, "")
		if err != nil {
			return 0, 0, fmt.Errorf("start upload: %w", err)
		}
		n, err := c.uploadFromSource(ctx, loc, j, monolithic)
		if err != nil {
			return 0, 0, err
		}
		return blobUploaded, n, nil
	}
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
	return c.limits.UploadCompletionBudgeted(host)
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
	if !c.limits.MountsConfirmed(j.dst.RegistryStr()) {
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
	var te *ggcrtransport.Error
	if errors.As(err, &te) {
		return te.StatusCode >= 500 || te.StatusCode == 408 || te.StatusCode == 429
	}
	return transport.RetryableError(err) || blobBodyMismatch(err)
}
