// Package transport is the one HTTP path every registry request of a run takes: retries
// (Retry-After honoured, 429 storms paused per host), the per-host limits (request budgets
// and quotas, pull budgets a registry advertises, requests in flight, hosts gone down),
// stall and header timeouts, TLS per host (CA bundle, certs.d), and a manifest body read
// whole and checked against its digest. Authentication sits above it (registry/auth).
package transport

import (
	"github.com/airgap-charts/airgap-charts/config"

	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// Config configures a Transport. Zero values are documented per field.
type Config struct {
	// Rates are budgets per host and request kind (source pull budgets, destination
	// quotas). ECRHosts are ECR registries whose names do not say so: they get ECR's
	// default quotas for the kinds not set.
	Rates    []HostRate
	ECRHosts []string
	// PullWait is how long a host's advertised pull window may be waited out; 0: refuse
	// the pull with a *PullBudgetError. WaitForBudget waits for a spent Rates budget
	// instead of refusing.
	PullWait      time.Duration
	WaitForBudget bool
	// MaxPerHost caps the requests in flight per host key ("" for every host without
	// its own); nil: no cap.
	MaxPerHost map[string]int
	// DownAfter is how many connection failures in a row mark a host down for the run;
	// 0: DefaultDownAfter; negative: never. Destination is the host errors call
	// "destination".
	DownAfter   int
	Destination string
	// IdleConnsPerHost is the keep-alive pool per host; Dial opens connections (nil:
	// net.Dialer).
	IdleConnsPerHost int
	Dial             func(ctx context.Context, network, addr string) (net.Conn, error)
	// Local are hosts (host:port as requested) answered by a handler in this process, with
	// no connection: an import's bundle. nil: none.
	Local map[string]http.Handler
	// RequestTimeout bounds the wait for response headers, StallTimeout a body's silence;
	// 0: DefaultRequestTimeout / DefaultStallTimeout; negative: none.
	RequestTimeout, StallTimeout time.Duration
	// CAFile is a PEM bundle trusted besides the system roots; CertsDir per-host TLS
	// material in docker's certs.d layout. Empty: none.
	CAFile, CertsDir string
	// Retries is how many times a failed request is tried again (0: 5, negative: never);
	// RetryBackoff the first wait (0: 250ms), doubled each time.
	Retries      int
	RetryBackoff time.Duration
	// RetryWait waits out a retry's backoff or a 429's Retry-After; nil: a timer. (Pauses
	// of a whole host and pull-budget windows always use the real clock.)
	RetryWait func(ctx context.Context, d time.Duration) error
	// Insecure reports the hosts reached without TLS verification, or over plain HTTP
	// when they do not speak TLS; nil: none.
	Insecure func(host string) bool
	// UserAgent is set on every request.
	UserAgent string
	// Log receives retries at debug level, long waits and hosts going down; nil: none.
	Log *zap.Logger
}

// Transport is the shared round tripper of a run and the state behind it.
type Transport struct {
	// Limits is the per-host state requests wait on; the copy consults it too (mounts).
	Limits *Limits
	// Policy is the retry policy of every request (and of the scheme probe's dials).
	Policy   Policy
	shared   http.RoundTripper
	settings transportSettings
	ua       string
}

// New builds the shared transport; it fails on contradictory limits or unreadable TLS
// material, naming the flag's value.
func New(c Config) (*Transport, error) {
	log := c.Log
	if log == nil {
		log = zap.NewNop()
	}
	limits, err := newHostLimits(c.Rates, c.ECRHosts, c.PullWait)
	if err != nil {
		return nil, err
	}
	limits.budgetWait = c.WaitForBudget
	if err := limits.setCaps(c.MaxPerHost); err != nil {
		return nil, err
	}
	limits.log = log
	switch {
	case c.DownAfter == 0:
		limits.downAfter = DefaultDownAfter
	case c.DownAfter < 0:
		limits.downAfter = 0
	default:
		limits.downAfter = c.DownAfter
	}
	if c.Destination != "" {
		limits.destinations[config.HostKey(c.Destination)] = true
	}
	s, err := newTransportSettings(c)
	if err != nil {
		return nil, err
	}
	p := NewPolicy(c.Retries, c.RetryBackoff, c.RetryWait)
	insecure := c.Insecure
	if insecure == nil {
		insecure = func(string) bool { return false }
	}
	return &Transport{Limits: limits, Policy: p, settings: s, ua: c.UserAgent,
		shared: newSharedTransport(s, insecure, limits, p, c.UserAgent, log)}, nil
}

// UserAgent is the User-Agent every request is sent with. A caller that makes its own
// copy of a request may set it there, sparing the transport a copy of its own.
func (t *Transport) UserAgent() string { return t.ua }

// RoundTrip sends req through the shared transport.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.shared.RoundTrip(req)
}

// Dial is the dialler connections are opened with (nil: net.Dialer's).
func (t *Transport) Dial() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return t.settings.dial
}

// IsLocal says whether host is answered in process (Config.Local): plain HTTP, never dialled.
func (t *Transport) IsLocal(host string) bool {
	_, ok := t.settings.local[host]
	return ok
}

// ClientCerts are the client certificates host is offered (--certs-dir); nil: none.
func (t *Transport) ClientCerts(host string) []tls.Certificate {
	if ht := tlsOf(t.settings.certs, host); ht != nil {
		return ht.certs
	}
	return nil
}

// newTransportSettings reads the TLS material and fills the timeouts' defaults.
func newTransportSettings(c Config) (transportSettings, error) {
	s := transportSettings{idleConnsPerHost: c.IdleConnsPerHost, dial: c.Dial, local: c.Local,
		timeouts: timeouts{header: c.RequestTimeout, stall: c.StallTimeout}}
	if s.timeouts.header == 0 {
		s.timeouts.header = DefaultRequestTimeout
	}
	if s.timeouts.stall == 0 {
		s.timeouts.stall = DefaultStallTimeout
	}
	if c.CAFile != "" {
		roots, err := LoadCAFile(c.CAFile)
		if err != nil {
			return s, err
		}
		s.roots = roots
	}
	if c.CertsDir != "" {
		certs, err := loadCertsDir(c.CertsDir, s.roots)
		if err != nil {
			return s, err
		}
		s.certs = certs
	}
	return s, nil
}
