package stages

import (
	"context"
	"fmt"
	"github.com/airgap-charts/airgap-charts/registry/once"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/registry"
)

// maxIndexBytes bounds an index.yaml download (the largest public indexes are tens of MiB).
const maxIndexBytes = 256 << 20

// ResolverOptions configures a Resolver. Every field may be left zero.
type ResolverOptions struct {
	// HTTPClient reaches HTTP chart repositories; nil: a client with
	// http.DefaultTransport's settings.
	HTTPClient *http.Client
	// RepoMirrors rewrites repository URLs (addons and dependencies alike): the longest
	// matching URL prefix is replaced by its mirror URL. nil: no mirrors.
	RepoMirrors map[string]string
	// Insecure says which hosts (host[:port]) are reached over plain HTTP (OCI) or without
	// TLS verification (HTTPS); nil: none.
	Insecure func(host string) bool
	// Registry reaches OCI chart repositories (the run's registry client: its
	// authentication, per-host limits and retries); nil: OCI repositories fail to resolve.
	Registry *registry.Client
	// Credentials gives basic-auth credentials for an HTTP chart repository URL (the mirror
	// contacted is asked first, then the repository the chart names); nil: none.
	Credentials func(repoURL string) (user, pass string, ok bool)
	// IndexCacheDir keeps the parsed index.yaml of each HTTP repository with its response's
	// validators (ETag, Last-Modified), so that a later Resolver fetches it conditionally
	// and, when the repository answers 304 Not Modified, neither downloads nor parses it;
	// empty: no index cache, every index fetched in full.
	IndexCacheDir string
	// Logger receives debug messages about the index cache; nil: none.
	Logger *zap.Logger
}

// ResolveOptions says which versions a chart may resolve to.
type ResolveOptions struct {
	// Latest takes the newest version whatever the constraint says.
	Latest bool
	// Prerelease lets ranges and "newest" pick prerelease versions.
	Prerelease bool
}

// ResolvedChart is one chart version found in its repository.
type ResolvedChart struct {
	Ref ChartRef
	// Version is the chart version chosen.
	Version string
	// Repository is the repository URL actually contacted (after repository mirrors).
	Repository string
	// URLs are the archive URLs from index.yaml, absolute and mirrored (HTTP repositories).
	URLs []string
	// Digest is the archive's sha256 (hex) as index.yaml gives it; may be empty.
	Digest string
	// OCIRef is host/path/chart:tag for OCI repositories (a "+" in the version is "_").
	OCIRef string
}

// IsOCI says whether the chart lives in an OCI registry.
func (rc ResolvedChart) IsOCI() bool { return rc.OCIRef != "" }

// Resolver finds chart versions. One Resolver serves a whole run: each repository index
// (or OCI tag list) is fetched once and shared by every addon and dependency, and
// concurrent first requests for the same one wait for a single fetch. A failed fetch is
// forgotten so a later caller tries again. Safe for concurrent use.
type Resolver struct {
	access *repoAccess
	cache  *indexCache // nil: none

	indexes once.Keyed[string, *chartIndex] // by repository URL
	tags    once.Keyed[string, []string]    // by OCI repository
}

// NewResolver builds a Resolver.
func NewResolver(opts ResolverOptions) (*Resolver, error) {
	a, err := newRepoAccess(opts.HTTPClient, opts.RepoMirrors, opts.Insecure, opts.Registry, opts.Credentials)
	if err != nil {
		return nil, err
	}
	r := &Resolver{access: a}
	if opts.IndexCacheDir != "" {
		log := opts.Logger
		if log == nil {
			log = zap.NewNop()
		}
		r.cache = &indexCache{dir: opts.IndexCacheDir, log: log}
	}
	return r, nil
}

// Close waits for the index cache entries being written (an index fetch may outlive the
// callers that gave up on it) and stops further writes. Resolving still works after it.
func (r *Resolver) Close() {
	if r.cache != nil {
		r.cache.close()
	}
}

// Resolve picks the version of ref to mirror. Errors name the chart and the repository.
func (r *Resolver) Resolve(ctx context.Context, ref ChartRef, opts ResolveOptions) (ResolvedChart, error) {
	if ref.Name == "" {
		return ResolvedChart{}, fmt.Errorf("chart in %s: no chart name", redact(ref.Repository))
	}
	repoURL := r.access.mirror(strings.TrimRight(ref.Repository, "/"))
	if strings.HasPrefix(repoURL, "oci://") {
		return r.resolveOCI(ctx, ref, repoURL, opts)
	}
	if !strings.HasPrefix(repoURL, "http://") && !strings.HasPrefix(repoURL, "https://") {
		return ResolvedChart{}, fmt.Errorf("chart %q: repository %q is neither http(s):// nor oci://", ref.Name, redact(ref.Repository))
	}
	idx, err := r.index(ctx, repoURL, ref.Repository)
	if err != nil {
		return ResolvedChart{}, fmt.Errorf("chart %q: %w", ref.Name, err)
	}
	entries, ok := idx.Entries[ref.Name]
	if !ok || len(entries) == 0 {
		return ResolvedChart{}, fmt.Errorf("chart %q not found in repository %s (its index lists %d charts)",
			ref.Name, redact(repoURL), len(idx.Entries))
	}
	versions := make([]string, 0, len(entries))
	for _, e := range entries {
		versions = append(versions, e.Version)
	}
	v, err := selectVersion(versions, ref.Constraint, opts)
	if err != nil {
		return ResolvedChart{}, fmt.Errorf("chart %q in repository %s: %w", ref.Name, redact(repoURL), err)
	}
	var cv *indexEntry
	for _, e := range entries {
		if e.Version == v {
			cv = e
			break
		}
	}
	if len(cv.URLs) == 0 {
		return ResolvedChart{}, fmt.Errorf("chart %q %s in repository %s: index gives no archive URL", ref.Name, v, redact(repoURL))
	}
	rc := ResolvedChart{Ref: ref, Version: v, Repository: repoURL, Digest: strings.TrimPrefix(cv.Digest, "sha256:")}
	for _, u := range cv.URLs {
		abs, err := resolveReferenceURL(repoURL, u)
		if err != nil {
			return ResolvedChart{}, fmt.Errorf("chart %q %s in repository %s: archive URL %q: %w", ref.Name, v, redact(repoURL), u, err)
		}
		rc.URLs = append(rc.URLs, r.access.mirror(abs))
	}
	return rc, nil
}

// index returns the repository's index, fetching it at most once per run.
func (r *Resolver) index(ctx context.Context, repoURL, origURL string) (*chartIndex, error) {
	return r.indexes.Do(ctx, repoURL, func(ctx context.Context) (*chartIndex, error) {
		return r.fetchIndex(ctx, repoURL, origURL)
	})
}

// fetchIndex downloads and parses the repository's index.yaml; with an index cache it asks
// for it conditionally and takes the cached copy on 304 Not Modified.
func (r *Resolver) fetchIndex(ctx context.Context, repoURL, origURL string) (*chartIndex, error) {
	indexURL := repoURL + "/index.yaml"
	var (
		cached *indexCacheEntry
		cond   http.Header
	)
	if r.cache != nil {
		if cached = r.cache.load(indexURL); cached != nil {
			cond = cached.conditions()
		}
	}
	var (
		idx    *chartIndex
		header http.Header
	)
	_, err := retryCut(ctx, func() (string, error) { // a body cut in the middle is fetched again
		resp, err := r.access.getConditional(ctx, indexURL, repoURL, origURL, maxIndexBytes, cond)
		if err != nil {
			return "", fmt.Errorf("repository %s: cannot fetch index.yaml: %w", redact(repoURL), err)
		}
		if resp.notModified {
			r.cache.log.Debug("index.yaml not modified: its cached copy is used", zap.String("repository", redact(repoURL)))
			idx = cached.Index
			return "", nil
		}
		defer resp.body.Close()
		in := &indexBody{r: resp.body, left: maxIndexBytes}
		parsed, err := parseIndex(in)
		switch {
		case in.over:
			return "", fmt.Errorf("repository %s: index.yaml is larger than %d bytes", redact(repoURL), maxIndexBytes)
		case in.err != nil:
			return "", fmt.Errorf("repository %s: reading index.yaml: %w", redact(repoURL), in.err)
		case err != nil:
			return "", fmt.Errorf("repository %s: index.yaml is malformed: %w", redact(repoURL), err)
		}
		idx, header = parsed, resp.header
		return "", nil
	})
	if err != nil {
		return nil, err
	}
	if r.cache != nil && header != nil && ctx.Err() == nil { // a run given up keeps no entry
		r.cache.store(indexURL, idx, header)
	}
	return idx, nil
}

// indexBody is an index.yaml download: at most left bytes, its read error remembered.
type indexBody struct {
	r    io.Reader
	left int64
	over bool
	err  error
}

func (b *indexBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.left -= int64(n); b.left < 0 {
		b.over = true
		return n, errIndexTooLarge
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

var errIndexTooLarge = fmt.Errorf("index.yaml larger than %d bytes", maxIndexBytes)

// resolveOCI lists the tags of oci://host/path[/namespace]/chart once per run.
func (r *Resolver) resolveOCI(ctx context.Context, ref ChartRef, repoURL string, opts ResolveOptions) (ResolvedChart, error) {
	host, repoPath, err := splitOCI(repoURL)
	if err != nil {
		return ResolvedChart{}, fmt.Errorf("chart %q: %w", ref.Name, err)
	}
	full := strings.Trim(strings.Join([]string{repoPath, strings.Trim(ref.OCINamespace, "/"), ref.Name}, "/"), "/")
	full = strings.ReplaceAll(full, "//", "/")
	repository, err := name.NewRepository(host + "/" + full)
	if err != nil {
		return ResolvedChart{}, fmt.Errorf("chart %q in %s: %w", ref.Name, redact(repoURL), err)
	}
	tags, err := r.ociTags(ctx, repository)
	if err != nil {
		return ResolvedChart{}, fmt.Errorf("chart %q: %w", ref.Name, err)
	}
	versions := make([]string, 0, len(tags))
	for _, t := range tags {
		versions = append(versions, strings.ReplaceAll(t, "_", "+"))
	}
	v, err := selectVersion(versions, ref.Constraint, opts)
	if err != nil {
		return ResolvedChart{}, fmt.Errorf("chart %q in OCI repository %s: %w", ref.Name, repository, err)
	}
	return ResolvedChart{Ref: ref, Version: v, Repository: repoURL,
		OCIRef: repository.String() + ":" + strings.ReplaceAll(v, "+", "_")}, nil
}

// ociTags lists the tags of an OCI chart repository, at most once per run.
func (r *Resolver) ociTags(ctx context.Context, repository name.Repository) ([]string, error) {
	return r.tags.Do(ctx, repository.String(), func(ctx context.Context) ([]string, error) {
		oci, err := r.access.ociClient()
		if err != nil {
			return nil, err
		}
		return oci.ListTags(ctx, registry.ImageRef{Registry: repository.RegistryStr(), Repository: repository.RepositoryStr()})
	})
}
