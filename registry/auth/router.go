package auth

import (
	"context"
	"crypto/tls"
	"fmt"
	"github.com/airgap-charts/airgap-charts/registry/transport"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Router authenticates the registry requests of a run. go-containerregistry's
// transport.NewWithContext sends GET /v2/ before every remote call (once per repository
// and action) to learn the registry's scheme and auth challenge; the router learns both
// once per host instead, from the requests the run makes anyway: a TLS handshake decides
// the scheme of a host that may speak plain HTTP, and the first 401 gives the challenge.
// It keeps one authenticated transport per host (Basic) or per (host, repository scope,
// action) (Bearer tokens) for the run. A registry that needs no credentials costs no
// request beyond the copy's own; one that does costs one 401 per host.
type Router struct {
	inner    http.RoundTripper // retries, limits, connection pool
	keychain authn.Keychain
	insecure func(host string) bool
	limits   *transport.Limits // down hosts; nil: none tracked
	policy   transport.Policy  // how often a refused probe connection is tried again
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	// clientCerts are the client certificates a host is offered (--certs-dir); nil: none.
	clientCerts func(host string) []tls.Certificate
	// local says whether a host is answered in process (transport.Transport.IsLocal).
	local func(host string) bool
	// ua is the User-Agent the transport sends, set on the router's copy of each request.
	ua string

	mu    sync.Mutex
	hosts map[string]*authHost
}

// authHost is what the router knows about one host.
type authHost struct {
	host string

	mu        sync.Mutex
	scheme    string          // https or http; "" until a request needs it
	learned   map[string]bool // by request class (reads, writes): an answer taught what the host asks for
	challenge *authChallenge  // nil: the host asked for no credentials (so far)
	auth      authn.Authenticator
	scoped    *scopedTransports // by scope key ("" for Basic)

	schemeProbe sync.Mutex // one scheme probe at a time
	probe       sync.Mutex // one unauthenticated first request at a time
}

// NewRouter authenticates over tr (its limits, retry policy, dialler and client
// certificates), asking keychain for each host's credentials; insecure hosts may be
// spoken to in plain HTTP.
func NewRouter(tr *transport.Transport, keychain authn.Keychain, insecure func(string) bool) *Router {
	if insecure == nil {
		insecure = func(string) bool { return false }
	}
	return &Router{inner: tr, keychain: keychain, insecure: insecure, hosts: map[string]*authHost{},
		limits: tr.Limits, policy: tr.Policy, dial: tr.Dial(), clientCerts: tr.ClientCerts, local: tr.IsLocal, ua: tr.UserAgent()}
}

// Wrapper is the router as go-containerregistry's remote package must get it: a
// transport.Wrapper, so that remote neither pings the registry nor wraps the transport
// in its own retries.
func (r *Router) Wrapper() http.RoundTripper {
	w, _ := ggcrtransport.FromToken(name.Registry{}, authn.Anonymous, r, &ggcrtransport.Challenge{}, &ggcrtransport.Token{})
	return w
}

func (r *Router) host(h string) *authHost {
	key := strings.ToLower(h)
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.hosts[key]
	if s == nil {
		s = &authHost{host: key, scoped: &scopedTransports{}, learned: map[string]bool{}}
		r.hosts[key] = s
	}
	return s
}

// RoundTrip implements http.RoundTripper.
func (r *Router) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	h := r.host(req.URL.Host)
	out := req.Clone(ctx)
	if r.ua != "" {
		out.Header.Set("User-Agent", r.ua)
	}
	if resp, handled, err := r.firstRead(ctx, h, out); handled {
		return resp, err
	}
	scheme, err := r.scheme(ctx, h, req.URL.Scheme)
	if err != nil {
		return nil, err
	}
	out.URL.Scheme = scheme
	rewindable := out.Body == nil || out.Body == http.NoBody || out.GetBody != nil
	if !h.isLearned(requestClass(out)) {
		resp, handled, err := r.learn(ctx, h, out, rewindable)
		if handled {
			return resp, err
		}
	}
	return r.send(ctx, h, out, rewindable)
}

// requestClass separates reads from writes: a registry may read anonymously and ask for
// credentials on writes only.
func requestClass(req *http.Request) string {
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		return "read"
	}
	return "write"
}

func (h *authHost) isLearned(class string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.challenge != nil || h.learned[class]
}

// setChallenge records what the host asks for requests of class (c nil: nothing); a
// different challenge drops the transports built for the previous one.
func (h *authHost) setChallenge(class string, c *authChallenge) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.learned[class] = true
	if c == nil {
		return
	}
	if h.challenge == nil || h.challenge.scheme != c.scheme || h.challenge.params["realm"] != c.params["realm"] {
		h.challenge = c
		h.scoped = &scopedTransports{}
	}
}

// scheme is the scheme for a request built as requested. https stays https; http is
// what go-containerregistry names for hosts that may speak either (marked insecure,
// localhost, private addresses). A host not marked insecure is spoken to in TLS only,
// whatever its name: its handshake failing is an error, never a reason for plain HTTP.
// For an insecure host a TLS handshake (unverified), once per host, decides.
func (r *Router) scheme(ctx context.Context, h *authHost, requested string) (string, error) {
	if requested != "http" {
		return requested, nil
	}
	if r.local(h.host) {
		return "http", nil // answered in process: nothing to probe
	}
	if !r.insecure(h.host) {
		return "https", nil
	}
	h.mu.Lock()
	s := h.scheme
	h.mu.Unlock()
	if s != "" {
		return s, nil
	}
	h.schemeProbe.Lock()
	defer h.schemeProbe.Unlock()
	h.mu.Lock()
	s = h.scheme
	h.mu.Unlock()
	if s != "" {
		return s, nil
	}
	tlsOK, err := r.speaksTLS(ctx, h.host)
	if err != nil {
		return "", err
	}
	s = "http"
	if tlsOK {
		s = "https"
	}
	h.mu.Lock()
	h.scheme = s
	h.mu.Unlock()
	return s, nil
}

// firstRead sends the first read of a host whose scheme is unknown over plain HTTP while
// the TLS probe runs, rather than after it: on a plain-HTTP host the answer is the one
// the request needs (and teaches the host's challenge, as learn does); on a host that
// speaks TLS the plain request is cancelled and unused. handled is false when out must
// take the ordinary path (not a bodiless read, scheme known, or the host speaks TLS).
func (r *Router) firstRead(ctx context.Context, h *authHost, out *http.Request) (resp *http.Response, handled bool, err error) {
	if out.URL.Scheme != "http" || !r.insecure(h.host) || r.local(h.host) || requestClass(out) != "read" || (out.Body != nil && out.Body != http.NoBody) {
		return nil, false, nil
	}
	h.mu.Lock()
	known := h.scheme != ""
	h.mu.Unlock()
	if known {
		return nil, false, nil
	}
	h.schemeProbe.Lock()
	defer h.schemeProbe.Unlock()
	h.mu.Lock()
	known = h.scheme != ""
	h.mu.Unlock()
	if known {
		return nil, false, nil
	}
	h.probe.Lock()
	defer h.probe.Unlock()
	type probed struct {
		ok  bool
		err error
	}
	tlsc := make(chan probed, 1)
	go func() {
		ok, err := r.speaksTLS(ctx, h.host)
		tlsc <- probed{ok, err}
	}()
	type answer struct {
		resp *http.Response
		err  error
	}
	plainCtx, cancel := context.WithCancel(ctx)
	ansc := make(chan answer, 1)
	go func() {
		resp, err := r.inner.RoundTrip(out.Clone(plainCtx))
		ansc <- answer{resp, err}
	}()
	p := <-tlsc
	if p.err != nil {
		cancel()
		if a := <-ansc; a.resp != nil {
			transport.Drain(a.resp)
		}
		return nil, true, p.err
	}
	if p.ok {
		cancel()
		if a := <-ansc; a.resp != nil {
			transport.Drain(a.resp)
		}
		if err := ctx.Err(); err != nil {
			return nil, true, err
		}
		h.mu.Lock()
		h.scheme = "https"
		h.mu.Unlock()
		return nil, false, nil
	}
	a := <-ansc
	if a.err != nil {
		cancel()
		return nil, true, a.err
	}
	h.mu.Lock()
	h.scheme = "http"
	h.mu.Unlock()
	if c, challenged := responseChallenge(a.resp); challenged {
		cancel()
		transport.Drain(a.resp)
		h.setChallenge("read", &c)
		return nil, false, nil
	}
	h.setChallenge("read", nil)
	a.resp.Body = &cancelOnClose{ReadCloser: a.resp.Body, cancel: cancel}
	return a.resp, true, nil
}

// cancelOnClose ends a response's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// speaksTLS reports whether an insecure host completes a TLS handshake (unverified). It
// sends no HTTP request. A host that cannot be connected to at all is an error, counted
// towards marking it down.
func (r *Router) speaksTLS(ctx context.Context, host string) (bool, error) {
	if r.limits != nil {
		if err := r.limits.IsDown(host); err != nil {
			return false, err
		}
	}
	addr, hostname := host, host
	if hn, _, err := net.SplitHostPort(host); err == nil {
		hostname = hn
	} else {
		addr = net.JoinHostPort(host, "443")
	}
	dial := r.dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	raw, err := r.dialProbe(ctx, dctx, dial, host, addr)
	if err != nil {
		return false, err
	}
	defer raw.Close()
	cfg := &tls.Config{ServerName: hostname, InsecureSkipVerify: true} //nolint:gosec // only for hosts the user marked insecure
	if r.clientCerts != nil {
		cfg.Certificates = r.clientCerts(host) // a host that asks for one completes the handshake
	}
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(dctx); err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, nil
	}
	if r.limits != nil {
		r.limits.Connected(host)
	}
	return true, nil
}

// dialProbe connects for the scheme probe, a refused connection tried again as the retry
// layer tries a request: every failure counts towards marking the host down, and once it
// is down the probe fails with the same transport.HostDownError as the host's requests.
func (r *Router) dialProbe(ctx, dctx context.Context, dial func(context.Context, string, string) (net.Conn, error), host, addr string) (net.Conn, error) {
	for attempt := 1; ; attempt++ {
		raw, err := dial(dctx, "tcp", addr)
		switch {
		case err == nil:
			return raw, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case r.limits == nil || !transport.IsConnectFailure(err):
			return nil, fmt.Errorf("registry %s: %w", host, err)
		}
		r.limits.ConnectFailed(host, err)
		if down := r.limits.IsDown(host); down != nil {
			return nil, down
		}
		if attempt >= r.policy.Attempts() {
			return nil, fmt.Errorf("registry %s: %w", host, err)
		}
		if err := r.policy.Wait(ctx, r.policy.Backoff(attempt)); err != nil {
			return nil, err
		}
	}
}

// learn sends a host's first request of a class (reads, writes) without credentials while
// nothing is known (one such request at a time per host) and keeps what the answer says:
// a challenge, or that none is needed. A request whose body cannot be sent twice is preceded by GET /v2/.
// handled is false when out must now be sent with credentials (send).
func (r *Router) learn(ctx context.Context, h *authHost, out *http.Request, rewindable bool) (resp *http.Response, handled bool, err error) {
	class := requestClass(out)
	h.probe.Lock()
	defer h.probe.Unlock()
	if h.isLearned(class) {
		return nil, false, nil
	}
	probe := out
	if !rewindable {
		if probe, err = http.NewRequestWithContext(ctx, http.MethodGet, out.URL.Scheme+"://"+out.URL.Host+"/v2/", nil); err != nil {
			return nil, true, err
		}
	}
	resp, err = r.inner.RoundTrip(probe)
	if err != nil {
		if probe != out {
			err = fmt.Errorf("registry %s: %w", h.host, err)
		}
		return nil, true, err
	}
	c, challenged := responseChallenge(resp)
	if challenged {
		h.setChallenge(class, &c)
	} else {
		h.setChallenge(class, nil)
	}
	if probe == out && !challenged {
		return resp, true, nil
	}
	transport.Drain(resp)
	if probe == out {
		if err := rewind(out); err != nil {
			return nil, true, err
		}
	}
	return nil, false, nil
}

// send sends out with the host's credentials. A host that asked for none so far and
// answers 401 with a challenge now (anonymous reads, authenticated writes) is asked again
// with credentials.
func (r *Router) send(ctx context.Context, h *authHost, out *http.Request, rewindable bool) (*http.Response, error) {
	rt, err := r.transportFor(ctx, h, out)
	if err != nil {
		return nil, err
	}
	resp, err := rt.RoundTrip(out)
	if err != nil || rt != r.inner || !rewindable {
		return resp, err
	}
	c, ok := responseChallenge(resp)
	if !ok {
		return resp, nil
	}
	transport.Drain(resp)
	h.setChallenge(requestClass(out), &c)
	if err := rewind(out); err != nil {
		return nil, err
	}
	if rt, err = r.transportFor(ctx, h, out); err != nil {
		return nil, err
	}
	return rt.RoundTrip(out)
}

func rewind(req *http.Request) error {
	if req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	body, err := req.GetBody()
	if err != nil {
		return fmt.Errorf("resend %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	req.Body = body
	return nil
}
