// Package ecrsim is a test-only Amazon ECR simulator: an httptest server that speaks ECR's
// JSON 1.1 control-plane protocol (and STS GetCallerIdentity, ECR Public
// GetAuthorizationToken) to the real aws-sdk-go-v2 clients, with ECR's page and batch
// limits and error codes, in front of a real distribution registry (registrytest) that
// serves the data plane under ECR's rules: Basic auth with GetAuthorizationToken tokens,
// NAME_UNKNOWN for repositories never created, no blob mounts unless BLOB_MOUNTING is
// ENABLED, immutable tags. Image listings read the real registry, so both planes agree.
//
// Known gaps: images pushed before the simulator saw them (straight into Backend) are
// listed when tagged but not when untagged; imageSizeInBytes of an index is 0.
package ecrsim

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// Defaults of a simulator.
const (
	DefaultAccount = "111122223333"
	DefaultRegion  = "us-east-1"
	// AccessKeyID and SecretAccessKey are the static credentials of AWSConfig.
	AccessKeyID     = "AKIAECRSIMULATOR0000"
	SecretAccessKey = "ecrsim-secret-access-key"
)

// Option configures New.
type Option func(*config)

type config struct {
	account, region string
	tokenTTL        time.Duration
	blobMounting    bool
	createOnPush    bool
}

// WithAccount sets the AWS account id (default DefaultAccount).
func WithAccount(id string) Option { return func(c *config) { c.account = id } }

// WithRegion sets the region (default DefaultRegion).
func WithRegion(r string) Option { return func(c *config) { c.region = r } }

// WithTokenTTL sets how long authorization tokens live (ECR: 12 h, the default).
func WithTokenTTL(d time.Duration) Option { return func(c *config) { c.tokenTTL = d } }

// WithBlobMounting sets the account's BLOB_MOUNTING setting (ECR's default: DISABLED).
func WithBlobMounting(enabled bool) Option { return func(c *config) { c.blobMounting = enabled } }

// WithCreateOnPush models a repository creation template: a push into a repository never
// created creates it (MUTABLE, no scan) instead of answering NAME_UNKNOWN.
func WithCreateOnPush() Option { return func(c *config) { c.createOnPush = true } }

// Repository is a repository's state as the control plane holds it.
type Repository struct {
	Name               string
	CreatedAt          time.Time
	ImageTagMutability string // MUTABLE or IMMUTABLE
	ScanOnPush         bool
	EncryptionType     string // AES256 or KMS
	KMSKey             string
	LifecyclePolicy    string
	pushed             map[string]time.Time  // manifest digest → push time, as seen by the data plane
	referrers          map[string][]referrer // subject digest → manifests pushed with it (referrers.go)
}

// Sim is a running simulator.
type Sim struct {
	// URL is the endpoint for the SDK clients' BaseEndpoint.
	URL string
	// Host is the registry host (host:port) for image references.
	Host            string
	Account, Region string
	// Backend is the distribution registry behind the data plane. Its request counts include
	// the simulator's own reads; Count and Requests give the data plane as clients saw it.
	Backend *registrytest.Registry

	cfg     config
	server  *httptest.Server
	proxy   *httputil.ReverseProxy
	backend *http.Client
	bURL    *url.URL

	mu           sync.Mutex
	repos        map[string]*Repository
	calls        map[string]int
	tokens       map[string]time.Time // token → expiry
	blobMounting bool
	requests     []registrytest.Request
	generation   int // bumped by ResetCounts: a late answer never lands on a newer request
	intercept    func(http.ResponseWriter, *http.Request) bool
}

// New starts a simulator; it is closed when the test ends.
func New(t testing.TB, opts ...Option) *Sim {
	t.Helper()
	c := config{account: DefaultAccount, region: DefaultRegion, tokenTTL: 12 * time.Hour}
	for _, o := range opts {
		o(&c)
	}
	s := &Sim{
		Account: c.account, Region: c.region, cfg: c,
		Backend:      registrytest.New(t),
		repos:        map[string]*Repository{},
		calls:        map[string]int{},
		tokens:       map[string]time.Time{},
		blobMounting: c.blobMounting,
	}
	s.bURL, _ = url.Parse(s.Backend.Server.URL)
	s.backend = s.Backend.Server.Client()
	s.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(s.bURL)
			pr.Out.Host = pr.In.Host // upload Locations name the simulator, not the backend
		},
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
	}
	s.server = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.server.Close)
	s.URL = s.server.URL
	s.Host = strings.TrimPrefix(s.server.URL, "http://")
	return s
}

func (s *Sim) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch target := r.Header.Get("X-Amz-Target"); {
	case target != "":
		s.serveJSON(w, r, target)
	case r.Method == http.MethodPost && !strings.HasPrefix(r.URL.Path, "/v2"):
		s.serveQuery(w, r)
	default:
		s.serveRegistry(w, r)
	}
}

// AWSConfig is an SDK configuration for the simulator's region with static credentials.
func (s *Sim) AWSConfig() aws.Config {
	return aws.Config{
		Region:      s.Region,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
	}
}

// Client is a real ECR client pointed at the simulator.
func (s *Sim) Client() *ecr.Client {
	return ecr.NewFromConfig(s.AWSConfig(), func(o *ecr.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// Calls returns how many control-plane calls of op ("ListImages", "GetCallerIdentity",
// "ecrpublic.GetAuthorizationToken"…) were served, errors included.
func (s *Sim) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// TotalCalls returns the number of control-plane calls of every operation.
func (s *Sim) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// ResetCounts forgets control-plane calls and data-plane requests seen so far.
func (s *Sim) ResetCounts() {
	s.mu.Lock()
	s.calls = map[string]int{}
	s.requests = nil
	s.generation++
	s.mu.Unlock()
}

// Repository returns a copy of a repository's control-plane state.
func (s *Sim) Repository(name string) (Repository, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[name]
	if !ok {
		return Repository{}, false
	}
	c := *r
	c.pushed = nil
	return c, true
}

// BlobMounting reports the account's BLOB_MOUNTING setting.
func (s *Sim) BlobMounting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blobMounting
}

// Requests returns every data-plane request clients made, with the status answered.
func (s *Sim) Requests() []registrytest.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]registrytest.Request(nil), s.requests...)
}

// Count returns how many data-plane requests of kind clients made.
func (s *Sim) Count(kind registrytest.Kind) int {
	n := 0
	for _, q := range s.Requests() {
		if q.Kind == kind {
			n++
		}
	}
	return n
}

// Intercept installs fn in front of the data plane (before auth): when it returns true it
// has answered the request itself (a 429, a 500…). nil removes it.
func (s *Sim) Intercept(fn func(http.ResponseWriter, *http.Request) bool) {
	s.mu.Lock()
	s.intercept = fn
	s.mu.Unlock()
}

func (s *Sim) count(op string) {
	s.mu.Lock()
	s.calls[op]++
	s.mu.Unlock()
}
