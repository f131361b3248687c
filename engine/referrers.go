package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/stages"
)

// ReferrerPolicy is what crosses with each image besides itself: its referrers (signatures,
// SBOMs, attestations), and whether its signatures must verify before it is copied.
type ReferrerPolicy struct {
	Options registry.ReferrerOptions
	// Verifier, when set, checks every image's signatures before it is copied or skipped;
	// an image without a signature verifying against one of its keys fails.
	Verifier *registry.SignatureVerifier
	// memo is the destination's referrers as the last run left them (nil: none kept).
	memo *referrerMemo
}

// newReferrerPolicy reads the referrer options and keys of a run; nil when the run
// neither copies referrers nor verifies.
func newReferrerPolicy(opts Options) (*ReferrerPolicy, error) {
	if msg := registry.CheckReferrerMode(opts.Referrers); msg != "" {
		return nil, fmt.Errorf("--referrers %s", msg)
	}
	rp := &ReferrerPolicy{Options: registry.ReferrerOptions{Mode: opts.Referrers, Types: opts.ReferrerTypes}}
	if rp.Options.Mode == "" {
		rp.Options.Mode = registry.ReferrersAll
	}
	if len(opts.VerifyKeys) > 0 {
		v, err := registry.LoadSignatureVerifier(opts.VerifyKeys)
		if err != nil {
			return nil, err
		}
		rp.Verifier = v
	}
	if !rp.Options.Enabled() && rp.Verifier == nil {
		return nil, nil
	}
	rp.memo = loadReferrerMemo(filepath.Join(opts.OutputDir, ".cache", "referrers.json"))
	return rp, nil
}

// save keeps what the run learned for the next one; a failure is logged.
func (rp *ReferrerPolicy) save(log *zap.Logger) {
	if rp == nil || rp.memo == nil {
		return
	}
	if err := rp.memo.save(); err != nil {
		log.Warn("referrers record not saved; the next run asks the destination again", zap.Error(err))
	}
}

// verify checks a job's signatures when the policy asks for it.
func (p *Pool) verify(ctx context.Context, job ImageJob) (*registry.Verification, error) {
	rp := p.opts.Referrers
	if rp == nil || rp.Verifier == nil || p.opts.ScanOnly {
		return nil, nil
	}
	v, err := p.opts.Client.VerifySignatures(ctx, job.Source, rp.Verifier)
	if err != nil {
		return &v, fmt.Errorf("image %s: not copied: %w", job.Source, err)
	}
	return &v, nil
}

// crossReferrers brings the referrers of a job's manifests to its destination: after a
// copy, of what was copied; after a skip, of what the destination holds (from the last
// run's record, else read from the destination, never pulled from the source). A failure
// fails the job: a mirror without its signatures fails admission later.
func (p *Pool) crossReferrers(ctx context.Context, job ImageJob, res *JobResult) {
	rp := p.opts.Referrers
	if rp == nil || !rp.Options.Enabled() || p.opts.ScanOnly || res.Err != nil || res.DestDigest == "" {
		return
	}
	c := p.opts.Client
	key := job.Destination.Name() + "@" + res.DestDigest
	var subjects []v1.Descriptor
	var left *v1.Descriptor
	switch {
	case res.copy != nil:
		subjects, left = res.copy.Manifests, res.copy.LeftIndex
	case (res.Outcome == OutcomeSkippedExisting || res.Outcome == OutcomeSkippedSameDigest) && res.Reason == "":
		subjects = rp.memo.subjects(key)
		if subjects == nil {
			var err error
			if subjects, err = c.IndexManifests(ctx, job.Destination, res.DestDigest); err != nil {
				res.Err = fmt.Errorf("image %s: referrers: %w", job.Source, err)
				return
			}
		}
	default:
		return
	}
	rc := registry.ReferrerCopy{Source: job.Source, Destination: job.Destination, Subjects: subjects, LeftIndex: left,
		Known: rp.memo.known(key), Listings: rp.memo.listings(key)}
	if mp, ok := p.opts.Preflight.(registry.MountPolicy); ok && !mp.MountsBlobs(ctx) {
		rc.NoMount = true
	}
	rr, err := c.CopyReferrers(ctx, rc, rp.Options)
	res.Referrers = &rr
	if err != nil {
		res.Err = fmt.Errorf("image %s: %w", job.Source, err)
		return
	}
	rp.memo.put(key, subjects, rr)
}

// writeVerifyPolicy writes, beside the consumer overrides, a Kyverno ClusterPolicy that
// checks the mirrored images' signatures with the keys the run verified them with.
func (e *runEnv) writeVerifyPolicy(a config.Addon, p *preparedAddon, rep *AddonReport) error {
	if e.referrers == nil || e.referrers.Verifier == nil {
		return nil
	}
	seen := map[string]bool{}
	var repos []string
	for _, m := range p.mappings {
		if r := m.Destination.Name(); !seen[r] {
			seen[r] = true
			repos = append(repos, r)
		}
	}
	sort.Strings(repos)
	path := filepath.Join(chartDir(e.opts, a), "verify-images-policy.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	name := "airgap-verify-" + strings.ToLower(a.Name())
	if err := stages.WriteVerifyPolicy(path, stages.VerifyPolicy{Name: name, Repositories: repos, Keys: e.referrers.Verifier.KeyPEMs()}); err != nil {
		return fmt.Errorf("verification policy %s: %w", path, err)
	}
	rep.VerifyPolicy = path
	if !e.opts.Platform.Auto() {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("--platform %s copies part of each index: "+
			"signatures made for the source index do not cover it, so the policy %s rejects these images "+
			"unless each child is signed too", e.opts.Platform, path))
	}
	return nil
}
