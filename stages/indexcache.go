package stages

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/config"
)

// indexCacheFormat is the version of a cache entry's layout; an entry of another version
// is ignored (and replaced by the next full fetch).
const indexCacheFormat = 1

// lastModifiedSettle is how long before the response's Date its Last-Modified must be for
// the Last-Modified validator to be trusted. Last-Modified has one-second granularity: a
// file rewritten later within the second the response was made keeps the same
// Last-Modified, and a later If-Modified-Since would get a 304 for content never seen. A
// file last modified at least two seconds before the response had been stable beyond that
// second, so any later change moves Last-Modified past the one remembered.
const lastModifiedSettle = 2 * time.Second

// indexCache keeps what the resolver kept of each repository's index.yaml, with the
// validators of the response it came from, so that the next run asks the repository
// whether the index changed (If-None-Match, If-Modified-Since) instead of downloading and
// parsing it again. One file per index URL, named by a hash of the URL without its user
// information; nothing else of the URL and no credential is written.
type indexCache struct {
	dir string
	log *zap.Logger

	// An index fetch runs on past a run whose callers gave up (once.Keyed), so a write may
	// still be under way when the run ends: close waits for it and refuses later ones.
	mu      sync.Mutex
	closed  bool
	writing sync.WaitGroup
}

// indexCacheEntry is one cache file.
type indexCacheEntry struct {
	Format int `json:"format"`
	// ETag and LastModified are the validators of the response the index came from; either
	// may be empty (LastModified is empty when it was not trusted, see lastModifiedSettle).
	ETag         string      `json:"etag,omitempty"`
	LastModified string      `json:"lastModified,omitempty"`
	Index        *chartIndex `json:"index"`
}

// conditions are the request headers that ask whether the index changed since the entry.
func (e *indexCacheEntry) conditions() http.Header {
	h := http.Header{}
	if e.ETag != "" {
		h.Set("If-None-Match", e.ETag)
	}
	if e.LastModified != "" {
		h.Set("If-Modified-Since", e.LastModified)
	}
	return h
}

// path is the cache file of an index URL.
func (c *indexCache) path(indexURL string) string {
	sum := sha256.Sum256([]byte(redact(indexURL)))
	return filepath.Join(c.dir, hex.EncodeToString(sum[:])+".json")
}

// load returns the entry of indexURL, or nil when there is none usable: missing,
// unreadable, undecodable, of another format or without validators.
func (c *indexCache) load(indexURL string) *indexCacheEntry {
	p := c.path(indexURL)
	data, err := os.ReadFile(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Debug("index cache entry unreadable; fetching the index in full", zap.String("file", p), zap.Error(err))
		}
		return nil
	}
	var e indexCacheEntry
	if err := json.Unmarshal(data, &e); err != nil {
		c.log.Debug("index cache entry undecodable; fetching the index in full", zap.String("file", p), zap.Error(err))
		return nil
	}
	if e.Format != indexCacheFormat || e.Index == nil || e.Index.Entries == nil || (e.ETag == "" && e.LastModified == "") {
		c.log.Debug("index cache entry unusable; fetching the index in full", zap.String("file", p), zap.Int("format", e.Format))
		return nil
	}
	return &e
}

// store remembers idx under indexURL with the validators of the 200 response that brought
// it; a response without a validator to trust leaves no entry. Failing to write only costs
// the next run a full fetch, so it is logged, not returned.
func (c *indexCache) store(indexURL string, idx *chartIndex, h http.Header) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.writing.Add(1)
	c.mu.Unlock()
	defer c.writing.Done()
	p := c.path(indexURL)
	e := indexCacheEntry{Format: indexCacheFormat, ETag: h.Get("ETag"), LastModified: trustedLastModified(h), Index: idx}
	if e.ETag == "" && e.LastModified == "" {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.log.Debug("cannot remove stale index cache entry", zap.String("file", p), zap.Error(err))
		}
		return
	}
	if err := c.write(p, &e); err != nil {
		c.log.Debug("cannot write index cache entry", zap.Error(err))
	}
}

// close waits for the writes under way; later stores write nothing.
func (c *indexCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.writing.Wait()
}

func (c *indexCache) write(p string, e *indexCacheEntry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("index cache entry %s: %w", p, err)
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("index cache directory: %w", err)
	}
	if err := config.WriteCacheFile(p, data, 0o600); err != nil {
		return fmt.Errorf("index cache entry: %w", err)
	}
	return nil
}

// trustedLastModified is the response's Last-Modified when its Date is at least
// lastModifiedSettle later (the file had been stable), else "" (see lastModifiedSettle).
func trustedLastModified(h http.Header) string {
	lm := h.Get("Last-Modified")
	if lm == "" {
		return ""
	}
	modified, err := http.ParseTime(lm)
	if err != nil {
		return ""
	}
	date, err := http.ParseTime(h.Get("Date"))
	if err != nil || date.Sub(modified) < lastModifiedSettle {
		return ""
	}
	return lm
}
