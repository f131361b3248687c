package registry

import (
	"encoding/base64"

	"context"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airgap-charts/airgap-charts/registry/ecrsim"
	"github.com/airgap-charts/airgap-charts/registry/referrertest"
	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// refPeer is a registry of a referrers test: its host, how to count its writes, and the
// client settings it needs.
type refPeer struct {
	kind   string
	host   string
	writes func() int
	reset  func()
	auth   authn.Authenticator
	opts   func(*ClientOptions)
	isECR  bool
}

// ggcrPeer is go-containerregistry's in-memory registry with the referrers API.
func ggcrPeer(t *testing.T) *refPeer {
	var mu sync.Mutex
	writes := 0
	h := ggcrregistry.New(ggcrregistry.WithReferrersSupport(true), ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			mu.Lock()
			writes++
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &refPeer{kind: "ggcr", host: strings.TrimPrefix(srv.URL, "http://"),
		writes: func() int { mu.Lock(); defer mu.Unlock(); return writes },
		reset:  func() { mu.Lock(); writes = 0; mu.Unlock() }}
}

func distributionPeer(t *testing.T) *refPeer {
	r := registrytest.New(t)
	return &refPeer{kind: "distribution", host: r.Host, writes: func() int { return writesOf(r.Requests()) }, reset: r.Reset}
}

// ecrPeer is the ECR simulator, its repositories created and its token fetched with the
// AWS SDK's own ECR client, as the ecr package does.
func ecrPeer(t *testing.T, repos ...string) *refPeer {
	sim := ecrsim.New(t)
	ctx := context.Background()
	api := awsecr.NewFromConfig(sim.AWSConfig(), func(o *awsecr.Options) { o.BaseEndpoint = aws.String(sim.URL) })
	for _, r := range repos {
		if _, err := api.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String(r)}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := api.GetAuthorizationToken(ctx, &awsecr.GetAuthorizationTokenInput{})
	if err != nil || len(out.AuthorizationData) == 0 {
		t.Fatalf("GetAuthorizationToken: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	user, pass, ok := strings.Cut(string(raw), ":")
	if err != nil || !ok {
		t.Fatalf("ECR token: %v", err)
	}
	kc := staticKeychain{sim.Host, user, pass}
	return &refPeer{kind: "ecr", host: sim.Host, writes: func() int { return writesOf(sim.Requests()) }, reset: sim.ResetCounts,
		auth: authn.FromConfig(authn.AuthConfig{Username: user, Password: pass}), isECR: true, opts: func(o *ClientOptions) {
			o.Keychains = append(o.Keychains, kc)
			o.ECRHosts = append(o.ECRHosts, sim.Host)
		}}
}

func writesOf(rs []registrytest.Request) int {
	n := 0
	for _, q := range rs {
		if q.Method != http.MethodGet && q.Method != http.MethodHead {
			n++
		}
	}
	return n
}

// signedWorld is an index with two children at src/app:v1, signed the ways cosign signs:
// a legacy signature tag and a sigstore bundle on the index, an SBOM on each child, and a
// legacy signature on the bundle (a signature on the signature).
type signedWorld struct {
	repo          name.Repository
	index         v1.Descriptor
	amd64, arm64  v1.Descriptor
	bundle        v1.Descriptor
	signer        *referrertest.Signer
	indexSig      v1.Hash
	childSBOMs    []v1.Descriptor
	bundleSigHash v1.Hash
}

func newSignedWorld(t *testing.T, host string) *signedWorld {
	t.Helper()
	idx, _, _ := multiArch(t)
	pushIndex(t, host+"/src/app:v1", idx)
	repo, _ := name.NewRepository(host+"/src/app", name.Insecure)
	w := &signedWorld{repo: repo, signer: referrertest.NewSigner(t)}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	raw, _ := idx.RawManifest()
	w.index = v1.Descriptor{MediaType: im.MediaType, Digest: d, Size: int64(len(raw))}
	w.amd64, w.arm64 = im.Manifests[0], im.Manifests[1]
	w.indexSig = referrertest.LegacySignature(t, repo, d, w.signer)
	w.bundle = referrertest.Bundle(t, repo, w.index, w.signer)
	for _, c := range []v1.Descriptor{w.amd64, w.arm64} {
		w.childSBOMs = append(w.childSBOMs, referrertest.SBOM(t, repo, c))
	}
	w.bundleSigHash = referrertest.LegacySignature(t, repo, w.bundle.Digest, w.signer)
	return w
}

func (w *signedWorld) subjects() []v1.Hash {
	return []v1.Hash{w.index.Digest, w.amd64.Digest, w.arm64.Digest, w.bundle.Digest}
}

func referrerClient(t *testing.T, src, dst *refPeer) *Client {
	o := ClientOptions{Insecure: []string{src.host, dst.host}}
	if dst.opts != nil {
		dst.opts(&o)
	}
	return newTestClient(t, o)
}

// syncReferrers copies app:v1 for platform and its referrers, as the pool does; the
// destination's counts start after the image copy.
func syncReferrers(t *testing.T, c *Client, src, dst *refPeer, platform Platform, known map[string]bool) (CopyResult, ReferrersResult) {
	t.Helper()
	ctx := context.Background()
	s := MustParseImageRef(src.host + "/src/app:v1")
	d := MustParseImageRef(dst.host + "/mirror/src/app:v1")
	var copts []CopyOption
	if dst.isECR {
		copts = append(copts, WithoutMounts())
	}
	cr, err := c.Copy(ctx, s, d, platform, copts...)
	if err != nil {
		t.Fatal(err)
	}
	dst.reset() // what the referrers send is counted, not the image copy's
	rr, err := c.CopyReferrers(ctx, ReferrerCopy{Source: s, Destination: d, Subjects: cr.Manifests, LeftIndex: cr.LeftIndex,
		Known: known, NoMount: dst.isECR}, ReferrerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cr, rr
}

// Every kind of source (referrers API, tag schema) into every kind of destination (API,
// tag schema, ECR refusing index subjects): the destination lists the same referrers as
// the source for the index, each child and the signature; a second pass writes nothing;
// a signature added at the source is the one thing the next pass copies.
func TestCopyReferrersSameSetEveryDestination(t *testing.T) {
	sources := map[string]func(*testing.T) *refPeer{"ggcr": ggcrPeer, "distribution": distributionPeer}
	dests := map[string]func(*testing.T) *refPeer{"ggcr": ggcrPeer, "distribution": distributionPeer,
		"ecr": func(t *testing.T) *refPeer { return ecrPeer(t, "mirror/src/app") }}
	for sk, newSrc := range sources {
		for dk, newDst := range dests {
			t.Run(sk+"-to-"+dk, func(t *testing.T) {
				src, dst := newSrc(t), newDst(t)
				w := newSignedWorld(t, src.host)
				dstRepo, _ := name.NewRepository(dst.host+"/mirror/src/app", name.Insecure)
				_, rr := syncReferrers(t, referrerClient(t, src, dst), src, dst, PlatformAuto, nil)
				if rr.Found != 5 || len(rr.Copied) != 5 {
					t.Fatalf("found %d, copied %v; want the 5 referrers", rr.Found, rr.Copied)
				}
				for _, s := range w.subjects() {
					want := referrertest.List(t, w.repo, s, nil)
					if got := referrertest.List(t, dstRepo, s, dst.auth); !reflect.DeepEqual(got, want) || len(want) == 0 {
						t.Errorf("referrers of %s: destination %v, source %v", s, got, want)
					}
				}
				if dk == "ecr" && !hasNote(rr.Notes, "405") {
					t.Errorf("ECR refused the bundle on the index, but no note says so: %v", rr.Notes)
				}

				_, again := syncReferrers(t, referrerClient(t, src, dst), src, dst, PlatformAuto, nil)
				if n := dst.writes(); n != 0 || len(again.Copied) != 0 || again.Present != 5 {
					t.Fatalf("second pass: %d writes, copied %v, present %d", n, again.Copied, again.Present)
				}

				known := map[string]bool{}
				for _, ds := range again.AtDestination {
					for _, d := range ds {
						known[d] = true
					}
				}
				fresh := referrertest.Bundle(t, w.repo, w.index, referrertest.NewSigner(t))
				_, third := syncReferrers(t, referrerClient(t, src, dst), src, dst, PlatformAuto, known)
				if !reflect.DeepEqual(third.Copied, []string{fresh.Digest.String()}) {
					t.Fatalf("after a new signature at the source, copied %v, want only %s", third.Copied, fresh.Digest)
				}
				want := referrertest.List(t, w.repo, w.index.Digest, nil)
				if got := referrertest.List(t, dstRepo, w.index.Digest, dst.auth); !reflect.DeepEqual(got, want) {
					t.Errorf("referrers of the index after the new signature: destination %v, source %v", got, want)
				}
			})
		}
	}
}

func hasNote(notes []string, s string) bool {
	for _, n := range notes {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// With --platform linux/arm64 only the arm64 child's referrers cross; the index's are
// reported as not applicable.
func TestCopyReferrersPlatformFilter(t *testing.T) {
	src, dst := distributionPeer(t), ggcrPeer(t)
	w := newSignedWorld(t, src.host)
	dstRepo, _ := name.NewRepository(dst.host+"/mirror/src/app", name.Insecure)
	cr, rr := syncReferrers(t, referrerClient(t, src, dst), src, dst, MustParsePlatform("linux/arm64"), nil)
	if cr.DestDigest != w.arm64.Digest.String() {
		t.Fatalf("copied %s, want the arm64 child", cr.DestDigest)
	}
	if !reflect.DeepEqual(rr.Copied, []string{w.childSBOMs[1].Digest.String()}) {
		t.Errorf("copied %v, want the arm64 SBOM only", rr.Copied)
	}
	if len(rr.NotApplicable) != 2 {
		t.Errorf("not applicable %v, want the index's signature and bundle", rr.NotApplicable)
	}
	if got := referrertest.List(t, dstRepo, w.arm64.Digest, nil); !reflect.DeepEqual(got, referrertest.List(t, w.repo, w.arm64.Digest, nil)) {
		t.Errorf("arm64 referrers at the destination: %v", got)
	}
	for _, s := range []v1.Hash{w.index.Digest, w.amd64.Digest} {
		if got := referrertest.List(t, dstRepo, s, nil); len(got) != 0 {
			t.Errorf("referrers of %s crossed though it was not copied: %v", s, got)
		}
	}
}

// --referrers signatures keeps signatures and bundles, not SBOMs; --referrers-type keeps
// only the named type.
func TestCopyReferrersModes(t *testing.T) {
	src, dst := distributionPeer(t), distributionPeer(t)
	w := newSignedWorld(t, src.host)
	c := referrerClient(t, src, dst)
	ctx := context.Background()
	s := MustParseImageRef(src.host + "/src/app:v1")
	d := MustParseImageRef(dst.host + "/mirror/src/app:v1")
	cr, err := c.Copy(ctx, s, d, PlatformAuto)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := c.CopyReferrers(ctx, ReferrerCopy{Source: s, Destination: d, Subjects: cr.Manifests}, ReferrerOptions{Mode: ReferrersSignatures})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{w.indexSig.String(), w.bundle.Digest.String(), w.bundleSigHash.String()}
	if got := rr.Copied; !sameSet(got, want) {
		t.Errorf("signatures mode copied %v, want %v", got, want)
	}
	d2 := MustParseImageRef(dst.host + "/typed/src/app:v1")
	cr, err = c.Copy(ctx, s, d2, PlatformAuto)
	if err != nil {
		t.Fatal(err)
	}
	rr, err = c.CopyReferrers(ctx, ReferrerCopy{Source: s, Destination: d2, Subjects: cr.Manifests}, ReferrerOptions{Types: []string{referrertest.SBOMArtifactType}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{w.childSBOMs[0].Digest.String(), w.childSBOMs[1].Digest.String()}; !sameSet(rr.Copied, want) {
		t.Errorf("--referrers-type spdx copied %v, want %v", rr.Copied, want)
	}
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return len(a) == len(b)
}

// An image with no referrers costs one tag listing of its repository at a source without
// the referrers API (and one probe per host): never a manifest GET, so never a Docker Hub
// pull.
func TestDiscoverReferrersCostsNoPull(t *testing.T) {
	src := registrytest.New(t)
	idx, _, _ := multiArch(t)
	pushIndex(t, src.Host+"/src/plain:v1", idx)
	dst := distributionPeer(t)
	c := referrerClient(t, &refPeer{host: src.Host}, dst)
	ctx := context.Background()
	s := MustParseImageRef(src.Host + "/src/plain:v1")
	d := MustParseImageRef(dst.host + "/mirror/src/plain:v1")
	cr, err := c.Copy(ctx, s, d, PlatformAuto)
	if err != nil {
		t.Fatal(err)
	}
	src.Reset()
	dst.reset()
	rr, err := c.CopyReferrers(ctx, ReferrerCopy{Source: s, Destination: d, Subjects: cr.Manifests}, ReferrerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := src.Count(registrytest.ManifestGet); n != 0 {
		t.Errorf("discovery sent %d manifest GETs to the source", n)
	}
	// One listing of the repository's tags (none of the referrer tags of the 3 manifests is
	// in it: no HEAD), and one referrers API probe.
	if heads, lists, other := src.Count(registrytest.ManifestHead), src.Count(registrytest.TagsList), src.Count(registrytest.Other); heads != 0 || lists != 1 || other != 1 {
		t.Errorf("discovery sent %d HEADs, %d tag listings and %d other requests, want 0, 1 and 1: %v", heads, lists, other, src.Counts())
	}
	if rr.Requests != 2 || dst.writes() != 0 || len(dst.host) == 0 {
		t.Errorf("cost %d requests (want 2), %d destination writes", rr.Requests, dst.writes())
	}
}
