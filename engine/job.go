package engine

import (
	"context"
	"time"

	"github.com/airgap-charts/airgap-charts/registry"
)

// ImageJob is one image to mirror: a source, where it lands, and the platform choice
// ("auto", "linux/amd64", "linux/arm64"; empty means auto).
type ImageJob struct {
	Source, Destination registry.ImageRef
	Platform            string
}

func (j ImageJob) platform() string {
	if j.Platform == "" {
		return registry.PlatformAuto
	}
	return j.Platform
}

// key identifies a job: one job per distinct (source, destination, platform).
func (j ImageJob) key() string {
	return j.Source.String() + "|" + j.Destination.String() + "|" + j.platform()
}

// origin is what decides the content a job puts under its destination tag.
func (j ImageJob) origin() string { return j.Source.String() + "|" + j.platform() }

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
	OutcomePlanned           Outcome = "planned" // scan-only: nothing pushed
	OutcomeFailed            Outcome = "failed"
)

// JobResult is the outcome of one image job.
type JobResult struct {
	Job                      ImageJob
	Outcome                  Outcome
	SourceDigest, DestDigest string
	Bytes                    int64 // blob bytes uploaded
	Duration                 time.Duration
	Err                      error  // set when Outcome is failed
	Reason                   string // why a job was skipped, when not obvious
}

// Preflight answers what a destination tag points at, from a per-repository cache where
// the registry allows it (ECR). With no Preflight the pool sends one HEAD per tag.
type Preflight interface {
	TagDigest(ctx context.Context, dst registry.ImageRef) (digest string, exists bool, err error)
}

// Deleter is an optional Preflight ability: remove a tag before it is overwritten (ECR,
// where immutable or same-tag pushes need it).
type Deleter interface {
	DeleteTag(ctx context.Context, ref registry.ImageRef) error
}

// RepositoryEnsurer is an optional Preflight ability: create a destination repository
// before the first push (ECR). It is called before every copy and must be cheap when the
// repository is known to exist.
type RepositoryEnsurer interface {
	EnsureRepository(ctx context.Context, repository string) error
}

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
