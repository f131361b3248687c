package registry

import (
	"context"
	"fmt"
	"github.com/airgap-charts/airgap-charts/registry/once"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// RepositoryTags lists every tag of one repository with the digest it points to. It answers
// an empty map (not an error) for a repository that does not exist.
type RepositoryTags func(ctx context.Context, registry, repository string) (map[string]string, error)

// DigestExists tells whether a manifest digest exists in a repository; it is PreflightCache's
// answer for references without a tag (untagged images are not in the batch listing).
type DigestExists func(ctx context.Context, registry, repository, digest string) (bool, error)

// PreflightCache is the per-run cache of destination tag → digest, one entry per repository,
// filled in one batch the first time any tag of that repository is asked for. Concurrent
// callers of the same repository share the one fill (once.Keyed); a failed fill fails its
// own caller only: the others waiting for it, and any later caller, fill again. Record and Forget keep it true while the run
// pushes and deletes.
type PreflightCache struct {
	list    RepositoryTags
	digests DigestExists

	fills once.Keyed[string, *repoTags]

	mu    sync.Mutex
	repos map[string]*repoTags // listed (or primed) repositories
	// changes holds Record (digest) / Forget (nil) of repositories not listed yet, applied
	// over the listing when it lands, whatever fill attempt that is.
	changes map[string]map[string]*string
}

type repoTags struct {
	tags    map[string]string
	digests map[string]bool // answers for digest-only references
}

// NewPreflightCache returns a cache filled by list; digests (nil: a digest-only reference
// exists only when a listed tag points at it) answers references without a tag.
func NewPreflightCache(list RepositoryTags, digests DigestExists) *PreflightCache {
	c := &PreflightCache{list: list, digests: digests, repos: map[string]*repoTags{}, changes: map[string]map[string]*string{}}
	c.fills.RetryWaiters = true // a throttled listing fails one job, not every job waiting for it
	return c
}

// TagDigest implements TagLister from the repository's batch listing.
func (c *PreflightCache) TagDigest(ctx context.Context, ref ImageRef) (string, bool, error) {
	rt, err := c.repo(ctx, ref)
	if err != nil {
		return "", false, err
	}
	c.mu.Lock()
	if ref.Tag != "" {
		d, ok := rt.tags[ref.Tag]
		c.mu.Unlock()
		return d, ok, nil
	}
	known, asked := rt.digests[ref.Digest]
	if !asked {
		for _, d := range rt.tags {
			if d == ref.Digest {
				known, asked = true, true
				break
			}
		}
	}
	c.mu.Unlock()
	if asked || c.digests == nil {
		return ref.Digest, known, nil
	}
	ok, err := c.digests(ctx, ref.Registry, ref.Repository, ref.Digest)
	if err != nil {
		return "", false, fmt.Errorf("preflight %s: %w", ref, err)
	}
	c.mu.Lock()
	rt.digests[ref.Digest] = ok
	c.mu.Unlock()
	return ref.Digest, ok, nil
}

// repo returns the filled entry of ref's repository, filling it or waiting for the fill.
func (c *PreflightCache) repo(ctx context.Context, ref ImageRef) (*repoTags, error) {
	key := ref.Name()
	c.mu.Lock()
	rt := c.repos[key]
	c.mu.Unlock()
	if rt != nil {
		return rt, nil
	}
	return c.fills.Do(ctx, key, func(ctx context.Context) (*repoTags, error) { return c.fill(ctx, key, ref) })
}

// fill lists the repository and applies the run's changes noted meanwhile. A repository
// primed while its listing was in flight keeps what Prime said.
func (c *PreflightCache) fill(ctx context.Context, key string, ref ImageRef) (*repoTags, error) {
	tags, err := c.list(ctx, ref.Registry, ref.Repository)
	if err != nil {
		return nil, fmt.Errorf("preflight listing of %s: %w", key, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if rt := c.repos[key]; rt != nil {
		return rt, nil
	}
	if tags == nil {
		tags = map[string]string{}
	}
	for tag, d := range c.changes[key] {
		if d == nil {
			delete(tags, tag)
		} else {
			tags[tag] = *d
		}
	}
	delete(c.changes, key)
	rt := &repoTags{tags: tags, digests: map[string]bool{}}
	c.repos[key] = rt
	return rt, nil
}

// Prime sets what a repository holds without listing it: an empty map for a repository the
// run just created. An existing entry is left as it is.
func (c *PreflightCache) Prime(registry, repository string, tags map[string]string) {
	key := registry + "/" + repository
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.repos[key]; ok {
		return
	}
	m := make(map[string]string, len(tags))
	for k, v := range tags {
		m[k] = v
	}
	for tag, d := range c.changes[key] { // noted before the repository was primed
		if d == nil {
			delete(m, tag)
		} else {
			m[tag] = *d
		}
	}
	delete(c.changes, key)
	c.repos[key] = &repoTags{tags: m, digests: map[string]bool{}}
}

// Record notes that ref's tag now points to digest (after a push).
func (c *PreflightCache) Record(ref ImageRef, digest string) { c.set(ref, &digest) }

// Forget notes that ref's tag no longer exists (after a deletion).
func (c *PreflightCache) Forget(ref ImageRef) { c.set(ref, nil) }

func (c *PreflightCache) set(ref ImageRef, digest *string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := ref.Name()
	rt, ok := c.repos[key]
	if ref.Tag == "" {
		if ok {
			if digest != nil {
				rt.digests[*digest] = true
			} else if ref.Digest != "" {
				rt.digests[ref.Digest] = false
			}
		}
		return
	}
	if !ok { // not listed yet, or the fill is in flight
		if c.changes[key] == nil {
			c.changes[key] = map[string]*string{}
		}
		c.changes[key][ref.Tag] = digest
		return
	}
	if digest == nil {
		delete(rt.tags, ref.Tag)
	} else {
		rt.tags[ref.Tag] = *digest
		rt.digests[*digest] = true
	}
}

// OCIPreflight answers TagDigest on any OCI registry with one manifest HEAD per tag, cached
// for the run; concurrent callers for the same tag share the one request (a failed one is
// asked again by the callers that waited for it).
type OCIPreflight struct {
	hc       *http.Client // authenticating
	insecure func(host string) bool

	heads once.Keyed[string, headAnswer]

	mu sync.Mutex
	// recorded is what the run pushed (Record) and deleted (Forget): it answers over any
	// HEAD's.
	recorded map[string]headAnswer

	explain func(error) error // names the credentials tried on a 401/403 (Client.explainAuth); nil: none
}

type headAnswer struct {
	digest string
	exists bool
}

// newOCIPreflight returns a preflight over an authenticating transport.
func newOCIPreflight(art http.RoundTripper, insecure func(host string) bool, explain func(error) error) *OCIPreflight {
	if insecure == nil {
		insecure = func(string) bool { return false }
	}
	pf := &OCIPreflight{hc: &http.Client{Transport: art}, insecure: insecure, recorded: map[string]headAnswer{}, explain: explain}
	pf.heads.RetryWaiters = true
	return pf
}

func preflightKey(ref ImageRef) string {
	if ref.Tag != "" {
		return ref.Name() + ":" + ref.Tag
	}
	return ref.Name() + "@" + ref.Digest
}

// TagDigest implements TagLister with one HEAD of the tag (or digest) per run.
func (p *OCIPreflight) TagDigest(ctx context.Context, ref ImageRef) (string, bool, error) {
	key := preflightKey(ref)
	p.mu.Lock()
	a, ok := p.recorded[key]
	p.mu.Unlock()
	if ok {
		return a.digest, a.exists, nil
	}
	a, err := p.heads.Do(ctx, key, func(ctx context.Context) (headAnswer, error) { return p.head(ctx, key, ref) })
	return a.digest, a.exists, err
}

func (p *OCIPreflight) head(ctx context.Context, key string, ref ImageRef) (headAnswer, error) {
	var opts []name.Option
	if p.insecure(ref.Registry) {
		opts = append(opts, name.Insecure)
	}
	var (
		nref name.Reference
		err  error
		a    headAnswer
	)
	if ref.Tag != "" {
		nref, err = ref.TagReference(opts...)
	} else {
		nref, err = ref.NameReference(opts...)
	}
	if err == nil {
		var d v1.Descriptor
		var ok bool // false: no such tag, or no such repository yet
		if d, ok, err = headManifest(ctx, p.hc, nref.Context(), nref.Identifier()); err == nil && ok {
			a = headAnswer{digest: d.Digest.String(), exists: true}
		}
	}
	if err != nil {
		err = fmt.Errorf("preflight HEAD %s: %w", key, err)
		if p.explain != nil {
			err = p.explain(err)
		}
		return headAnswer{}, err
	}
	return a, nil
}

// Record notes that ref's tag now points to digest (after a push).
func (p *OCIPreflight) Record(ref ImageRef, digest string) { p.set(ref, headAnswer{digest, true}) }

// Forget notes that ref's tag no longer exists (after a deletion).
func (p *OCIPreflight) Forget(ref ImageRef) { p.set(ref, headAnswer{}) }

func (p *OCIPreflight) set(ref ImageRef, a headAnswer) {
	p.mu.Lock()
	p.recorded[preflightKey(ref)] = a
	p.mu.Unlock()
}
