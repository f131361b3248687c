package main

import (
	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/engine"
)

// signatureFlags: what crosses with each image besides it, and the keys it must verify
// against (sync and plan).
type signatureFlags struct {
	referrerFlags `embed:""`
	verifyFlags   `embed:""`
}

func (f signatureFlags) options(o *engine.Options) error {
	if err := f.verifyFlags.options(o); err != nil {
		return err
	}
	return f.referrerFlags.options(o)
}

// referrerFlags: what crosses with each image besides it (sync, plan, export).
type referrerFlags struct {
	Referrers     string   `group:"Signatures" enum:"all,signatures,none" default:"all" help:"What crosses with each image: all its referrers (signatures, SBOMs, attestations: OCI referrers, the referrers tag schema and cosign tags), signatures only (cosign, sigstore bundles, notation), or none (default: ${default})."`
	ReferrersType []string `group:"Signatures" name:"referrers-type" sep:"none" placeholder:"TYPE" help:"Copy only referrers of this artifactType, repeatable (e.g. application/spdx+json)."`
}

func (f referrerFlags) options(o *engine.Options) error {
	if f.Referrers == "none" && len(f.ReferrersType) > 0 {
		return usagef("--referrers-type needs --referrers all or signatures, not none")
	}
	o.Referrers = f.Referrers
	o.ReferrerTypes = trimAll(f.ReferrersType)
	return nil
}

// verifyFlags: the keys each image's signatures must verify against (sync, plan, import).
type verifyFlags struct {
	VerifySignatures []string `group:"Signatures" name:"verify-signatures" sep:"none" placeholder:"KEY" help:"Cosign public key file, repeatable: an image whose signatures verify against none is not copied and its addon fails; a Kyverno ClusterPolicy checking the same keys is written beside the consumer overrides."`
}

func (f verifyFlags) options(o *engine.Options) error {
	for _, k := range f.VerifySignatures {
		if err := config.CheckFile(k, "--verify-signatures key"); err != nil {
			return err
		}
	}
	o.VerifyKeys = trimAll(f.VerifySignatures)
	return nil
}
