package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/airgap-charts/airgap-charts/registry/transport"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// ReferrerCopy is the referrers of one copied image to bring along.
type ReferrerCopy struct {
	Source, Destination ImageRef
	// Subjects are the manifests at the destination whose referrers cross (CopyResult.Manifests).
	Subjects []v1.Descriptor
	// LeftIndex is a source index a platform filter left behind: its referrers are found
	// and reported as not applicable, not copied.
	LeftIndex *v1.Descriptor
	// Known are referrer digests the destination held at the end of the last run: they
	// are not asked about again (a warm rerun sends the destination nothing for them).
	Known map[string]bool
	// Listings are the source's referrers tag-schema indexes the last run read, by digest
	// (ReferrersResult.Listings): not pulled again while the tag still points at them.
	Listings map[string][]v1.Descriptor
	// NoMount: the destination does not mount blobs (WithoutMounts).
	NoMount bool
}

// ReferrersResult says what crossing one image's referrers did.
type ReferrersResult struct {
	// Found is the referrers found at the source that the options keep, recursively.
	Found int `json:"found"`
	// Copied are the referrers pushed to the destination; Present were there already.
	Copied  []string `json:"copied,omitempty"`
	Present int      `json:"present"`
	// NotApplicable are referrers of the source index that a platform filter left behind.
	NotApplicable []string `json:"not_applicable,omitempty"`
	// Notes say how referrers were pushed where the referrers API did not take them.
	Notes []string `json:"notes,omitempty"`
	// Requests is the discovery requests this image cost (referrers API GETs, tag HEADs).
	Requests int64 `json:"discovery_requests"`
	// AtDestination maps each subject digest to the referrer digests the destination now
	// holds for it (the record a later run reads as Known).
	AtDestination map[string][]string `json:"-"`
	// Listings are the source's tag-schema indexes read (or reused), for the next run.
	Listings map[string][]v1.Descriptor `json:"-"`
}

// copiedManifests are an index's descriptor and its children that the copy puts.
func copiedManifests(top v1.Descriptor, raw []byte) []v1.Descriptor {
	out := []v1.Descriptor{top}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return out
	}
	for _, m := range idx.Manifests {
		if m.MediaType.IsIndex() || m.MediaType.IsImage() {
			out = append(out, m)
		}
	}
	return out
}

// IndexManifests reads the index (or image) at digest in dst and returns it with its
// children: the subjects of an image the run did not copy (it was there), when no earlier
// run recorded them. It is a destination GET, never a source pull.
func (c *Client) IndexManifests(ctx context.Context, dst ImageRef, digest string) ([]v1.Descriptor, error) {
	repo, err := c.destRepo(dst)
	if err != nil {
		return nil, err
	}
	got, err := c.puller.Get(ctx, repo.Digest(digest))
	if err != nil {
		return nil, fmt.Errorf("read %s@%s: %w", repo, digest, err)
	}
	if got.MediaType.IsIndex() {
		return copiedManifests(got.Descriptor, got.Manifest), nil
	}
	return []v1.Descriptor{got.Descriptor}, nil
}

// CopyReferrers copies what refers to each subject (and what refers to those, MaxDepth
// deep) from the source repository to the destination, through the run's blob table and
// limits. A referrer is pushed by digest with its subject; where the destination does not
// answer OCI-Subject, the referrers tag schema's index (sha256-<hex>) is kept up to date,
// and where it refuses the push (ECR, subject an index: 405) the referrer goes under that
// tag first. Cosign's tags are copied as tags.
func (c *Client) CopyReferrers(ctx context.Context, rc ReferrerCopy, o ReferrerOptions) (ReferrersResult, error) {
	ref, err := c.pullRef(rc.Source)
	if err != nil {
		return ReferrersResult{}, err
	}
	dst, err := c.destRepo(rc.Destination)
	if err != nil {
		return ReferrersResult{}, err
	}
	r := &refCopier{c: c, o: o, rc: rc, src: ref.Context(), dst: dst,
		cp:       &copier{c: c, src: ref.Context(), dst: dst, hc: c.hc, noMount: rc.NoMount},
		listings: map[string]map[string]bool{}, notes: map[string]bool{},
		lc: &listingCache{known: rc.Listings, read: map[string][]v1.Descriptor{}}}
	r.res.AtDestination = map[string][]string{}
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range rc.Subjects {
		g.Go(func() error { return r.subject(gctx, s, 1) })
	}
	if rc.LeftIndex != nil {
		g.Go(func() error {
			refs, err := c.discoverReferrers(gctx, r.src, rc.LeftIndex.Digest, o, &r.cost)
			if err != nil {
				return err
			}
			r.mu.Lock()
			for _, x := range refs {
				r.res.NotApplicable = append(r.res.NotApplicable, x.Descriptor.Digest.String())
			}
			r.mu.Unlock()
			return nil
		})
	}
	err = g.Wait()
	r.res.Requests = r.cost.Load()
	r.res.Listings = r.lc.read
	sort.Strings(r.res.Copied)
	sort.Strings(r.res.NotApplicable)
	for n := range r.notes {
		r.res.Notes = append(r.res.Notes, n)
	}
	sort.Strings(r.res.Notes)
	if err != nil {
		return r.res, fmt.Errorf("referrers of %s to %s: %w", rc.Source, rc.Destination, err)
	}
	return r.res, nil
}

type refCopier struct {
	c        *Client
	o        ReferrerOptions
	rc       ReferrerCopy
	src, dst name.Repository
	cp       *copier
	cost     atomic.Int64
	lc       *listingCache

	mu       sync.Mutex
	res      ReferrersResult
	listings map[string]map[string]bool // subject → referrer digests the destination lists
	notes    map[string]bool
}

// tagEntry is a referrer the destination's tag-schema index must list; raw is set when the
// destination refused it with its subject and it is to be pushed under the tag first.
type tagEntry struct {
	desc v1.Descriptor
	raw  []byte
}

// subject copies the referrers of s found at the source.
func (r *refCopier) subject(ctx context.Context, s v1.Descriptor, depth int) error {
	refs, err := r.c.discoverReferrersCached(ctx, r.src, s.Digest, r.o, &r.cost, r.lc)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.res.Found += len(refs)
	r.mu.Unlock()
	var entries []tagEntry
	var emu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.c.bounds.ManifestFanout)
	for _, ref := range refs {
		g.Go(func() error {
			e, err := r.one(gctx, s, ref)
			if err != nil {
				return fmt.Errorf("referrer %s of %s: %w", ref.Descriptor.Digest, s.Digest, err)
			}
			if e != nil {
				emu.Lock()
				entries = append(entries, *e)
				emu.Unlock()
			}
			r.mu.Lock()
			r.res.AtDestination[s.Digest.String()] = append(r.res.AtDestination[s.Digest.String()], ref.Descriptor.Digest.String())
			r.mu.Unlock()
			if depth < r.o.depth() {
				return r.subject(gctx, ref.Descriptor, depth+1)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(entries) > 0 {
		return r.updateTagSchema(ctx, s.Digest, entries)
	}
	return nil
}

func (r *refCopier) note(n string) {
	r.mu.Lock()
	r.notes[n] = true
	r.mu.Unlock()
}

// one brings one referrer to the destination unless it is there; it returns the tag-schema
// entry the destination still needs, if any.
func (r *refCopier) one(ctx context.Context, s v1.Descriptor, ref Referrer) (*tagEntry, error) {
	d := ref.Descriptor.Digest
	if r.rc.Known[d.String()] {
		r.present()
		return nil, nil
	}
	// One copy per repository and digest for the run: another image bringing the same
	// referrer (a shared signature) makes this one present.
	key := r.dst.RegistryStr() + "|" + r.dst.RepositoryStr() + "|" + d.String()
	var entry *tagEntry
	ran := false
	_, err := r.c.blobs.manifests.Do(ctx, key, func(ctx context.Context) (struct{}, error) {
		ran = true
		e, err := r.bring(ctx, s, ref)
		entry = e
		return struct{}{}, err
	})
	if err != nil {
		return nil, err
	}
	if !ran {
		r.present() // another image of the run brought it
		return nil, nil
	}
	return entry, nil
}

// bring checks the destination for the referrer and copies it when missing.
func (r *refCopier) bring(ctx context.Context, s v1.Descriptor, ref Referrer) (*tagEntry, error) {
	d := ref.Descriptor.Digest
	if ref.Tag != "" {
		got, ok, err := headManifest(ctx, r.c.hc, r.dst, ref.Tag)
		if err != nil {
			return nil, fmt.Errorf("check %s:%s: %w", r.dst, ref.Tag, err)
		}
		if ok && got.Digest == d {
			r.present()
			return nil, nil
		}
	} else {
		_, ok, err := headManifest(ctx, r.c.hc, r.dst, d.String())
		if err != nil {
			return nil, fmt.Errorf("check %s@%s: %w", r.dst, d, err)
		}
		if ok {
			r.present()
			linked, err := r.linked(ctx, s.Digest, d)
			if err != nil || linked {
				return nil, err
			}
			return &tagEntry{desc: ref.Descriptor}, nil
		}
	}
	return r.copyOne(ctx, s, ref)
}

func (r *refCopier) present() {
	r.mu.Lock()
	r.res.Present++
	r.mu.Unlock()
}

// copyOne pulls the referrer, copies what it holds, and pushes it.
func (r *refCopier) copyOne(ctx context.Context, s v1.Descriptor, ref Referrer) (*tagEntry, error) {
	d := ref.Descriptor.Digest
	got, err := r.c.puller.Get(ctx, r.src.Digest(d.String()))
	if err != nil {
		return nil, fmt.Errorf("pull %s@%s: %w", r.src, d, err)
	}
	raw, mt := got.Manifest, got.MediaType
	if err := r.copyContent(ctx, raw, mt); err != nil {
		return nil, err
	}
	info := parseArtifact(raw, mt, got.Descriptor)
	putRef := ref.Tag
	if putRef == "" {
		putRef = d.String()
	}
	hdr, err := putReferrerManifest(ctx, r.c.hc, r.dst, putRef, mt, raw)
	var terr *ggcrtransport.Error
	switch {
	case err != nil && ref.Tag == "" && info.subject && errors.As(err, &terr) && terr.StatusCode == http.StatusMethodNotAllowed:
		// ECR refuses a referrer whose subject is an index (405): the referrers tag schema
		// keeps it instead, pushed under the tag before the index replaces it there.
		r.note(fmt.Sprintf("tag-schema: %s refused referrers with subject %s (405); listed in the referrers tag %s instead", r.dst.RegistryStr(), s.Digest, fallbackTag(s.Digest)))
		r.copied(d)
		return &tagEntry{desc: info.desc, raw: raw}, nil
	case err != nil && IsImmutableTagConflict(err):
		r.note(fmt.Sprintf("cosign tag %s left as it is: the repository's tags are immutable", ref.Tag))
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("push %s:%s: %w", r.dst, putRef, err)
	}
	r.copied(d)
	if ref.Tag != "" || !info.subject {
		return nil, nil
	}
	if hdr.Get("OCI-Subject") != "" {
		r.c.referrers.setAPI(r.dst.RegistryStr(), true)
		return nil, nil
	}
	r.note(fmt.Sprintf("tag-schema: %s answered no OCI-Subject; referrers listed in the referrers tag too", r.dst.RegistryStr()))
	return &tagEntry{desc: info.desc}, nil
}

func (r *refCopier) copied(d v1.Hash) {
	r.mu.Lock()
	r.res.Copied = append(r.res.Copied, d.String())
	r.mu.Unlock()
}

// copyContent copies a referrer's blobs (or an index's children) to the destination.
func (r *refCopier) copyContent(ctx context.Context, raw []byte, mt types.MediaType) error {
	if mt.IsIndex() {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("parse index: %w", err)
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(r.c.bounds.ManifestFanout)
		for _, m := range idx.Manifests {
			if m.MediaType.IsIndex() || m.MediaType.IsImage() {
				g.Go(func() error { return r.cp.child(gctx, m, m.Digest.String(), true) })
			}
		}
		return g.Wait()
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("parse manifest: %w", err)
	}
	jobs := []blobJob{{src: r.src, dst: r.dst, desc: m.Config, noMount: r.rc.NoMount}}
	if m.Config.Data != nil && int64(len(m.Config.Data)) == m.Config.Size {
		jobs[0].data = m.Config.Data
	}
	for _, l := range m.Layers {
		if l.MediaType.IsDistributable() || l.MediaType == "" {
			jobs = append(jobs, blobJob{src: r.src, dst: r.dst, desc: l, noMount: r.rc.NoMount})
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.c.bounds.ManifestFanout)
	for _, j := range jobs {
		g.Go(func() error {
			_, _, err := r.c.ensureBlob(gctx, j)
			return err
		})
	}
	return g.Wait()
}

// artifactInfo is what a referrers listing says of a manifest.
type artifactInfo struct {
	desc    v1.Descriptor
	subject bool
}

// parseArtifact describes a manifest as the referrers tag schema lists it: artifactType the
// manifest's, else its config's media type; its annotations.
func parseArtifact(raw []byte, mt types.MediaType, d v1.Descriptor) artifactInfo {
	var m struct {
		ArtifactType string `json:"artifactType"`
		Config       struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
		Annotations map[string]string `json:"annotations"`
		Subject     *v1.Descriptor    `json:"subject"`
	}
	_ = json.Unmarshal(raw, &m)
	at := m.ArtifactType
	if at == "" && !mt.IsIndex() {
		at = m.Config.MediaType
	}
	return artifactInfo{
		desc:    v1.Descriptor{MediaType: mt, Digest: d.Digest, Size: int64(len(raw)), ArtifactType: at, Annotations: m.Annotations},
		subject: m.Subject != nil,
	}
}

// putReferrerManifest PUTs a manifest and returns the answer's headers (OCI-Subject).
func putReferrerManifest(ctx context.Context, hc *http.Client, repo name.Repository, ref string, mt types.MediaType, raw []byte) (http.Header, error) {
	resp, err := do(ctx, hc, http.MethodPut, repoURL(repo, "manifests/"+ref), bytes.NewReader(raw), map[string]string{"Content-Type": string(mt)})
	if err != nil {
		return nil, err
	}
	defer transport.Drain(resp)
	if err := ggcrtransport.CheckError(resp, http.StatusOK, http.StatusCreated, http.StatusAccepted); err != nil {
		return nil, err
	}
	return resp.Header, nil
}

// linked reports whether the destination lists referrer d for subject: by the referrers
// API where it answers it, else in its tag-schema index. Asked once per subject.
func (r *refCopier) linked(ctx context.Context, subject, d v1.Hash) (bool, error) {
	r.mu.Lock()
	l, ok := r.listings[subject.String()]
	r.mu.Unlock()
	if !ok {
		l = map[string]bool{}
		api, idx, err := r.c.apiSupported(ctx, r.dst, subject, "", nil)
		if err != nil {
			return false, err
		}
		if api && idx == nil {
			if idx, _, err = r.c.listReferrersAPI(ctx, r.dst, subject, "", nil); err != nil {
				return false, err
			}
		}
		if api {
			for _, m := range idx.Manifests {
				l[m.Digest.String()] = true
			}
		}
		refs, err := r.c.tagSchemaReferrers(ctx, r.dst, subject, nil, nil)
		if err != nil {
			return false, err
		}
		for _, x := range refs {
			l[x.Descriptor.Digest.String()] = true
		}
		r.mu.Lock()
		r.listings[subject.String()] = l
		r.mu.Unlock()
	}
	return l[d.String()], nil
}

// updateTagSchema adds entries to the destination's referrers tag index for subject, one
// writer per repository and subject at a time; it writes nothing when all are listed.
func (r *refCopier) updateTagSchema(ctx context.Context, subject v1.Hash, entries []tagEntry) error {
	lock := r.c.referrers.tagLock(r.dst, subject)
	lock.Lock()
	defer lock.Unlock()
	tag := fallbackTag(subject)
	idx := &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	cur, ok, err := headManifest(ctx, r.c.hc, r.dst, tag)
	if err != nil {
		return fmt.Errorf("referrers tag %s:%s: %w", r.dst, tag, err)
	}
	if ok && cur.Digest != subject {
		if idx, err = r.c.readIndex(ctx, r.dst, cur.Digest); err != nil {
			return fmt.Errorf("referrers tag %s:%s holds no index (%w): left as it is", r.dst, tag, err)
		}
		idx.MediaType = types.OCIImageIndex
	}
	have := map[v1.Hash]bool{}
	for _, m := range idx.Manifests {
		have[m.Digest] = true
	}
	added := false
	for _, e := range entries {
		if have[e.desc.Digest] {
			continue
		}
		if e.raw != nil {
			if _, err := putReferrerManifest(ctx, r.c.hc, r.dst, tag, e.desc.MediaType, e.raw); err != nil {
				return fmt.Errorf("push %s under %s:%s: %w", e.desc.Digest, r.dst, tag, err)
			}
		}
		have[e.desc.Digest] = true
		idx.Manifests = append(idx.Manifests, e.desc)
		added = true
	}
	if !added {
		return nil
	}
	raw, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	if _, err := putManifest(ctx, r.c.hc, r.dst, tag, types.OCIImageIndex, raw); err != nil {
		if IsImmutableTagConflict(err) {
			r.note(fmt.Sprintf("referrers tag %s left as it is: the repository's tags are immutable", tag))
			return nil
		}
		return fmt.Errorf("put referrers tag %s:%s: %w", r.dst, tag, err)
	}
	return nil
}
