package engine

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/registry"
)

// ReasonDestinationUnknown is the Reason of a job planned without asking the destination:
// a plan with no --target-registry and no AWS configuration.
const ReasonDestinationUnknown = "destination unknown: not consulted"

// plan decides a job without writing anything: the source resolved to a digest (one
// manifest HEAD; the index read too only when a platform is chosen), the destination tag
// asked through the preflight (one HEAD, or the repository's batch listing on ECR). No
// blob is read, nothing is pushed. A source the lock's check already asked (sc, platform
// auto) is not asked again.
func (p *Pool) plan(ctx context.Context, pd *Pending, sc SourceCheck) JobResult {
	job := pd.job
	sd, err := sc.TagDigest, error(nil)
	if sd == "" || !job.platform().Auto() {
		sd, err = p.resolveSource(ctx, job)
	}
	if errors.Is(err, registry.ErrNotFound) {
		return JobResult{Outcome: OutcomeMissingAtSource, Reason: "not found at the source",
			Err: fmt.Errorf("image %s: not found at the source: %w", job.Source, err)}
	}
	if err != nil {
		return JobResult{Err: fmt.Errorf("image %s: %w", job.Source, err)}
	}
	if pd.rival != nil {
		// The rival is a job of this run: its digest is resolved once for both.
		if rd, err := p.resolveSource(ctx, *pd.rival); err == nil && rd != sd {
			return JobResult{SourceDigest: sd, Err: fmt.Errorf("destination collision on %s: %s (%s, %s) and %s (%s, %s) land on the same tag with different digests",
				job.destinationTag(), pd.rival.Source, pd.rival.platform(), rd, job.Source, job.platform(), sd)}
		}
	}
	if p.opts.NoDestination {
		return JobResult{Outcome: OutcomePlanned, SourceDigest: sd, Reason: ReasonDestinationUnknown}
	}
	dd, exists, err := p.opts.Preflight.TagDigest(ctx, job.Destination)
	switch {
	case err != nil:
		return JobResult{SourceDigest: sd, Err: fmt.Errorf("image %s: preflight %s: %w", job.Source, job.Destination, err)}
	case !exists:
		return JobResult{Outcome: OutcomeToCopy, SourceDigest: sd}
	case !p.opts.Policy.SkipExisting && !p.opts.Policy.VerifyDigest && !p.opts.Policy.Overwrite:
		// --no-skip-existing: a sync copies it again, whatever the tag holds.
		res := JobResult{Outcome: OutcomeToCopy, SourceDigest: sd, DestDigest: dd, Reason: "copied again (--no-skip-existing)"}
		if dd != sd {
			res.Drift = driftText(sd, dd)
		}
		return res
	case dd == sd:
		return JobResult{Outcome: OutcomePresent, SourceDigest: sd, DestDigest: dd}
	case p.opts.Policy.Overwrite:
		return JobResult{Outcome: OutcomeToCopy, SourceDigest: sd, DestDigest: dd, Drift: driftText(sd, dd),
			Reason: "would overwrite the destination tag (--overwrite-existing)"}
	}
	return p.drifted(job, sd, dd)
}

// resolveSource is job's source digest for its platform, asked of the source once per
// run (a failure is asked again by the next job needing it). A reference pinning a digest
// beside its tag shares the tag's HEAD with the tag-only references of the same image; its
// digest is asked on its own only when the tag no longer points at it.
func (p *Pool) resolveSource(ctx context.Context, job ImageJob) (string, error) {
	src, platform := job.Source, job.platform()
	ask := func(ref registry.ImageRef) (string, error) {
		key := ref.Name() + ":" + ref.Tag + "@" + ref.Digest + "|" + platform.String()
		return p.resolved.Do(ctx, key, func(ctx context.Context) (string, error) {
			return p.opts.Client.ResolveSource(ctx, ref, platform)
		})
	}
	if src.Digest == "" || src.Tag == "" || !platform.Auto() {
		return ask(src)
	}
	byTag := src
	byTag.Digest = ""
	if d, err := ask(byTag); err == nil && d == src.Digest {
		return d, nil
	}
	return ask(src)
}

// drifted is the result of a job whose destination tag holds another digest than the
// source's, left as it is (no --overwrite-existing): a warning, and the chart needing the
// image is not published.
func (p *Pool) drifted(job ImageJob, source, dest string) JobResult {
	d := driftText(source, dest)
	p.log.Warn("drift: the destination tag holds another digest than the source; not overwritten without --overwrite-existing",
		zap.String("image", job.Source.String()), zap.String("destination", job.Destination.String()),
		zap.String("source_digest", source), zap.String("destination_digest", dest))
	return JobResult{Outcome: OutcomeDrift, SourceDigest: source, DestDigest: dest, Drift: d,
		Reason: "digest differs"}
}

// driftText says what differs, for ImageReport.Drift.
func driftText(source, dest string) string {
	return fmt.Sprintf("destination tag holds %s, source %s", dest, source)
}
