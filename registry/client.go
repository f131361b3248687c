package registry

import (
	"context"
	"fmt"
	"github.com/airgap-charts/airgap-charts/config"
	"github.com/airgap-charts/airgap-charts/registry/auth"
	"github.com/airgap-charts/airgap-charts/registry/transport"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.uber.org/zap"
)

// ClientOptions configures a Client. Zero values are documented per field.
type ClientOptions struct {
	// Concurrency is the number of image copies run at once; 0: DefaultConcurrency. Idle
	// connections per host, blob transfers and fan-out follow it (NewBounds).
	Concurrency int
	// MaxPerHost caps the requests in flight to a registry host (host[:port] → N; the key
	// "" for every host without its own; "docker.io" covers Docker Hub's aliases). A
	// request counts from when it is sent until its response's headers arrive (an upload's
	// body inside, a download's body outside). A mirror takes the cap of the source hosts
	// pulled through it when it has none of its own. nil: no cap.
	MaxPerHost map[string]int
	// Insecure hosts (host[:port], or a bare host for every port) are reached over TLS
	// without certificate verification, or over plain HTTP when they do not speak TLS.
	// Every other host is only ever reached over verified TLS, whatever its name (loopback
	// and private addresses included).
	Insecure []string
	// CAFile is a PEM bundle of certificate authorities trusted besides the system's for
	// every verified host; empty: the system roots only.
	CAFile string
	// CertsDir holds per-host TLS material in docker's certs.d layout:
	// DIR/HOST[:PORT]/*.crt are CAs trusted for that host, each *.cert with the *.key of
	// the same name a client certificate presented to it (client.cert, client.key). It
	// serves registries, OCI chart sources and HTTP chart repositories alike; empty: none.
	CertsDir string
	// RequestTimeout bounds the wait for a response's headers once a request is sent;
	// StallTimeout the time a request or response body may go without a byte. A stalled
	// attempt is retried. 0: transport.DefaultRequestTimeout / transport.DefaultStallTimeout; negative: none.
	RequestTimeout, StallTimeout time.Duration
	// Retries is how many times a failed request is tried again; 0: 5; negative: never.
	Retries int
	// RetryBackoff is the first wait before a retry (doubled each time, capped at 15s);
	// 0: 250ms.
	RetryBackoff time.Duration
	// RetryWait waits out a retry's backoff or a 429's Retry-After; nil: a timer (a test
	// gives one that records the waits and returns at once).
	RetryWait func(ctx context.Context, d time.Duration) error
	// DownAfter is how many connection failures in a row (refused, unreachable, DNS, TLS)
	// mark a host down for the run; 0: transport.DefaultDownAfter; negative: never.
	DownAfter int
	// Destination is the destination registry host: errors about it say "destination".
	Destination string
	// DialContext opens connections (a proxy dialler, tests); nil: net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Local are hosts (host:port) answered by a handler in this process instead of over a
	// connection (an import serves its bundle so); their requests pass every other layer
	// of the transport. nil: none.
	Local map[string]http.Handler
	// Mirrors maps a source host to the mirror host[/path] its images are pulled from
	// ("docker.io" → "127.0.0.1:5001/docker.io"). Destinations never change.
	Mirrors map[string]string
	// CompleteMirrors are source hosts of Mirrors whose mirror holds every tag its source
	// has (a replica kept in sync, not a pull-through cache): its tag listings are trusted
	// for referrer discovery as the source's own would be.
	CompleteMirrors []string
	// RateLimits are budgets of manifest GETs per source host (Docker Hub counts them).
	RateLimits []transport.HostRate
	// DestLimits are budgets per destination host and kind. ECR hosts get ECR's default
	// quotas (manifest PUT 10/s, upload start and complete 100/s each) for kinds not set.
	DestLimits []transport.HostRate
	// ECRHosts are ECR registries whose names do not say so (VPC endpoints, a simulator):
	// they get ECR's default quotas too. Hosts named *.dkr.ecr.REGION.amazonaws.com (and
	// the dual-stack and FIPS forms) need not be listed.
	ECRHosts []string
	// Keychains are asked after flags and docker config.json, before anonymous (ECR).
	Keychains []authn.Keychain
	// HostKeychains are asked before anything else: credentials the configuration gives
	// for particular hosts (an OCI chart repository's username and password).
	HostKeychains []authn.Keychain
	// Credentials from flags or the environment; empty: not used.
	DockerHubUser, DockerHubToken, PublicECRPassword, PrivateECRPassword string
	// Logger receives retries and fallbacks at debug level; nil: no logs.
	Logger *zap.Logger
	// UserAgent is sent with every request; empty: airgap-charts/VERSION.
	UserAgent string

	// PullBudgetWait is how long a run may wait for a host's advertised pull window
	// (ratelimit-remaining: 0;w=SECONDS) to pass; 0: stop with a transport.PullBudgetError instead
	// (with WaitForBudget: as long as the window says).
	PullBudgetWait time.Duration
	// WaitForBudget waits, logging until when, for a spent pull budget (RateLimits, or the
	// one a host advertises) to allow the next pulls; false: such pulls are refused with a
	// *transport.PullBudgetError saying how many more were needed. A wait of a few seconds that only
	// paces the run is always waited.
	WaitForBudget bool
	// SpoolDir holds blobs kept to upload them again where a registry does not mount;
	// empty: a new directory under os.TempDir(), removed by Close.
	SpoolDir string
	// SpoolBytes bounds the spool; 0: 2 GiB; negative: no spool (a blob a non-mounting
	// registry needs in several repositories is then pulled once per repository).
	SpoolBytes int64
}

// maxBudgetWait is the longest advertised pull window WaitForBudget waits out (Docker
// Hub's is 6h).
const maxBudgetWait = 24 * time.Hour

// Client copies images between registries. It is safe for concurrent use; one Client
// serves a whole run so that its transport, limits and blob table are shared.
type Client struct {
	opts     ClientOptions
	log      *zap.Logger
	limits   *transport.Limits
	bounds   Bounds            // every bound derived from Concurrency
	rt       http.RoundTripper // shared transport without authentication
	art      http.RoundTripper // rt with authentication, as remote must get it
	hc       *http.Client      // rt with authentication (the router itself) for the client's own registry requests
	keychain authn.Keychain
	creds    *auth.Chain // the same, for naming the credentials a refused request used
	insecure map[string]bool
	mirrors  map[string]mirror
	puller   *remote.Puller
	blobs    *blobTable
	spool    *spool
	slots    chan struct{} // concurrent blob transfers
	// referrers is what the run learned about referrers (referrers.go).
	referrers *referrerState
}

type mirror struct {
	host, prefix string
	complete     bool // holds every tag of its source (CompleteMirrors)
}

// NewClient builds a client; it fails on contradictory options.
func NewClient(opts ClientOptions) (*Client, error) {
	bounds := NewBounds(opts.Concurrency, 0)
	opts.Concurrency = bounds.CopyWorkers
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	pullWait := opts.PullBudgetWait
	if opts.WaitForBudget && pullWait <= 0 {
		pullWait = maxBudgetWait
	}
	c := &Client{
		opts: opts,
		log:  log,
		creds: auth.NewChain(auth.Credentials{HostKeychains: opts.HostKeychains, Keychains: opts.Keychains,
			DockerHubUser: opts.DockerHubUser, DockerHubToken: opts.DockerHubToken,
			PublicECRPassword: opts.PublicECRPassword, PrivateECRPassword: opts.PrivateECRPassword}),
		insecure:  map[string]bool{},
		mirrors:   map[string]mirror{},
		blobs:     newBlobTable(),
		bounds:    bounds,
		slots:     make(chan struct{}, bounds.BlobTransfers),
		referrers: newReferrerState(),
	}
	c.keychain = c.creds
	for _, h := range opts.Insecure {
		c.insecure[strings.ToLower(strings.TrimSpace(h))] = true
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = UserAgent()
	}
	tr, err := transport.New(transport.Config{
		Rates:    append(append([]transport.HostRate(nil), opts.RateLimits...), opts.DestLimits...),
		ECRHosts: opts.ECRHosts, PullWait: pullWait, WaitForBudget: opts.WaitForBudget, MaxPerHost: opts.MaxPerHost,
		DownAfter: opts.DownAfter, Destination: opts.Destination,
		IdleConnsPerHost: bounds.IdleConnsPerHost, Dial: opts.DialContext, Local: opts.Local,
		RequestTimeout: opts.RequestTimeout, StallTimeout: opts.StallTimeout, CAFile: opts.CAFile, CertsDir: opts.CertsDir,
		Retries: opts.Retries, RetryBackoff: opts.RetryBackoff, RetryWait: opts.RetryWait, Insecure: c.Insecure, UserAgent: ua, Log: log,
	})
	if err != nil {
		return nil, err
	}
	c.limits, c.rt = tr.Limits, tr
	complete := map[string]bool{}
	for _, h := range opts.CompleteMirrors {
		if _, ok := opts.Mirrors[h]; !ok {
			return nil, fmt.Errorf("complete mirror %s: no registry mirror is given for it", h)
		}
		complete[config.HostKey(h)] = true
	}
	for src, dst := range opts.Mirrors {
		host, prefix, _ := strings.Cut(strings.Trim(dst, "/"), "/")
		if host == "" {
			return nil, fmt.Errorf("registry mirror for %s: empty mirror host", src)
		}
		c.mirrors[config.HostKey(src)] = mirror{host: host, prefix: prefix, complete: complete[config.HostKey(src)]}
		tr.Limits.Mirror(src, host)
	}
	router := auth.NewRouter(tr, c.keychain, c.Insecure)
	c.art = router.Wrapper()
	c.hc = &http.Client{Transport: router}
	c.puller, err = remote.NewPuller(c.remoteOptions(context.Background())...)
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	c.spool, err = newSpool(opts.SpoolDir, opts.SpoolBytes)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Close removes what the client kept on disk (the blob spool).
func (c *Client) Close() error { return c.spool.close() }

// Insecure reports whether host (host[:port]) was marked insecure, by host:port or by
// bare host name.
func (c *Client) Insecure(host string) bool {
	h := strings.ToLower(host)
	if c.insecure[h] {
		return true
	}
	if bare, _, err := net.SplitHostPort(h); err == nil {
		return c.insecure[bare]
	}
	return false
}

// nameOptions are the go-containerregistry name options for references on host.
func (c *Client) nameOptions(host string) []name.Option {
	if c.Insecure(host) {
		return []name.Option{name.Insecure}
	}
	return nil
}

// HTTPClient is an *http.Client over the shared transport (no registry authentication): for chart
// repositories and anything else of the run that speaks HTTP.
func (c *Client) HTTPClient() *http.Client { return &http.Client{Transport: c.rt} }

// remoteOptions are go-containerregistry remote options over the shared transport with
// the client's authentication: the auth chain is asked once per registry host, each
// host's challenge is learned from its first 401 (no GET /v2/ ping per repository), and
// tokens are kept per repository scope for the run. go-containerregistry adds no retries
// of its own: the shared transport retries, honouring Retry-After.
func (c *Client) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(c.art),
		remote.WithJobs(c.bounds.RemoteJobs),
	}
}

// OCIPreflight is a preflight over the client's authenticated transport: one manifest
// HEAD per destination tag, no ping.
func (c *Client) OCIPreflight() *OCIPreflight {
	return newOCIPreflight(c.hc.Transport, c.Insecure, c.explainAuth)
}

// RefusedPulls returns, per host, the manifest GETs refused because the host's advertised
// pull budget was spent: how many more pulls the run needed.
func (c *Client) RefusedPulls() map[string]int { return c.limits.RefusedPulls() }

// pullRef is where src is pulled from: its mirror when one is configured.
func (c *Client) pullRef(src ImageRef) (name.Reference, error) {
	from := src
	if m, ok := c.mirrors[config.HostKey(src.Registry)]; ok {
		from.Registry = m.host
		if m.prefix != "" {
			from.Repository = m.prefix + "/" + src.Repository
		}
	}
	ref, err := from.NameReference(c.nameOptions(from.Registry)...)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", src, err)
	}
	return ref, nil
}

// destRepo is dst's repository as go-containerregistry names it.
func (c *Client) destRepo(dst ImageRef) (name.Repository, error) {
	repo, err := name.NewRepository(dst.Name(), c.nameOptions(dst.Registry)...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("destination %s: %w", dst, err)
	}
	return repo, nil
}

// explainAuth turns a registry's 401 or 403 in err into an *auth.Error naming the
// credentials tried for that host; any other error is returned as it is.
func (c *Client) explainAuth(err error) error { return c.creds.Explain(err) }
