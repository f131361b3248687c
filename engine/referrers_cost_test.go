package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airgap-charts/airgap-charts/registry"
	"github.com/airgap-charts/airgap-charts/registry/referrertest"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// referrerFleet is n two-platform images in a source registry; every third is signed the
// way cosign signs (a legacy signature and a sigstore bundle on the index, an SBOM on each
// child).
func referrerFleet(tb testing.TB, src *registrytest.Registry, n int) []string {
	tb.Helper()
	signer := referrertest.NewSigner(tb)
	var refs []string
	for i := range n {
		var adds []mutate.IndexAddendum
		for _, arch := range []string{"amd64", "arm64"} {
			img, err := random.Image(1024, 2)
			if err != nil {
				tb.Fatal(err)
			}
			adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
		}
		idx := mutate.AppendManifests(empty.Index, adds...)
		ref := fmt.Sprintf("%s/fleet/app%d:v1", src.Host, i)
		tag, _ := name.NewTag(ref, name.Insecure)
		if err := remote.WriteIndex(tag, idx); err != nil {
			tb.Fatal(err)
		}
		refs = append(refs, ref)
		if i%3 != 0 {
			continue
		}
		d, _ := idx.Digest()
		raw, _ := idx.RawManifest()
		mt, _ := idx.MediaType()
		im, _ := idx.IndexManifest()
		top := v1.Descriptor{MediaType: mt, Digest: d, Size: int64(len(raw))}
		referrertest.LegacySignature(tb, tag.Context(), d, signer)
		referrertest.Bundle(tb, tag.Context(), top, signer)
		for _, c := range im.Manifests {
			referrertest.SBOM(tb, tag.Context(), c)
		}
	}
	return refs
}

// referrerCost is what one mode cost, cold and warm, per image.
type referrerCost struct {
	coldSrc, coldDst, warmSrc, warmDst float64
	coldPulls, warmPulls               float64 // source manifest GETs per image (Docker Hub pulls)
	copied                             int
}

// measureReferrerCost copies the fleet cold then warm (skip-existing) with mode and counts
// the requests each registry saw.
func measureReferrerCost(tb testing.TB, src *registrytest.Registry, refs []string, mode string) referrerCost {
	tb.Helper()
	dst := registrytest.New(tb)
	rp, err := newReferrerPolicy(Options{Referrers: mode, OutputDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	run := func() []JobResult {
		c, err := registry.NewClient(registry.ClientOptions{Concurrency: 4, SpoolDir: filepath.Join(tb.TempDir(), "spool"), Insecure: []string{"127.0.0.1"}})
		if err != nil {
			tb.Fatal(err)
		}
		defer c.Close()
		pool := NewPool(context.Background(), PoolOptions{Concurrency: 4, Client: c, Policy: Policy{SkipExisting: true}, Referrers: rp})
		for _, r := range refs {
			pool.Submit(job(r, dst.Host))
		}
		return pool.Close()
	}
	n := float64(len(refs))
	var out referrerCost
	src.Reset()
	for _, r := range run() {
		if r.Err != nil {
			tb.Fatalf("cold %s: %v", mode, r.Err)
		}
		if r.Referrers != nil {
			out.copied += len(r.Referrers.Copied)
		}
	}
	out.coldSrc, out.coldDst = float64(len(src.Requests()))/n, float64(len(dst.Requests()))/n
	out.coldPulls = float64(src.Count(registrytest.ManifestGet)) / n
	src.Reset()
	dst.Reset()
	for _, r := range run() {
		if r.Err != nil || r.Outcome != OutcomeSkippedExisting {
			tb.Fatalf("warm %s: %s %v", mode, r.Outcome, r.Err)
		}
	}
	out.warmSrc, out.warmDst = float64(len(src.Requests()))/n, float64(len(dst.Requests()))/n
	out.warmPulls = float64(src.Count(registrytest.ManifestGet)) / n
	return out
}

// TestReferrerCostPerImage: on a fleet where a third of the images are signed, --referrers
// all copies every referrer; cold, it pulls from the source only the signed images'
// referrers; warm, it asks the destination nothing more than --referrers none does (one
// HEAD per image) and the source only HEADs and referrers API GETs.
func TestReferrerCostPerImage(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	src := registrytest.New(t)
	refs := referrerFleet(t, src, 9)
	none := measureReferrerCost(t, src, refs, registry.ReferrersNone)
	all := measureReferrerCost(t, src, refs, registry.ReferrersAll)
	t.Logf("requests per image, none: cold src %.1f dst %.1f, warm src %.1f dst %.1f", none.coldSrc, none.coldDst, none.warmSrc, none.warmDst)
	t.Logf("requests per image, all:  cold src %.1f dst %.1f, warm src %.1f dst %.1f; %d referrers copied", all.coldSrc, all.coldDst, all.warmSrc, all.warmDst, all.copied)
	if all.copied != 3*4 || none.copied != 0 {
		t.Errorf("copied %d referrers with all (want 12: 3 signed images × 4), %d with none", all.copied, none.copied)
	}
	// Pulls: 3 manifests per image, plus per signed image its 4 referrers and the tag-schema
	// indexes found for the index and its two children (3).
	if want := float64(9*3+3*(4+3)) / 9; all.coldPulls != want {
		t.Errorf("cold source pulls per image %.2f, want %.2f", all.coldPulls, want)
	}
	if all.warmDst != none.warmDst || none.warmDst != 1 {
		t.Errorf("warm destination requests per image: all %.2f, none %.2f, want 1", all.warmDst, none.warmDst)
	}
	if all.warmPulls != 0 {
		t.Errorf("warm source manifest GETs per image with all: %.2f, want 0 (tag-schema indexes known by digest)", all.warmPulls)
	}
	if none.warmSrc != 0 {
		t.Errorf("warm source requests per image with none: %.2f", none.warmSrc)
	}
}

// BenchmarkReferrersRequestsPerImage reports the requests per image of --referrers all
// against none on a 30-image fleet, a third signed (run with -benchtime=1x).
func BenchmarkReferrersRequestsPerImage(b *testing.B) {
	b.Setenv("DOCKER_CONFIG", b.TempDir())
	src := registrytest.New(b)
	refs := referrerFleet(b, src, 30)
	var none, all referrerCost
	for b.Loop() {
		none = measureReferrerCost(b, src, refs, registry.ReferrersNone)
		all = measureReferrerCost(b, src, refs, registry.ReferrersAll)
	}
	for _, m := range []struct {
		name string
		v    float64
	}{
		{"none-cold-src-req/img", none.coldSrc}, {"none-cold-dst-req/img", none.coldDst},
		{"all-cold-src-req/img", all.coldSrc}, {"all-cold-dst-req/img", all.coldDst},
		{"none-warm-src-req/img", none.warmSrc}, {"none-warm-dst-req/img", none.warmDst},
		{"all-warm-src-req/img", all.warmSrc}, {"all-warm-dst-req/img", all.warmDst},
		{"all-cold-pulls/img", all.coldPulls}, {"none-cold-pulls/img", none.coldPulls}, {"all-warm-pulls/img", all.warmPulls},
	} {
		b.ReportMetric(m.v, m.name)
	}
}
