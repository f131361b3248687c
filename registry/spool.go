package registry

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const defaultSpoolBytes = 2 << 30

// spool keeps verified blobs on disk, bounded in bytes, so that a registry that does not
// mount can be given a blob again without pulling it from the source again.
type spool struct {
	parent   string
	limit    int64
	disabled bool

	mu   sync.Mutex
	dir  string
	used int64
	have map[v1.Hash]string
}

func newSpool(parent string, limit int64) (*spool, error) {
	if limit < 0 {
		return &spool{disabled: true}, nil
	}
	if limit == 0 {
		limit = defaultSpoolBytes
	}
	return &spool{parent: parent, limit: limit, have: map[v1.Hash]string{}}, nil
}

// open returns the spooled blob d, if kept.
func (s *spool) open(d v1.Hash) (io.ReadCloser, bool) {
	if s.disabled {
		return nil, false
	}
	s.mu.Lock()
	p, ok := s.have[d]
	s.mu.Unlock()
	if !ok {
		return nil, false
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, false
	}
	return f, true
}

// tee returns rc, copying what is read into the spool when size fits in what is left. The
// copy is kept only when rc is read to its end without error (go-containerregistry's blob
// reader fails at the end when the digest does not match).
func (s *spool) tee(d v1.Hash, size int64, rc io.ReadCloser) io.ReadCloser {
	if s.disabled || size <= 0 {
		return rc
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.have[d]; ok || s.used+size > s.limit {
		return rc
	}
	if s.dir == "" {
		if s.parent != "" {
			if err := os.MkdirAll(s.parent, 0o700); err != nil {
				return rc
			}
		}
		dir, err := os.MkdirTemp(s.parent, "airgap-charts-spool-")
		if err != nil {
			return rc
		}
		s.dir = dir
	}
	f, err := os.CreateTemp(s.dir, "partial-")
	if err != nil {
		return rc
	}
	s.used += size
	return &teeBlob{rc: rc, f: f, s: s, d: d, size: size}
}

type teeBlob struct {
	rc      io.ReadCloser
	f       *os.File
	s       *spool
	d       v1.Hash
	size    int64
	written int64
}

func (t *teeBlob) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if n > 0 && t.f != nil {
		if _, werr := t.f.Write(p[:n]); werr != nil {
			t.abandon()
		} else {
			t.written += int64(n)
		}
	}
	switch {
	case err == io.EOF && t.f != nil:
		t.keep()
	case err != nil && err != io.EOF:
		t.abandon()
	}
	return n, err
}

func (t *teeBlob) Close() error {
	t.abandon()
	return t.rc.Close()
}

func (t *teeBlob) keep() {
	if t.written != t.size {
		t.abandon()
		return
	}
	name := t.f.Name()
	if err := t.f.Close(); err != nil {
		t.f = nil
		t.release(name)
		return
	}
	t.f = nil
	final := filepath.Join(t.s.dir, fmt.Sprintf("%s-%s", t.d.Algorithm, t.d.Hex))
	if err := os.Rename(name, final); err != nil {
		t.release(name)
		return
	}
	t.s.mu.Lock()
	t.s.have[t.d] = final
	t.s.mu.Unlock()
}

func (t *teeBlob) abandon() {
	if t.f == nil {
		return
	}
	name := t.f.Name()
	t.f.Close()
	t.f = nil
	t.release(name)
}

func (t *teeBlob) release(name string) {
	os.Remove(name)
	t.s.mu.Lock()
	t.s.used -= t.size
	t.s.mu.Unlock()
}

func (s *spool) close() error {
	if s.disabled {
		return nil
	}
	s.mu.Lock()
	dir := s.dir
	s.dir, s.have, s.used = "", map[v1.Hash]string{}, 0
	s.mu.Unlock()
	if dir == "" {
		return nil
	}
	return os.RemoveAll(dir)
}
