package registry

import (
	"github.com/airgap-charts/airgap-charts/registry/once"

	"context"
	"encoding/json"
	"fmt"
	"github.com/airgap-charts/airgap-charts/registry/transport"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// Referrer modes (--referrers).
const (
	ReferrersAll        = "all"
	ReferrersSignatures = "signatures"
	ReferrersNone       = "none"
)

// Artifact types of the signatures and attestations this tool knows by name.
const (
	ArtifactSigstoreBundle    = "application/vnd.dev.sigstore.bundle.v0.3+json"
	ArtifactCosignSignature   = "application/vnd.dev.cosign.artifact.sig.v1+json"
	ArtifactCosignAttestation = "application/vnd.dev.cosign.artifact.att.v1+json"
	ArtifactCosignSBOM        = "application/vnd.dev.cosign.artifact.sbom.v1+json"
	ArtifactNotarySignature   = "application/vnd.cncf.notary.signature"
	// CosignSimpleSigning is the media type of a cosign signature layer (the payload).
	CosignSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	// CosignSignatureAnnotation holds a legacy cosign signature, base64, on its layer.
	CosignSignatureAnnotation = "dev.cosignproject.cosign/signature"
)

// How a referrer was found.
const (
	ViaAPI       = "referrers-api"
	ViaTagSchema = "tag-schema"
	ViaCosignTag = "cosign-tag"
)

// legacySuffixes are cosign's tags beside an image, sha256-<hex>.<suffix>, with the
// artifact type each stands for.
var legacySuffixes = []struct{ suffix, artifactType string }{
	{"sig", ArtifactCosignSignature},
	{"att", ArtifactCosignAttestation},
	{"sbom", ArtifactCosignSBOM},
}

// ReferrerOptions says which artifacts referring to an image cross with it.
type ReferrerOptions struct {
	// Mode is all, signatures (cosign signatures, sigstore bundles, notation signatures)
	// or none; empty: all.
	Mode string
	// Types keeps only these artifact types (--referrers-type); empty: any the mode keeps.
	Types []string
	// MaxDepth bounds how far referrers of referrers are followed; 0: 2 (a signature on
	// a signature).
	MaxDepth int
}

// Enabled reports whether any referrer is copied.
func (o ReferrerOptions) Enabled() bool { return o.Mode != ReferrersNone }

func (o ReferrerOptions) depth() int {
	if o.MaxDepth <= 0 {
		return 2
	}
	return o.MaxDepth
}

// CheckReferrerMode describes what is wrong with a --referrers value, or "".
func CheckReferrerMode(m string) string {
	switch m {
	case "", ReferrersAll, ReferrersSignatures, ReferrersNone:
		return ""
	}
	return fmt.Sprintf("%q: want all, signatures or none", m)
}

// IsSignatureType reports whether an artifact type is a signature: cosign's, a sigstore
// bundle, or notation's.
func IsSignatureType(t string) bool {
	return t == ArtifactCosignSignature || t == ArtifactNotarySignature ||
		strings.HasPrefix(t, "application/vnd.dev.sigstore.bundle")
}

// keeps reports whether the options copy an artifact of type t.
func (o ReferrerOptions) keeps(t string) bool {
	if o.Mode == ReferrersNone {
		return false
	}
	if o.Mode == ReferrersSignatures && !IsSignatureType(t) {
		return false
	}
	if len(o.Types) == 0 {
		return true
	}
	for _, want := range o.Types {
		if want == t {
			return true
		}
	}
	return false
}

// Referrer is one artifact that refers to a manifest.
type Referrer struct {
	Subject    v1.Hash
	Descriptor v1.Descriptor // with ArtifactType
	Via        string
	// Tag is the cosign tag holding it (Via cosign-tag), copied as a tag.
	Tag string
}

// referrerState is what the client learned about referrers during the run: which hosts
// answer the referrers API, and the destination tag-schema indexes being written.
type referrerState struct {
	mu   sync.Mutex
	api  map[string]*apiSupport // host → support
	tags map[string]*sync.Mutex // registry/repository|subject → tag-schema index writer
	// requests counts discovery requests (referrers API GETs, tag HEADs) of the run.
	requests atomic.Int64
	// listings are the source repositories' tags, listed once per run (referrertags.go).
	listings once.Keyed[string, *tagListing]
}

type apiSupport struct {
	done      chan struct{}
	known     bool
	supported bool
}

// count counts one discovery request for the run and, when cost is set, for one image.
func (s *referrerState) count(cost *atomic.Int64) {
	s.requests.Add(1)
	if cost != nil {
		cost.Add(1)
	}
}

func newReferrerState() *referrerState {
	return &referrerState{api: map[string]*apiSupport{}, tags: map[string]*sync.Mutex{}}
}

func (s *referrerState) tagLock(repo name.Repository, subject v1.Hash) *sync.Mutex {
	key := repo.String() + "|" + subject.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.tags[key]
	if m == nil {
		m = &sync.Mutex{}
		s.tags[key] = m
	}
	return m
}

// setAPI records what a host said about the referrers API (a probe, or an OCI-Subject
// answer to a push).
func (s *referrerState) setAPI(host string, supported bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.api[host]
	if a == nil {
		a = &apiSupport{done: make(chan struct{})}
		close(a.done)
		s.api[host] = a
	}
	if !a.known {
		a.known, a.supported = true, supported
	}
}

// fallbackTag is the referrers tag schema's tag for subject: sha256-<hex>.
func fallbackTag(subject v1.Hash) string { return subject.Algorithm + "-" + subject.Hex }

// referrersAccept lists what a manifest HEAD or GET of a referrer may answer.
// apiSupported says whether repo's host answers the referrers API, asking it once per
// run (the first subject's listing is the probe: its answer is kept when supported).
func (c *Client) apiSupported(ctx context.Context, repo name.Repository, subject v1.Hash, artifactType string, cost *atomic.Int64) (supported bool, first *v1.IndexManifest, err error) {
	host := repo.RegistryStr()
	s := c.referrers
	for {
		s.mu.Lock()
		a := s.api[host]
		if a == nil {
			a = &apiSupport{done: make(chan struct{})}
			s.api[host] = a
			s.mu.Unlock()
			idx, ok, err := c.listReferrersAPI(ctx, repo, subject, artifactType, cost)
			s.mu.Lock()
			if err != nil {
				delete(s.api, host) // forgotten: the next caller asks again
			} else {
				a.known, a.supported = true, ok
			}
			s.mu.Unlock()
			close(a.done)
			return ok, idx, err
		}
		s.mu.Unlock()
		select {
		case <-a.done:
		case <-ctx.Done():
			return false, nil, ctx.Err()
		}
		s.mu.Lock()
		known, sup := a.known, a.supported
		s.mu.Unlock()
		if known {
			return sup, nil, nil
		}
	}
}

// maxReferrerPages bounds the pages of one referrers listing.
const maxReferrerPages = 10

// listReferrersAPI lists subject's referrers with the referrers API; ok is false when the
// host does not serve it (404, 400, 405, 406 or an answer that is not an index).
func (c *Client) listReferrersAPI(ctx context.Context, repo name.Repository, subject v1.Hash, artifactType string, cost *atomic.Int64) (*v1.IndexManifest, bool, error) {
	u := repoURL(repo, "referrers/"+subject.String())
	if artifactType != "" {
		u += "?" + url.Values{"artifactType": {artifactType}}.Encode()
	}
	out := &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for page := 0; u != "" && page < maxReferrerPages; page++ {
		c.referrers.count(cost)
		resp, err := do(ctx, c.hc, http.MethodGet, u, nil, map[string]string{"Accept": string(types.OCIImageIndex)})
		if err != nil {
			return nil, false, err
		}
		switch resp.StatusCode {
		case http.StatusNotFound, http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusNotAcceptable:
			transport.Drain(resp)
			return nil, false, nil
		}
		if err := ggcrtransport.CheckError(resp, http.StatusOK); err != nil {
			transport.Drain(resp)
			return nil, false, err
		}
		ct := strings.TrimSpace(strings.Split(resp.Header.Get("Content-Type"), ";")[0])
		var idx v1.IndexManifest
		err = json.NewDecoder(io.LimitReader(resp.Body, maxConfigBytes)).Decode(&idx)
		next := nextLink(resp)
		transport.Drain(resp)
		if err != nil || (ct != "" && ct != string(types.OCIImageIndex)) {
			return nil, false, nil // not a referrers answer: the host does not serve the API
		}
		out.Manifests = append(out.Manifests, idx.Manifests...)
		u = next
	}
	return out, true, nil
}

// nextLink is the URL of a Link: <…>; rel="next" header, resolved against the request.
func nextLink(resp *http.Response) string {
	l := resp.Header.Get("Link")
	if l == "" || !strings.Contains(l, `rel="next"`) {
		return ""
	}
	start, end := strings.Index(l, "<"), strings.Index(l, ">")
	if start < 0 || end <= start {
		return ""
	}
	u, err := url.Parse(l[start+1 : end])
	if err != nil {
		return ""
	}
	return resp.Request.URL.ResolveReference(u).String()
}

// discoverReferrers finds what refers to subject in repo and the options keep: the
// referrers API where the host serves it, else the referrers tag schema (a HEAD, then a GET
// only when the tag exists), and cosign's tags (HEADs). It never GETs a manifest that does
// not exist, so it spends no Docker Hub pull on an image without referrers.
func (c *Client) discoverReferrers(ctx context.Context, repo name.Repository, subject v1.Hash, o ReferrerOptions, cost *atomic.Int64) ([]Referrer, error) {
	return c.discoverReferrersCached(ctx, repo, subject, o, cost, nil)
}

// listingCache holds referrers tag-schema indexes by digest: one read by an earlier run
// is not pulled again while the tag still points at it (a HEAD says so).
type listingCache struct {
	mu    sync.Mutex
	known map[string][]v1.Descriptor // index digest → its manifests
	read  map[string][]v1.Descriptor // what this pass read or reused
}

func (l *listingCache) get(d v1.Hash) ([]v1.Descriptor, bool) {
	if l == nil {
		return nil, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.known[d.String()]
	if ok {
		l.read[d.String()] = m
	}
	return m, ok
}

func (l *listingCache) put(d v1.Hash, m []v1.Descriptor) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.read[d.String()] = m
	l.mu.Unlock()
}

func (c *Client) discoverReferrersCached(ctx context.Context, repo name.Repository, subject v1.Hash, o ReferrerOptions, cost *atomic.Int64, lc *listingCache) ([]Referrer, error) {
	var mu sync.Mutex
	var out []Referrer
	add := func(r Referrer) {
		if r.Descriptor.Digest == subject || !o.keeps(r.Descriptor.ArtifactType) {
			return
		}
		mu.Lock()
		out = append(out, r)
		mu.Unlock()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		filter := ""
		if len(o.Types) == 1 {
			filter = o.Types[0]
		}
		ok, idx, err := c.apiSupported(gctx, repo, subject, filter, cost)
		if err != nil {
			return fmt.Errorf("referrers of %s@%s: %w", repo, subject, err)
		}
		if ok && idx == nil {
			if idx, _, err = c.listReferrersAPI(gctx, repo, subject, filter, cost); err != nil {
				return fmt.Errorf("referrers of %s@%s: %w", repo, subject, err)
			}
		}
		if ok {
			for _, d := range idx.Manifests {
				add(Referrer{Subject: subject, Descriptor: d, Via: ViaAPI})
			}
			return nil
		}
		refs, err := c.tagSchemaReferrers(gctx, repo, subject, cost, lc)
		if err != nil {
			return err
		}
		for _, r := range refs {
			add(r)
		}
		return nil
	})
	for _, l := range legacySuffixes {
		if !o.keeps(l.artifactType) {
			continue
		}
		g.Go(func() error {
			tag := fallbackTag(subject) + "." + l.suffix
			if has, known := c.listedTag(gctx, repo, tag, cost); known && !has {
				return nil
			}
			c.referrers.count(cost)
			d, ok, err := headManifest(gctx, c.hc, repo, tag)
			if err != nil {
				return fmt.Errorf("cosign tag %s:%s: %w", repo, tag, err)
			}
			if ok {
				d.ArtifactType = l.artifactType
				add(Referrer{Subject: subject, Descriptor: d, Via: ViaCosignTag, Tag: tag})
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// tagSchemaReferrers reads the referrers tag schema's index for subject, if any.
func (c *Client) tagSchemaReferrers(ctx context.Context, repo name.Repository, subject v1.Hash, cost *atomic.Int64, lc *listingCache) ([]Referrer, error) {
	tag := fallbackTag(subject)
	if has, known := c.listedTag(ctx, repo, tag, cost); known && !has {
		return nil, nil
	}
	c.referrers.count(cost)
	d, ok, err := headManifest(ctx, c.hc, repo, tag)
	if err != nil {
		return nil, fmt.Errorf("referrers tag %s:%s: %w", repo, tag, err)
	}
	// Some registries read sha256-<hex> as the digest itself: that is the subject, not a
	// referrers index.
	if !ok || d.Digest == subject || (d.MediaType != "" && !d.MediaType.IsIndex()) {
		return nil, nil
	}
	manifests, ok := lc.get(d.Digest)
	if !ok {
		idx, err := c.readIndex(ctx, repo, d.Digest)
		if err != nil {
			return nil, fmt.Errorf("referrers tag %s:%s: %w", repo, tag, err)
		}
		manifests = idx.Manifests
		lc.put(d.Digest, manifests)
	}
	var out []Referrer
	for _, m := range manifests {
		out = append(out, Referrer{Subject: subject, Descriptor: m, Via: ViaTagSchema})
	}
	return out, nil
}

// readIndex GETs an index by digest.
func (c *Client) readIndex(ctx context.Context, repo name.Repository, d v1.Hash) (*v1.IndexManifest, error) {
	got, err := c.puller.Get(ctx, repo.Digest(d.String()))
	if err != nil {
		return nil, err
	}
	if !got.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s@%s is %s, not an index", repo, d, got.MediaType)
	}
	return v1.ParseIndexManifest(strings.NewReader(string(got.Manifest)))
}

// ReferrerRequests is how many discovery requests (referrers API GETs, tag HEADs) the run
// has sent.
func (c *Client) ReferrerRequests() int64 { return c.referrers.requests.Load() }
