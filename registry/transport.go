package registry

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// hostRouter sends requests for insecure hosts through a transport that does not verify
// TLS certificates; every other request goes through the verifying one. Both keep
// connections alive and speak HTTP/2 where the registry offers it.
type hostRouter struct {
	secure, insecure *http.Transport
	isInsecure       func(host string) bool
}

func (h *hostRouter) RoundTrip(req *http.Request) (*http.Response, error) {
	if h.isInsecure(req.URL.Host) {
		return h.insecure.RoundTrip(req)
	}
	return h.secure.RoundTrip(req)
}

func newHTTPTransport(concurrency int, skipVerify bool) *http.Transport {
	// Every transfer slot (concurrency × transfersPerCopy) may hold a connection to the
	// source and one to the destination; keeping them all idle between blobs avoids new
	// connections (and TLS handshakes) in the middle of a run.
	idle := max(2*concurrency*transfersPerCopy, 16)
	t := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * idle,
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if skipVerify {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // only for hosts the user marked insecure
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
// user agent (ua, else airgap-charts/VERSION), then retries (which wait for the host's
// limits before each attempt), then the keep-alive connection pool.
func newSharedTransport(concurrency int, isInsecure func(string) bool, limits *hostLimits, policy retryPolicy, ua string, log *zap.Logger) http.RoundTripper {
	base := &hostRouter{
		secure:     newHTTPTransport(concurrency, false),
		insecure:   newHTTPTransport(concurrency, true),
		isInsecure: isInsecure,
	}
	rt := &retryTransport{inner: base, limits: limits, policy: policy, log: log}
	limits.probe = rt // a HEAD probe is retried like any request; HEADs take no pull
	if ua == "" {
		ua = UserAgent()
	}
	return &userAgentTransport{inner: rt, ua: ua}
}
