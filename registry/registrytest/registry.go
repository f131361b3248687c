// Package registrytest runs a real distribution v3 registry in process on httptest, with
// a count of every request by kind, for tests of anything that talks to a registry.
package registrytest

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory" // storage driver
	"github.com/sirupsen/logrus"
)

// Kind classifies a registry request.
type Kind string

const (
	ManifestGet  Kind = "manifest GET"
	ManifestHead Kind = "manifest HEAD"
	ManifestPut  Kind = "manifest PUT"
	ManifestDel  Kind = "manifest DELETE"
	BlobGet      Kind = "blob GET"
	BlobHead     Kind = "blob HEAD"
	UploadStart  Kind = "upload start"
	UploadChunk  Kind = "upload chunk"
	UploadEnd    Kind = "upload complete"
	Mount        Kind = "mount"
	TagsList     Kind = "tags list"
	Other        Kind = "other"
)

// Request is one request as the registry saw it.
type Request struct {
	Kind       Kind
	Method     string
	Path       string
	Repository string
	Status     int
}

// Registry is a running in-process registry.
type Registry struct {
	Server *httptest.Server
	// Host is host:port, usable in image references.
	Host string

	mu         sync.Mutex
	idle       *sync.Cond // signalled as inflight falls
	inflight   int        // handlers running
	generation int        // bumped by Reset: a late answer never lands on a newer request
	requests   []Request
	middleware func(http.ResponseWriter, *http.Request) bool
}

// Option configures New.
type Option func(*config)

type config struct {
	tls       bool
	tlsConfig *tls.Config
}

// WithTLS serves over TLS with httptest's self-signed certificate.
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithServerTLS serves over TLS with cfg (a PKI's ServerTLS: mutual TLS).
func WithServerTLS(cfg *tls.Config) Option { return func(c *config) { c.tls, c.tlsConfig = true, cfg } }

// New starts a registry with in-memory storage; it is closed when the test ends.
func New(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	r, err := Start(opts...)
	if err != nil {
		t.Fatalf("start registry: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// Start starts a registry outside a test (the demo and benchmarks use it); Close stops it.
func Start(opts ...Option) (*Registry, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	logrus.SetOutput(io.Discard)
	cfg := &configuration.Configuration{}
	cfg.Storage = configuration.Storage{"inmemory": configuration.Parameters{}}
	cfg.Log.AccessLog.Disabled = true
	cfg.Log.Level = "error"
	cfg.Storage["delete"] = configuration.Parameters{"enabled": true}
	cfg.Storage["maintenance"] = configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}}
	cfg.HTTP.Headers = http.Header{"X-Content-Type-Options": []string{"nosniff"}}
	app := handlers.NewApp(context.Background(), cfg)
	r := &Registry{}
	r.idle = sync.NewCond(&r.mu)
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// Recorded before it is answered: a client may have read the whole answer before
		// the handler returns, and a count must never lag behind what the client saw.
		mw, gen, i := r.record(req)
		defer r.done()
		if mw != nil && mw(w, req) {
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		app.ServeHTTP(rec, req)
		r.setStatus(gen, i, rec.status)
	})
	switch {
	case c.tlsConfig != nil:
		r.Server = httptest.NewUnstartedServer(h)
		r.Server.TLS = c.tlsConfig
		r.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
		r.Server.StartTLS()
	case c.tls:
		r.Server = httptest.NewTLSServer(h)
	default:
		r.Server = httptest.NewServer(h)
	}
	u, _ := url.Parse(r.Server.URL)
	r.Host = u.Host
	return r, nil
}

// Close stops the server.
func (r *Registry) Close() { r.Server.Close() }

// Intercept installs fn in front of the registry: when it returns true it has answered the
// request itself (a 429, a 500…). nil removes it.
func (r *Registry) Intercept(fn func(http.ResponseWriter, *http.Request) bool) {
	r.mu.Lock()
	r.middleware = fn
	r.mu.Unlock()
}

// Requests returns a copy of every request seen so far.
func (r *Registry) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Count returns how many requests of kind were seen (any status).
func (r *Registry) Count(kind Kind) int {
	n := 0
	for _, q := range r.Requests() {
		if q.Kind == kind {
			n++
		}
	}
	return n
}

// Counts returns the number of requests per kind.
func (r *Registry) Counts() map[Kind]int {
	m := map[Kind]int{}
	for _, q := range r.Requests() {
		m[q.Kind]++
	}
	return m
}

// Reset forgets the requests seen so far.
func (r *Registry) Reset() {
	r.mu.Lock()
	r.requests = nil
	r.generation++
	r.mu.Unlock()
}

// Quiesce closes every client connection and returns once no handler is running: a
// request a cancelled client had already sent is answered (and counted) before Quiesce
// returns, never after a following Reset.
func (r *Registry) Quiesce() {
	r.Server.CloseClientConnections()
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.inflight > 0 {
		r.idle.Wait()
	}
}

// record counts a request as it arrives and returns the middleware to run, and where its
// status goes.
func (r *Registry) record(req *http.Request) (mw func(http.ResponseWriter, *http.Request) bool, gen, i int) {
	kind, repo := Classify(req)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inflight++
	r.requests = append(r.requests, Request{Kind: kind, Method: req.Method, Path: req.URL.Path, Repository: repo})
	return r.middleware, r.generation, len(r.requests) - 1
}

func (r *Registry) done() {
	r.mu.Lock()
	r.inflight--
	r.idle.Broadcast()
	r.mu.Unlock()
}

// setStatus fills in the status of request i of generation gen once answered (unless
// Reset forgot it).
func (r *Registry) setStatus(gen, i, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen == r.generation && i < len(r.requests) {
		r.requests[i].Status = status
	}
}

// Classify names the kind of a registry API request and its repository.
func Classify(req *http.Request) (Kind, string) {
	p := req.URL.Path
	if !strings.HasPrefix(p, "/v2/") {
		return Other, ""
	}
	p = strings.TrimPrefix(p, "/v2/")
	for _, seg := range []string{"/manifests/", "/blobs/uploads", "/blobs/", "/tags/list"} {
		i := strings.LastIndex(p, seg)
		if i < 0 {
			continue
		}
		repo := p[:i]
		switch seg {
		case "/manifests/":
			switch req.Method {
			case http.MethodGet:
				return ManifestGet, repo
			case http.MethodHead:
				return ManifestHead, repo
			case http.MethodPut:
				return ManifestPut, repo
			case http.MethodDelete:
				return ManifestDel, repo
			}
		case "/blobs/uploads":
			switch {
			case req.Method == http.MethodPost && req.URL.Query().Get("mount") != "":
				return Mount, repo
			case req.Method == http.MethodPost:
				return UploadStart, repo
			case req.Method == http.MethodPatch:
				return UploadChunk, repo
			case req.Method == http.MethodPut:
				return UploadEnd, repo
			}
		case "/blobs/":
			switch req.Method {
			case http.MethodGet:
				return BlobGet, repo
			case http.MethodHead:
				return BlobHead, repo
			}
		case "/tags/list":
			return TagsList, repo
		}
		return Other, repo
	}
	return Other, ""
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

// WriteHeader passes the first status on; a second (the registry answering a request
// whose client has gone) is dropped, as net/http would drop it, without its log line.
func (s *statusRecorder) WriteHeader(code int) {
	if s.wrote {
		return
	}
	s.status, s.wrote = code, true
	s.ResponseWriter.WriteHeader(code)
}

// Write answers 200 unless a status was written first.
func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
