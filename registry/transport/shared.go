package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
)

// hostRouter sends requests for insecure hosts through a transport that does not verify
// TLS certificates; every other request goes through the verifying one (system roots and
// --ca-file). Both keep connections alive and speak HTTP/2 where the registry offers it.
// A registry API request (/v2/…) in plain HTTP to a host not marked insecure is refused,
// whoever built it: a library falling back from a failed TLS handshake never sends
// credentials in clear.
type hostRouter struct {
	secure, insecure *http.Transport
	// local are the hosts answered in process (transportSettings.local).
	local      map[string]localTransport
	isInsecure func(host string) bool
	// perHost are the transports of hosts with their own CA or client certificate
	// (--certs-dir), by the directory's name.
	perHost map[string]*hostTransports
}

type hostTransports struct{ secure, insecure *http.Transport }

func newHostRouter(s transportSettings, isInsecure func(string) bool) *hostRouter {
	r := &hostRouter{secure: newHTTPTransport(s, false, nil), insecure: newHTTPTransport(s, true, nil),
		isInsecure: isInsecure, perHost: map[string]*hostTransports{}, local: map[string]localTransport{}}
	for host, h := range s.local {
		r.local[host] = localTransport{h}
	}
	for host, ht := range s.certs {
		r.perHost[host] = &hostTransports{secure: newHTTPTransport(s, false, ht), insecure: newHTTPTransport(s, true, ht)}
	}
	return r
}

func (h *hostRouter) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if lt, ok := h.local[host]; ok {
		return lt.RoundTrip(req)
	}
	insecure := h.isInsecure(host)
	if req.URL.Scheme == "http" && !insecure && isRegistryPath(req.URL.Path) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &PlainHTTPRefusedError{Host: host}
	}
	t := h.secure
	if insecure {
		t = h.insecure
	}
	if pt := h.hostTransports(host); pt != nil {
		t = pt.secure
		if insecure {
			t = pt.insecure
		}
	}
	resp, err := t.RoundTrip(req)
	if err != nil {
		return nil, explainTLS(host, err)
	}
	return resp, nil
}

// hostTransports are host's own transports (host:port, else its bare name), or nil.
func (h *hostRouter) hostTransports(host string) *hostTransports {
	if len(h.perHost) == 0 {
		return nil
	}
	hl := strings.ToLower(host)
	if t := h.perHost[hl]; t != nil {
		return t
	}
	if bare, _, err := net.SplitHostPort(hl); err == nil {
		return h.perHost[bare]
	}
	return nil
}

func isRegistryPath(p string) bool { return p == "/v2" || strings.HasPrefix(p, "/v2/") }

// PlainHTTPRefusedError is a registry request in plain HTTP to a host that was not marked
// insecure: it is never sent.
type PlainHTTPRefusedError struct{ Host string }

func (e *PlainHTTPRefusedError) Error() string {
	return fmt.Sprintf("plain HTTP to %s refused: the host is not marked --insecure-registry", e.Host)
}

// TLSError is a failed TLS handshake with a host: an untrusted or mismatched certificate,
// or a host that does not speak TLS.
type TLSError struct {
	Host string
	Err  error
}

func (e *TLSError) Error() string {
	var verr *tls.CertificateVerificationError
	hint := "trust its CA with --ca-file or --certs-dir, or mark the host --insecure-registry"
	switch {
	case clientCertRefused(e.Err):
		hint = "the host asks for a client certificate it accepts: put one in --certs-dir HOST/client.cert and client.key"
	case !errors.As(e.Err, &verr):
		hint = "a host that speaks plain HTTP must be marked --insecure-registry"
	}
	return fmt.Sprintf("TLS handshake with %s failed: %v (%s)", e.Host, e.Err, hint)
}

func (e *TLSError) Unwrap() error { return e.Err }

// explainTLS names the host of a TLS handshake failure and says what to do about it.
func explainTLS(host string, err error) error {
	var te *TLSError
	if errors.As(err, &te) {
		return err
	}
	if isTLSFailure(err) {
		return &TLSError{Host: host, Err: err}
	}
	return err
}

// remoteTLSAlert reports whether err is a TLS alert the host sent during the handshake.
func remoteTLSAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error" && strings.Contains(op.Err.Error(), "tls:")
}

// clientCertRefused reports whether the host refused the handshake over the client
// certificate: none given, or one it does not accept.
func clientCertRefused(err error) bool {
	if !remoteTLSAlert(err) {
		return false
	}
	msg := err.Error()
	for _, alert := range []string{"certificate required", "bad certificate", "unknown certificate authority", "access denied", "certificate unknown"} {
		if strings.Contains(msg, alert) {
			return true
		}
	}
	return false
}

func isTLSFailure(err error) bool {
	var verr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var ierr x509.CertificateInvalidError
	var rerr tls.RecordHeaderError
	var aerr tls.AlertError
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &ierr) ||
		errors.As(err, &rerr) || errors.As(err, &aerr) || remoteTLSAlert(err) ||
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// transportSettings are what every connection of a client shares.
type transportSettings struct {
	idleConnsPerHost int                 // Bounds.IdleConnsPerHost
	roots            *x509.CertPool      // verified hosts; nil: the system roots
	certs            map[string]*hostTLS // per host (--certs-dir); nil: none
	dial             func(ctx context.Context, network, addr string) (net.Conn, error)
	timeouts         timeouts
	local            map[string]http.Handler // Config.Local
}

// newHTTPTransport is a keep-alive transport; ht adds a host's own CAs and client
// certificates (nil: none).
func newHTTPTransport(s transportSettings, skipVerify bool, ht *hostTLS) *http.Transport {
	// Every transfer slot may hold a connection to the source and one to the destination;
	// keeping them all idle between blobs avoids new connections (and TLS handshakes) in
	// the middle of a run.
	idle := s.idleConnsPerHost
	dial := s.dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * idle,
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{RootCAs: s.roots},
	}
	if skipVerify {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // only for hosts the user marked insecure
	}
	if ht != nil {
		if ht.roots != nil && !skipVerify {
			t.TLSClientConfig.RootCAs = ht.roots
		}
		t.TLSClientConfig.Certificates = ht.certs
	}
	return t
}

// userAgentTransport sets the User-Agent of every request to ua, in place of whatever a
// library (Helm, ORAS, go-containerregistry) or Go would send.
type userAgentTransport struct {
	inner http.RoundTripper
	ua    string
}

func (u *userAgentTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("User-Agent") == u.ua {
		return u.inner.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.Header.Set("User-Agent", u.ua)
	return u.inner.RoundTrip(r)
}

// newSharedTransport builds the one transport every registry request of a client takes:
// user agent (ua, else airgap-charts/VERSION), then manifest bodies read whole and checked
// against their digest, then retries (which wait for the host's limits before each
// attempt, and bound each attempt's silences), then the keep-alive connection pool.
func newSharedTransport(s transportSettings, isInsecure func(string) bool, limits *Limits, policy Policy, ua string, log *zap.Logger) http.RoundTripper {
	base := newHostRouter(s, isInsecure)
	rt := &retryTransport{inner: base, limits: limits, policy: policy, timeouts: s.timeouts, log: log}
	limits.probe = rt // a HEAD probe is retried like any request; HEADs take no pull
	return &userAgentTransport{inner: &manifestCheck{inner: rt, attempts: policy.attempts, log: log}, ua: ua}
}

// Drain reads what is left of a response body (up to 64 KiB) and closes it, so that its
// connection goes back to the pool.
func Drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
