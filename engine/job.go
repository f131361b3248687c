package engine

import (
	"context"
	"time"

	"github.com/airgap-charts/airgap-charts/registry"
)

// ImageJob is one image to mirror: a source, where it lands, and the platform choice
// (parsed once from --platform; the zero value is auto).
type ImageJob struct {
	Source, Destination registry.ImageRef
	Platform            registry.Platform
}

func (j ImageJob) platform() registry.Platform { return j.Platform }

// key identifies a job: one job per distinct (source, destination, platform).
func (j ImageJob) key() string {
	return j.Source.String() + "|" + j.Destination.String() + "|" + j.platform().String()
}

// origin is what decides the content a job puts under its destination tag.
func (j ImageJob) origin() string { return j.Source.String() + "|" + j.platform().String() }

// pinnedDigest is the digest a job's destination tag must hold, known without a request:
// the source's pinned digest when the whole image (index included) is copied.
func (j ImageJob) pinnedDigest() string {
	if !j.platform().Auto() {
		return ""
	}
	return j.Source.Digest
}

// destinationTag is the repository:tag a job writes, empty when it writes by digest only.
func (j ImageJob) destinationTag() string {
	if j.Destination.Tag == "" {
		return ""
	}
	return j.Destination.Name() + ":" + j.Destination.Tag
}

// Outcome is what happened to an image job.
type Outcome string

const (
	OutcomeCopied            Outcome = "copied"
	OutcomeSkippedExisting   Outcome = "skipped-existing"
	OutcomeSkippedSameDigest Outcome = "skipped-same-digest"
	OutcomeOverwritten       Outcome = "overwritten"
	OutcomePlanned           Outcome = "planned" // scan-only, destination unknown: not consulted
	OutcomeFailed            Outcome = "failed"
	// OutcomeDrift: the destination tag holds another digest than the source's, and it was
	// not overwritten (no --overwrite-existing); the chart needing it is not published.
	OutcomeDrift Outcome = "drift"
	// Plan (and --scan-only) outcomes: the destination has the same digest, the image would
	// be copied, or the source does not have it (the addon fails).
	OutcomePresent         Outcome = "present"
	OutcomeToCopy          Outcome = "to_copy"
	OutcomeMissingAtSource Outcome = "missing_at_source"
)

// failed reports whether the outcome fails the image (and the chart needing it).
func (o Outcome) failed() bool { return o == OutcomeFailed || o == OutcomeMissingAtSource }

// JobResult is the outcome of one image job.
type JobResult struct {
	Job                      ImageJob
	Outcome                  Outcome
	SourceDigest, DestDigest string
	Bytes                    int64 // blob bytes uploaded
	Duration                 time.Duration
	Err                      error  // set when Outcome is failed
	Reason                   string // why a job was skipped, when not obvious
	// Drift says why the destination tag is drift (it holds another digest than the
	// source's); empty when it is not.
	Drift string
	// Referrers is what crossing the image's referrers did; nil when none were looked for.
	Referrers *registry.ReferrersResult
	// Signature is how the image's signatures verified (--verify-signatures); nil: not asked.
	Signature *registry.Verification
	// TagDigest is what the source reference resolved to when the lock asked (an index for
	// multi-arch images); Moved how it moved since the lock (pool_source.go).
	TagDigest, Moved string
	// SourceIndex is the source index's digest when a --platform list put a new index
	// holding only the listed children (DestDigest); MissingPlatforms are the listed
	// platforms the image lacked, left out (--platform-missing skip).
	SourceIndex      string
	MissingPlatforms []string

	copy *registry.CopyResult // what the copy put, when it copied
}

// ReasonImmutableTag is the Reason of a job skipped because the destination repository's
// tags are immutable and the tag already points at other content.
const ReasonImmutableTag = "immutable tag"

// Preflight answers what a destination tag points at, from a per-repository cache where
// the registry allows it (ECR). With no Preflight the pool sends one HEAD per tag.
type Preflight interface {
	TagDigest(ctx context.Context, dst registry.ImageRef) (digest string, exists bool, err error)
}

// Optional Preflight abilities the pool uses: registry.TagDeleter (remove a tag before it
// is overwritten; ECR: BatchDeleteImage, then push), registry.RepositoryEnsurer (create a
// destination repository before the first push, once per repository per run, a failure
// forgotten so a later job tries again, only for jobs that push), registry.TagRecorder
// (told of every push and deletion, so later answers stay true) and registry.MountPolicy
// (a destination that does not mount is never asked to).

// Policy is what to do with a destination tag that already exists.
type Policy struct {
	// SkipExisting skips an existing tag without asking the source (unless VerifyDigest
	// or Overwrite asks for a comparison).
	SkipExisting bool
	// VerifyDigest compares the source digest (HEAD) with the destination's: equal skips.
	VerifyDigest bool
	// Overwrite replaces a destination whose digest differs; without it a differing
	// destination is skipped with reason "digest differs".
	Overwrite bool
}
