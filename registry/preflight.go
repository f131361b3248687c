package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// RepositoryTags lists every tag of one repository with the digest it points to. It answers
// an empty map (not an error) for a repository that does not exist.
type RepositoryTags func(ctx context.Context, registry, repository string) (map[string]string, error)

// DigestExists tells whether a manifest digest exists in a repository; it is PreflightCache's
// answer for references without a tag (untagged images are not in the batch listing).
type DigestExists func(ctx context.Context, registry, repository, digest string) (bool, error)

// PreflightCache is the per-run cache of destination tag → digest, one entry per repository,
// filled in one batch the first time any tag of that repository is asked for. Concurrent
// callers of the same repository wait for the one fill; a failed fill is forgotten so a
// later caller can retry. Record and Forget keep it true while the run pushes and deletes.
type PreflightCache struct {
	list    RepositoryTags
	digests DigestExists

	mu    sync.Mutex
	repos map[string]*repoTags
	// changes holds Record (digest) / Forget (nil) of repositories not listed yet, applied
	// over the listing when it lands, whatever fill attempt that is.
	changes map[string]map[string]*string
}

type repoTags struct {
	done    chan struct{}
	err     error
	tags    map[string]string // nil until filled
	digests map[string]bool   // answers for digest-only references
}

// NewPreflightCache returns a cache filled by list; digests (nil: a digest-only reference
// exists only when a listed tag points at it) answers references without a tag.
func NewPreflightCache(list RepositoryTags, digests DigestExists) *PreflightCache {
	return &PreflightCache{list: list, digests: digests, repos: map[string]*repoTags{}, changes: map[string]map[string]*string{}}
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
	for {
		c.mu.Lock()
		rt, ok := c.repos[key]
		if !ok {
			rt = &repoTags{done: make(chan struct{}), digests: map[string]bool{}}
			c.repos[key] = rt
			c.mu.Unlock()
			c.fill(ctx, key, ref, rt)
		} else {
			c.mu.Unlock()
		}
		select {
		case <-rt.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if rt.err == nil {
			return rt, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The fill failed. Only the caller that ran it reports its error; the waiters
		// retry, since the entry is gone and the next fill may succeed.
		if ok {
			continue
		}
		return nil, rt.err
	}
}

func (c *PreflightCache) fill(ctx context.Context, key string, ref ImageRef, rt *repoTags) {
	tags, err := c.list(ctx, ref.Registry, ref.Repository)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		rt.err = fmt.Errorf("preflight listing of %s: %w", key, err)
		if c.repos[key] == rt {
			delete(c.repos, key)
		}
		close(rt.done)
		return
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
	rt.tags = tags
	close(rt.done)
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
	done := make(chan struct{})
	close(done)
	c.repos[key] = &repoTags{done: done, tags: m, digests: map[string]bool{}}
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
	if !ok || rt.tags == nil { // not listed yet, or the fill is in flight
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
// for the run; concurrent callers for the same tag share the one request.
type OCIPreflight struct {
	puller   *remote.Puller
	initErr  error // remote.NewPuller refused the options; every TagDigest reports it
	insecure func(host string) bool

	mu      sync.Mutex
	entries map[string]*headEntry
}

type headEntry struct {
	done   chan struct{}
	digest string
	exists bool
	err    error
}

// newOCIPreflight returns a preflight over an authenticating transport.Wrapper.
func newOCIPreflight(art http.RoundTripper, insecure func(host string) bool) *OCIPreflight {
	p, err := remote.NewPuller(remote.WithTransport(art))
	if insecure == nil {
		insecure = func(string) bool { return false }
	}
	return &OCIPreflight{puller: p, initErr: err, insecure: insecure, entries: map[string]*headEntry{}}
}

func preflightKey(ref ImageRef) string {
	if ref.Tag != "" {
		return ref.Name() + ":" + ref.Tag
	}
	return ref.Name() + "@" + ref.Digest
}

// TagDigest implements TagLister with one HEAD of the tag (or digest) per run.
func (p *OCIPreflight) TagDigest(ctx context.Context, ref ImageRef) (string, bool, error) {
	if p.initErr != nil {
		return "", false, fmt.Errorf("preflight %s: %w", ref, p.initErr)
	}
	key := preflightKey(ref)
	for {
		p.mu.Lock()
		e, ok := p.entries[key]
		if !ok {
			e = &headEntry{done: make(chan struct{})}
			p.entries[key] = e
			p.mu.Unlock()
			p.head(ctx, key, ref, e)
		} else {
			p.mu.Unlock()
		}
		select {
		case <-e.done:
		case <-ctx.Done():
			return "", false, ctx.Err()
		}
		if e.err == nil || !ok {
			return e.digest, e.exists, e.err
		}
		if ctx.Err() != nil {
			return "", false, ctx.Err()
		}
		// another caller's HEAD failed and was forgotten: try again
	}
}

func (p *OCIPreflight) head(ctx context.Context, key string, ref ImageRef, e *headEntry) {
	defer close(e.done)
	var opts []name.Option
	if p.insecure(ref.Registry) {
		opts = append(opts, name.Insecure)
	}
	var (
		nref name.Reference
		err  error
	)
	if ref.Tag != "" {
		nref, err = ref.TagReference(opts...)
	} else {
		nref, err = ref.NameReference(opts...)
	}
	if err == nil {
		var d *v1.Descriptor
		if d, err = p.puller.Head(ctx, nref); err == nil {
			e.digest, e.exists = d.Digest.String(), true
		}
	}
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		err = nil // no such tag, or no such repository yet
	}
	if err != nil {
		e.err = fmt.Errorf("preflight HEAD %s: %w", key, err)
		p.mu.Lock()
		if p.entries[key] == e {
			delete(p.entries, key)
		}
		p.mu.Unlock()
	}
}

// Record notes that ref's tag now points to digest (after a push).
func (p *OCIPreflight) Record(ref ImageRef, digest string) { p.set(ref, digest, true) }

// Forget notes that ref's tag no longer exists (after a deletion).
func (p *OCIPreflight) Forget(ref ImageRef) { p.set(ref, "", false) }

func (p *OCIPreflight) set(ref ImageRef, digest string, exists bool) {
	done := make(chan struct{})
	close(done)
	p.mu.Lock()
	p.entries[preflightKey(ref)] = &headEntry{done: done, digest: digest, exists: exists}
	p.mu.Unlock()
}
