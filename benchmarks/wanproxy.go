package benchmarks

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// ProxyOptions configures a WAN-emulating reverse proxy. The zero value is a plain counting
// proxy on loopback.
type ProxyOptions struct {
	// RTT is added once before each request is forwarded, once when a connection opens
	// (TCP handshake) and once per TLS handshake.
	RTT time.Duration
	// BytesPerSecond caps each connection's response body, and separately its request body;
	// 0: no cap.
	BytesPerSecond int64
	Hub            *HubLimit // Docker-Hub-like pull limit; nil: none
	ECR            *ECRLimit // ECR-like quotas; nil: none
	Faults         *Faults   // random errors; nil: none
	TLS            bool      // serve HTTPS with httptest's self-signed certificate
	// Now is the limiters' clock; nil: time.Now.
	Now func() time.Time
}

// ProxyRequest is one request as the proxy saw it.
type ProxyRequest struct {
	Kind       registrytest.Kind
	Method     string
	Repository string
	Status     int
	BytesOut   int64  // response body bytes sent to the client
	BytesIn    int64  // request body bytes read from the client
	Injected   string // "hub", "ecr" or "fault" when the proxy answered itself
	// Target is the request's URI (path and query), Accept its Accept header, Start when
	// the proxy took it: what a replay of the run sends again (replay.go).
	Target string
	Accept string
	Start  time.Time
}

// Proxy is a running WAN-emulating reverse proxy in front of one registry.
type Proxy struct {
	Server *httptest.Server
	Host   string // host:port, for image references
	URL    string

	opts       ProxyOptions
	upstream   *httputil.ReverseProxy
	hub        *hubLimiter
	ecr        *ecrLimiter
	faults     *faultInjector
	conns      atomic.Int64
	handshakes atomic.Int64

	mu     sync.Mutex
	idle   *sync.Cond // signalled when active drops to 0
	active int        // requests being served
	reqs   []ProxyRequest
}

type connKey struct{}

// connBuckets are one connection's bandwidth budgets.
type connBuckets struct{ down, up *tokenBucket }

// bucketBurst is the most bytes a connection sends without waiting.
const bucketBurst = 32 << 10

// StartProxy starts a proxy forwarding to upstream (http://host:port); Close stops it.
func StartProxy(upstream string, opts ProxyOptions) (*Proxy, error) {
	target, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("proxy upstream %q: %w", upstream, err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	p := &Proxy{opts: opts}
	p.idle = sync.NewCond(&p.mu)
	if opts.Hub != nil {
		p.hub = &hubLimiter{lim: *opts.Hub, now: now}
	}
	if opts.ECR != nil {
		p.ecr = newECRLimiter(*opts.ECR, now)
	}
	if opts.Faults != nil && opts.Faults.Rate > 0 {
		p.faults = newFaultInjector(*opts.Faults)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 512
	p.upstream = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		Transport:     tr,
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	srv.Listener = &rttListener{Listener: srv.Listener, rtt: opts.RTT}
	srv.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		p.conns.Add(1)
		if opts.BytesPerSecond <= 0 {
			return ctx
		}
		r := float64(opts.BytesPerSecond)
		return context.WithValue(ctx, connKey{}, &connBuckets{
			down: newTokenBucket(r, bucketBurst, nil), up: newTokenBucket(r, bucketBurst, nil),
		})
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if opts.TLS {
		srv.TLS = &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			p.handshakes.Add(1)
			_ = sleepCtx(hello.Context(), opts.RTT)
			return nil, nil
		}}
		srv.StartTLS()
	} else {
		srv.Start()
	}
	u, _ := url.Parse(srv.URL)
	p.Server, p.Host, p.URL = srv, u.Host, srv.URL
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() { p.Server.Close() }

// Client returns an HTTP client that trusts the proxy's certificate.
func (p *Proxy) Client() *http.Client { return p.Server.Client() }

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	kind, repo := registrytest.Classify(r)
	target, accept := r.URL.RequestURI(), r.Header.Get("Accept")
	rec := &recordingWriter{ResponseWriter: w, status: http.StatusOK}
	body := &throttledBody{ReadCloser: r.Body, ctx: r.Context(), n: &rec.in}
	if b, ok := r.Context().Value(connKey{}).(*connBuckets); ok {
		rec.bucket, body.bucket = b.down, b.up
	}
	r.Body = body
	rec.ctx = r.Context()
	injected := ""
	p.mu.Lock()
	p.active++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.reqs = append(p.reqs, ProxyRequest{Kind: kind, Method: r.Method, Repository: repo, Status: rec.status,
			BytesOut: rec.out, BytesIn: rec.in.Load(), Injected: injected, Target: target, Accept: accept, Start: start})
		p.active--
		if p.active == 0 {
			p.idle.Broadcast()
		}
		p.mu.Unlock()
	}()
	if err := sleepCtx(r.Context(), p.opts.RTT); err != nil {
		rec.status = 499
		return
	}
	// Injected faults come first: a pull they refuse is not charged to the hub budget.
	if p.faults != nil && r.URL.Path != "/v2/" {
		if code := p.faults.draw(); code != 0 {
			injected = "fault"
			if code == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			registryError(rec, code, "UNAVAILABLE", "injected fault")
			return
		}
	}
	isManifest := kind == registrytest.ManifestGet || kind == registrytest.ManifestHead
	if p.hub != nil && isManifest && !p.hub.check(r.Method, w.Header()) {
		injected = "hub"
		registryError(rec, http.StatusTooManyRequests, "TOOMANYREQUESTS", "You have reached your pull rate limit.")
		return
	}
	if p.ecr != nil && !p.ecr.check(string(kind)) {
		injected = "ecr"
		registryError(rec, http.StatusTooManyRequests, "TOOMANYREQUESTS", "Rate exceeded")
		return
	}
	p.upstream.ServeHTTP(rec, r)
}

func registryError(w http.ResponseWriter, code int, ecode, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, ecode, msg)
}

// Requests returns a copy of every request seen so far, once no request is being served
// (a client may have its answer before the proxy has recorded it).
func (p *Proxy) Requests() []ProxyRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.active > 0 {
		p.idle.Wait()
	}
	return append([]ProxyRequest(nil), p.reqs...)
}

// Reset forgets the requests, connections and handshakes counted so far.
func (p *Proxy) Reset() {
	p.mu.Lock()
	for p.active > 0 {
		p.idle.Wait()
	}
	p.reqs = nil
	p.mu.Unlock()
	p.conns.Store(0)
	p.handshakes.Store(0)
}

// Connections is the number of client connections opened since the last Reset.
func (p *Proxy) Connections() int64 { return p.conns.Load() }

// TLSHandshakes is the number of TLS handshakes (ClientHellos) since the last Reset.
func (p *Proxy) TLSHandshakes() int64 { return p.handshakes.Load() }

// sleepCtx waits d or until ctx ends (it emulates latency; nothing synchronises on it).
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// rttListener delays each connection's first read by one round trip (its TCP handshake).
type rttListener struct {
	net.Listener
	rtt time.Duration
}

func (l *rttListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || l.rtt <= 0 {
		return c, err
	}
	return &rttConn{Conn: c, rtt: l.rtt}, nil
}

type rttConn struct {
	net.Conn
	rtt  time.Duration
	once sync.Once
}

func (c *rttConn) Read(b []byte) (int, error) {
	c.once.Do(func() { time.Sleep(c.rtt) })
	return c.Conn.Read(b)
}

// recordingWriter records status and bytes and paces the body by the connection's bucket.
type recordingWriter struct {
	http.ResponseWriter
	ctx    context.Context
	bucket *tokenBucket
	status int
	wrote  bool
	out    int64
	in     atomic.Int64
}

func (w *recordingWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	total := 0
	for len(b) > 0 {
		chunk := b[:min(len(b), bucketBurst)]
		if w.bucket != nil {
			if err := sleepCtx(w.ctx, w.bucket.reserve(len(chunk))); err != nil {
				return total, err
			}
		}
		n, err := w.ResponseWriter.Write(chunk)
		total += n
		w.out += int64(n)
		if err != nil {
			return total, err
		}
		b = b[len(chunk):]
	}
	return total, nil
}

func (w *recordingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// throttledBody paces and counts a request body.
type throttledBody struct {
	io.ReadCloser
	ctx    context.Context
	bucket *tokenBucket
	n      *atomic.Int64
}

func (b *throttledBody) Read(p []byte) (int, error) {
	if b.bucket != nil && len(p) > bucketBurst {
		p = p[:bucketBurst]
	}
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	if b.bucket != nil && n > 0 {
		if werr := sleepCtx(b.ctx, b.bucket.reserve(n)); werr != nil {
			return n, werr
		}
	}
	return n, err
}
