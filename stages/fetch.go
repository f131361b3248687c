package stages

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/airgap-charts/airgap-charts/registry/once"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/airgap-charts/airgap-charts/registry"
)

// FetcherOptions configures a Fetcher. Every field may be left zero.
type FetcherOptions struct {
	// CacheDir keeps downloaded archives, named by chart, version and digest, so a rerun
	// downloads nothing; empty: the user cache directory's airgap-charts/charts.
	CacheDir string
	// MaxArchiveBytes bounds what an archive may decompress to; 0: DefaultMaxArchiveBytes.
	MaxArchiveBytes int64
	// HTTPClient, Insecure, Registry and Credentials are as in ResolverOptions.
	HTTPClient  *http.Client
	Insecure    func(host string) bool
	Registry    *registry.Client
	Credentials func(repoURL string) (user, pass string, ok bool)
}

// FetchedChart is a chart archive on disk and the chart loaded from it (nil from
// FetchArchive until Load).
type FetchedChart struct {
	Resolved ResolvedChart
	// ArchivePath is the archive in the cache directory.
	ArchivePath string
	// Digest is "sha256:<hex>" of the archive.
	Digest string
	// Chart is loaded from the archive; each Fetch returns a chart of its own.
	Chart *chart.Chart
	// verified: the file was digested this run. A cached archive whose digest the
	// repository names is taken on its name and size alone, and digested when loaded.
	verified bool
}

// Fetcher downloads chart archives into a cache. Concurrent fetches of one archive share a
// single download. Safe for concurrent use.
type Fetcher struct {
	access *repoAccess
	dir    string
	limit  int64
	flight once.Keyed[string, string] // archive sha256 by cache file
}

// NewFetcher builds a Fetcher and creates its cache directory.
func NewFetcher(opts FetcherOptions) (*Fetcher, error) {
	a, err := newRepoAccess(opts.HTTPClient, nil, opts.Insecure, opts.Registry, opts.Credentials)
	if err != nil {
		return nil, err
	}
	dir := opts.CacheDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("chart cache directory: %w", err)
		}
		dir = filepath.Join(base, "airgap-charts", "charts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("chart cache directory: %w", err)
	}
	limit := opts.MaxArchiveBytes
	if limit <= 0 {
		limit = DefaultMaxArchiveBytes
	}
	return &Fetcher{access: a, dir: dir, limit: limit}, nil
}

// Fetch brings the archive of rc into the cache (verifying the digest the repository
// gives) unless it is already there, and loads the chart from it.
func (f *Fetcher) Fetch(ctx context.Context, rc ResolvedChart) (FetchedChart, error) {
	fc, err := f.FetchArchive(ctx, rc)
	if err != nil {
		return FetchedChart{}, err
	}
	if err := f.Load(ctx, &fc); err != nil {
		return FetchedChart{}, err
	}
	return fc, nil
}

// FetchArchive is Fetch without the load: the archive in the cache and its digest, Chart
// nil. A caller that knows what an archive of this digest holds needs no more; Load loads
// it when the chart is needed after all.
func (f *Fetcher) FetchArchive(ctx context.Context, rc ResolvedChart) (FetchedChart, error) {
	return f.fetchArchive(ctx, rc, false)
}

// fetchArchive is FetchArchive; again ignores a cached file not digested this run (it is
// digested, and downloaded again unless it holds its digest).
func (f *Fetcher) fetchArchive(ctx context.Context, rc ResolvedChart, again bool) (FetchedChart, error) {
	var (
		archive, digest string
		verified        bool
		err             error
	)
	if rc.IsOCI() {
		archive, digest, verified, err = f.fetchOCI(ctx, rc, again)
	} else {
		archive, digest, verified, err = f.fetchHTTP(ctx, rc, again)
	}
	if err != nil {
		return FetchedChart{}, fmt.Errorf("%s: %w", fetchWhere(rc), err)
	}
	return FetchedChart{Resolved: rc, ArchivePath: archive, Digest: digest, verified: verified}, nil
}

// Load loads fc's chart from its archive into fc.Chart; an archive that does not load, or
// holds another chart, is removed from the cache and refused. A cached archive taken
// unread whose bytes are not its digest's is removed and downloaded again.
func (f *Fetcher) Load(ctx context.Context, fc *FetchedChart) error {
	rc, archive := fc.Resolved, fc.ArchivePath
	data, err := os.ReadFile(archive)
	if err != nil && fc.verified {
		return fmt.Errorf("%s: %w", fetchWhere(rc), err)
	}
	if !fc.verified {
		if sum := sha256.Sum256(data); err != nil || "sha256:"+hex.EncodeToString(sum[:]) != fc.Digest {
			// Changed (or removed) in the cache since it was downloaded: digested again,
			// downloaded again if it must be (once, for every caller finding it so).
			again, err := f.fetchArchive(ctx, rc, true)
			if err != nil {
				return err
			}
			if !again.verified {
				return fmt.Errorf("%s: archive %s: not its digest %s", fetchWhere(rc), filepath.Base(archive), fc.Digest)
			}
			*fc = again
			return f.Load(ctx, fc)
		}
		fc.verified = true
	}
	ch, err := LoadChartArchive(data, f.limit)
	if err != nil {
		_ = os.Remove(archive) // a refused archive is not kept for the next run
		return fmt.Errorf("%s: archive %s: %w", fetchWhere(rc), filepath.Base(archive), err)
	}
	if ch.Name() != rc.Ref.Name {
		_ = os.Remove(archive)
		return fmt.Errorf("%s: archive holds chart %q", fetchWhere(rc), ch.Name())
	}
	fc.Chart = ch
	return nil
}

func fetchWhere(rc ResolvedChart) string {
	return fmt.Sprintf("chart %q %s from %s", rc.Ref.Name, rc.Version, redact(rc.Repository))
}

func (f *Fetcher) fetchHTTP(ctx context.Context, rc ResolvedChart, again bool) (string, string, bool, error) {
	if len(rc.URLs) == 0 {
		return "", "", false, errors.New("no archive URL")
	}
	key := "u" + shortHash(rc.URLs[0])
	if rc.Digest != "" {
		key = shortDigest(rc.Digest)
		if p := cachePath(f.dir, rc, key); !again && cachedFile(p) {
			return p, "sha256:" + strings.ToLower(rc.Digest), false, nil
		}
	}
	dest := cachePath(f.dir, rc, key)
	if d, err := FileDigest(dest); err == nil && rc.Digest == "" {
		return dest, d, true, nil
	}
	res, err := f.once(ctx, onceKey(dest, again), func(ctx context.Context) (string, error) {
		if d, err := FileDigest(dest); err == nil && (rc.Digest == "" || d == "sha256:"+strings.ToLower(rc.Digest)) {
			return strings.TrimPrefix(d, "sha256:"), nil // another caller's download ended between our look and this one
		}
		var errs []error
		for _, u := range rc.URLs {
			sum, err := f.download(ctx, dest, u, rc)
			if err == nil {
				return sum, nil
			}
			errs = append(errs, err)
		}
		return "", errors.Join(errs...)
	})
	if err != nil {
		return "", "", false, err
	}
	return dest, "sha256:" + res, true, nil
}

// download writes one URL to dest through a temporary file, checking size and digest.
// A download cut in the middle (reset, stall) is started again.
func (f *Fetcher) download(ctx context.Context, dest, u string, rc ResolvedChart) (string, error) {
	return retryCut(ctx, func() (string, error) {
		body, err := f.access.get(ctx, u, rc.Repository, rc.Ref.Repository, f.limit)
		if err != nil {
			return "", err
		}
		defer body.Close()
		return f.store(dest, body, rc.Digest, redact(u))
	})
}

// downloadAttempts bounds the tries of an archive download cut in the middle.
const downloadAttempts = 3

// retryCut runs fn again while it fails with a transfer cut in the middle.
func retryCut(ctx context.Context, fn func() (string, error)) (string, error) {
	for attempt := 1; ; attempt++ {
		sum, err := fn()
		if err == nil || attempt >= downloadAttempts || ctx.Err() != nil || !cutTransfer(err) {
			return sum, err
		}
	}
}

// cutTransfer reports whether err is a transfer that stopped before its end.
func cutTransfer(err error) bool {
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// store copies r into dest atomically and returns its sha256 (hex); want, when set, must
// match.
func (f *Fetcher) store(dest string, r io.Reader, want, what string) (string, error) {
	tmp, err := os.CreateTemp(f.dir, ".download-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", what, err)
	}
	if n > f.limit {
		return "", fmt.Errorf("%s: archive larger than %d bytes: %w", what, f.limit, ErrArchiveTooLarge)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if want != "" && !strings.EqualFold(sum, strings.TrimPrefix(want, "sha256:")) {
		return "", fmt.Errorf("%s: digest mismatch: repository says sha256:%s, archive is sha256:%s", what, strings.TrimPrefix(want, "sha256:"), sum)
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return "", err
	}
	return sum, nil
}

// fetchOCI reads the chart's manifest (one small request) to learn the chart layer's
// digest, then downloads the layer only when the cache lacks it.
func (f *Fetcher) fetchOCI(ctx context.Context, rc ResolvedChart, again bool) (string, string, bool, error) {
	oci, err := f.access.ociClient()
	if err != nil {
		return "", "", false, err
	}
	ref, err := registry.ParseImageRef(rc.OCIRef)
	if err != nil {
		return "", "", false, fmt.Errorf("reference %q: %w", rc.OCIRef, err)
	}
	got, err := oci.GetManifest(ctx, ref)
	if err != nil {
		return "", "", false, fmt.Errorf("OCI manifest: %w", err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(got.Raw))
	if err != nil {
		return "", "", false, fmt.Errorf("OCI manifest %s: %w", rc.OCIRef, err)
	}
	var layer *v1.Descriptor
	for i, l := range m.Layers {
		if isChartLayer(string(l.MediaType)) {
			layer = &m.Layers[i]
			break
		}
	}
	if layer == nil {
		return "", "", false, fmt.Errorf("OCI artifact %s holds no Helm chart layer (%s)", rc.OCIRef, HelmChartLayerMediaType)
	}
	if layer.Size > f.limit {
		return "", "", false, fmt.Errorf("OCI artifact %s: chart layer of %d bytes: %w", rc.OCIRef, layer.Size, ErrArchiveTooLarge)
	}
	dest := cachePath(f.dir, rc, shortDigest(layer.Digest.Hex))
	if !again && cachedFile(dest) {
		return dest, layer.Digest.String(), false, nil
	}
	sum, err := f.once(ctx, onceKey(dest, again), func(ctx context.Context) (string, error) {
		if d, err := FileDigest(dest); err == nil && d == layer.Digest.String() {
			return layer.Digest.Hex, nil
		}
		return retryCut(ctx, func() (string, error) {
			rd, err := oci.FetchBlob(ctx, ref.WithDigest(layer.Digest.String()))
			if err != nil {
				return "", fmt.Errorf("chart layer: %w", err)
			}
			defer rd.Close()
			return f.store(dest, io.LimitReader(rd, f.limit+1), layer.Digest.Hex, rc.OCIRef)
		})
	})
	if err != nil {
		return "", "", false, err
	}
	return dest, "sha256:" + sum, true, nil
}

// once runs fn for dest a single time among concurrent callers; a caller that gives up
// does not cancel the download for the others.
func (f *Fetcher) once(ctx context.Context, dest string, fn func(context.Context) (string, error)) (string, error) {
	return f.flight.Do(ctx, dest, fn)
}

// unsafeFileChars are the characters a cache file name does not keep.
var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// onceKey is the key of dest's download among concurrent callers: a download again (a
// cache file found changed) is a run of its own, not the first one's kept outcome.
func onceKey(dest string, again bool) string {
	if again {
		return dest + "\x00again"
	}
	return dest
}

// cachePath is the cache file of rc's archive under key.
func cachePath(dir string, rc ResolvedChart, key string) string {
	return filepath.Join(dir, cacheName(rc.Ref.Name, rc.Version, key))
}

// cachedFile says whether path is an archive in the cache: a non-empty regular file
// (downloads are renamed into place whole).
func cachedFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Size() > 0
}

func cacheName(chartName, version, key string) string {
	return unsafeFileChars.ReplaceAllString(chartName+"-"+version+"-"+key, "_") + ".tgz"
}

func shortDigest(d string) string {
	d = strings.ToLower(strings.TrimPrefix(d, "sha256:"))
	if len(d) > 16 {
		d = d[:16]
	}
	return d
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:6])
}
