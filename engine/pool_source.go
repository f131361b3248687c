package engine

import (
	"context"

	"github.com/airgap-charts/airgap-charts/registry"
)

// SourceChecker looks at a job's source before the pool decides it (the lock's check that
// a tag still holds the locked digest). It may pin the source to the digest it found, so
// that the copy pulls exactly what was checked.
type SourceChecker interface {
	CheckSource(ctx context.Context, c *registry.Client, job ImageJob) (SourceCheck, error)
}

// SourceWarmer is an optional SourceChecker ability: ask now, ahead of the job's copy slot,
// what CheckSource will ask, keeping the answer for it (an error is met again, and
// reported, by the job).
type SourceWarmer interface {
	WarmSource(ctx context.Context, c *registry.Client, job ImageJob)
}

// DestinationHistory is an optional SourceChecker ability: whether an earlier run copied
// an image into the job's destination repository, which then likely holds most of the
// blobs of the image copied there now (registry.WithDestinationHeld).
type DestinationHistory interface {
	CopiedInto(dst registry.ImageRef) bool
}

// SourceCheck is what a SourceChecker found.
type SourceCheck struct {
	// Pull is the job as the pool runs it: its source pinned to TagDigest when one was
	// asked for. The result still names the job as submitted.
	Pull ImageJob
	// TagDigest is what the source reference resolved to (an index for multi-arch images);
	// empty when the source was not asked.
	TagDigest string
	// Drift says how the source moved since the lock; empty when it did not.
	Drift string
	// Replace is the digest the destination tag may hold and be replaced: the locked one,
	// when the move was accepted (--update-lock). Empty: none.
	Replace string
}

// checkSource runs the pool's SourceChecker, if any.
func (p *Pool) checkSource(ctx context.Context, job ImageJob) (SourceCheck, error) {
	if p.opts.Sources == nil {
		return SourceCheck{Pull: job}, nil
	}
	return p.opts.Sources.CheckSource(ctx, p.opts.Client, job)
}
