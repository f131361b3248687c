package transport

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/airgap-charts/airgap-charts/config"
)

// RequestKind names a class of registry request that a host may budget.
type RequestKind string

const (
	// KindManifestGet is a manifest GET: what Docker Hub counts as one pull. HEAD is free.
	KindManifestGet RequestKind = "manifest-get"
	// KindManifestPut is a manifest PUT (ECR PutImage).
	KindManifestPut RequestKind = "manifest-put"
	// KindUpload is a blob upload start (POST …/blobs/uploads/, ECR InitiateLayerUpload) and
	// a blob upload completion (PUT …/blobs/uploads/…, ECR CompleteLayerUpload). The two
	// phases draw from separate buckets of the same rate, as ECR's quotas are separate.
	KindUpload RequestKind = "upload"

	// ManifestGet, ManifestPut and Upload are short names of the kinds above.
	ManifestGet = KindManifestGet
	ManifestPut = KindManifestPut
	Upload      = KindUpload
)

// HostRate is a budget of N requests of one kind per Period against one registry host
// (host[:port]; "docker.io" also covers index.docker.io and registry-1.docker.io).
type HostRate struct {
	Host   string
	Kind   RequestKind
	N      int
	Period time.Duration
}

// ECR's default API quotas, per second: PutImage, and layer upload initiations (and,
// separately, completions). The one place they are written down.
const (
	ECRPutImageQuota    = 10
	ECRLayerUploadQuota = 100
)

// ecrDefaultRates are ECR's default quotas, applied to ECR hosts without an explicit rate.
var ecrDefaultRates = []HostRate{
	{Kind: KindManifestPut, N: ECRPutImageQuota, Period: time.Second},
	{Kind: KindUpload, N: ECRLayerUploadQuota, Period: time.Second},
}

// hostKey is the canonical spelling of a host for limits.

// bucketKind splits KindUpload into its two phases.
type bucketKind string

// classify returns the budgeted kind of req, if any.
func classify(req *http.Request) (bucketKind, bool) {
	p := req.URL.Path
	if !strings.HasPrefix(p, "/v2/") {
		return "", false
	}
	switch {
	case strings.Contains(p, "/manifests/"):
		switch req.Method {
		case http.MethodGet:
			return bucketKind(KindManifestGet), true
		case http.MethodPut:
			return bucketKind(KindManifestPut), true
		}
	case strings.Contains(p, "/blobs/uploads"):
		switch req.Method {
		case http.MethodPost:
			return bucketKind(KindUpload) + ":start", true
		case http.MethodPut:
			return bucketKind(KindUpload) + ":complete", true
		}
	}
	return "", false
}

// hostState is everything shared by the requests to one host: the pause after a 429,
// token buckets per kind, the pull budget the host advertises, and mount support.
type hostState struct {
	mu         sync.Mutex
	pauseUntil time.Time
	buckets    map[bucketKind]*rate.Limiter
	pulls      *pullBucket // --rate-limit on manifest GETs; nil: none
	pull       pullBudget  // advertised by ratelimit-remaining

	connFails  int            // connection failures in a row
	down       *HostDownError // non-nil: the host is down for the run
	waitLogged time.Time      // the end of the last long wait logged for this host

	throttled int // 429s without a spent quota in a row (throttle.go)
	// recent holds the host's latest answers, newest in the lowest bit, 1 for a 429
	// without a spent quota; answers is how many of its bits are answers yet (throttle.go).
	recent  uint16
	answers int

	// inflight holds a token per request in flight to the host (--max-per-host); nil: no cap.
	inflight chan struct{}

	mountsOff bool // a mount answered 202: this host does not mount
	mountsOn  bool // a mount answered 201: this host mounts
	// mountProbe lets one mount at a time through while the host's answer is unknown, so
	// a registry that does not mount sees one attempt, not one per blob in flight.
	mountProbe sync.Mutex
}

// Limits holds the state of every host a client talks to.
type Limits struct {
	mu       sync.Mutex
	hosts    map[string]*hostState
	rates    map[string][]HostRate // by host key
	ecr      map[string]bool       // hosts with ECR's default quotas though not named like ECR
	mirrored map[string][]string   // mirror host key → the source host keys pulled through it
	pullWait time.Duration         // how long a spent advertised pull budget may be waited out
	// budgetWait: a spent --rate-limit budget is waited for (--on-budget wait), not refused.
	budgetWait bool
	probe      http.RoundTripper // sends the HEAD that learns a pull budget; nil: none

	// caps are the requests in flight allowed per host key ("": every host without its
	// own; hostcap.go); onCapWait, when set, is told of each request that has to wait for
	// one (tests).
	caps      map[string]int
	onCapWait func(host string)
	// onPause, when set, is told of each pause of a host (tests).
	onPause func(host string, until time.Time)

	downAfter    int             // connection failures in a row that mark a host down; 0: never
	destinations map[string]bool // host keys named "destination" in errors
	log          *zap.Logger     // long waits, hosts going down; nil: none
}

func newHostLimits(rates []HostRate, ecrHosts []string, pullWait time.Duration) (*Limits, error) {
	h := &Limits{hosts: map[string]*hostState{}, rates: map[string][]HostRate{}, ecr: map[string]bool{},
		mirrored: map[string][]string{}, pullWait: pullWait, destinations: map[string]bool{}}
	for _, e := range ecrHosts {
		h.ecr[config.HostKey(e)] = true
	}
	for _, r := range rates {
		if r.Host == "" || r.N <= 0 || r.Period <= 0 {
			return nil, fmt.Errorf("rate limit %q %s: need a host, N > 0 and a period > 0", r.Host, r.Kind)
		}
		switch r.Kind {
		case KindManifestGet, KindManifestPut, KindUpload:
		default:
			return nil, fmt.Errorf("rate limit %q: unknown request kind %q", r.Host, r.Kind)
		}
		k := config.HostKey(r.Host)
		h.rates[k] = append(h.rates[k], r)
	}
	return h, nil
}

// Mirror says that source's images are pulled from mirrorHost (--registry-mirror): the
// mirror takes the source's rates for the kinds it has none of its own, since the requests
// a budget of the source (--rate-limit docker.io=…) is meant for really go to the mirror.
// Call before the first request.
func (h *Limits) Mirror(source, mirrorHost string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := config.HostKey(mirrorHost)
	h.mirrored[k] = append(h.mirrored[k], config.HostKey(source))
}

// ratesOf are the rates of host key k: its own, then for each kind it lacks the strictest
// of the sources mirrored to it. Call with h.mu held.
func (h *Limits) ratesOf(k string) []HostRate {
	rates := append([]HostRate(nil), h.rates[k]...)
	inherited := map[RequestKind]HostRate{}
	for _, src := range h.mirrored[k] {
		for _, r := range h.rates[src] {
			if cur, ok := inherited[r.Kind]; !ok || float64(r.N)/r.Period.Seconds() < float64(cur.N)/cur.Period.Seconds() {
				inherited[r.Kind] = r
			}
		}
	}
	for _, kind := range []RequestKind{KindManifestGet, KindManifestPut, KindUpload} {
		r, ok := inherited[kind]
		if !ok {
			continue
		}
		own := false
		for _, o := range rates {
			own = own || o.Kind == kind
		}
		if !own {
			r.Host = k
			rates = append(rates, r)
		}
	}
	return rates
}

func (h *Limits) state(host string) *hostState {
	k := config.HostKey(host)
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.hosts[k]
	if s == nil {
		s = &hostState{buckets: map[bucketKind]*rate.Limiter{}}
		if n := h.capOf(k); n > 0 {
			s.inflight = make(chan struct{}, n)
		}
		rates := h.ratesOf(k)
		if _, _, isECR := config.IsECRHost(k); isECR || h.ecr[k] {
			rates = append(defaultsMissing(rates), rates...)
		}
		for _, r := range rates {
			switch r.Kind {
			case KindManifestGet:
				s.pulls = newPullBucket(r.N, r.Period)
				s.pulls.wait, s.pulls.host = h.budgetWait, k
				s.pulls.log = func(what string, until time.Time) { h.logWait(k, s, what, until) }
				s.pulls.refuse = s.refusePulls
			case KindUpload:
				lim := rate.NewLimiter(rate.Every(r.Period/time.Duration(r.N)), r.N)
				s.buckets[bucketKind(KindUpload)+":start"] = lim
				s.buckets[bucketKind(KindUpload)+":complete"] = rate.NewLimiter(lim.Limit(), lim.Burst())
			default:
				s.buckets[bucketKind(r.Kind)] = rate.NewLimiter(rate.Every(r.Period/time.Duration(r.N)), r.N)
			}
		}
		h.hosts[k] = s
	}
	return s
}

// defaultsMissing returns the ECR default rates whose kind rates does not set.
func defaultsMissing(rates []HostRate) []HostRate {
	var out []HostRate
	for _, d := range ecrDefaultRates {
		found := false
		for _, r := range rates {
			found = found || r.Kind == d.Kind
		}
		if !found {
			out = append(out, d)
		}
	}
	return out
}

// wait blocks until req may be sent to its host: within the pull budget for a manifest
// GET, with a token from the host's bucket for its kind, and after any 429 pause. done
// must be called with the answer (nil: none). A non-nil answer is req's answer already
// (takePull's): do not send req.
func (h *Limits) wait(ctx context.Context, req *http.Request) (done func(*http.Response), answer *http.Response, err error) {
	host := req.URL.Host
	s := h.state(host)
	kind, budgeted := classify(req)
	manifestGet := budgeted && kind == bucketKind(KindManifestGet)
	reserved := false // the pull came from its image's reservation (pullGroup)
	if manifestGet {
		for since := time.Now(); ; {
			// The advertised budget first: a spent one is refused without waiting for a token.
			if answer, err := h.takePull(ctx, req, s); err != nil || answer != nil {
				return nil, answer, err
			}
			if s.pulls == nil {
				break
			}
			var err error
			if reserved, err = s.pulls.takePull(ctx, since); err == nil {
				break
			}
			s.releasePull()
			if errors.Is(err, errScarce) {
				// Wait holding nothing: the image waited for may need the advertised
				// reservation just given back to learn its needs.
				if err = s.pulls.awaitStart(ctx, since); err == nil {
					continue
				}
			}
			var pb *PullBudgetError
			if errors.As(err, &pb) {
				return nil, nil, err
			}
			return nil, nil, fmt.Errorf("registry %s: waiting for %s rate limit: %w", host, kind, err)
		}
	} else if budgeted {
		s.mu.Lock()
		lim := s.buckets[kind]
		s.mu.Unlock()
		if lim != nil {
			r := lim.Reserve()
			if !r.OK() {
				return nil, nil, fmt.Errorf("registry %s: %s rate limit allows no request", host, kind)
			}
			if d := r.Delay(); d > 0 {
				if d > longWait {
					h.logWait(host, s, fmt.Sprintf("the %s rate limit", kind), time.Now().Add(d))
				}
				if err := SleepCtx(ctx, d); err != nil {
					r.Cancel()
					return nil, nil, fmt.Errorf("registry %s: waiting for %s rate limit: %w", host, kind, err)
				}
			}
		}
	}
	if err := s.waitPause(ctx); err != nil {
		if manifestGet {
			s.releasePull()
			if s.pulls != nil {
				s.pulls.giveBack(ctx, reserved)
			}
		}
		return nil, nil, err
	}
	return func(resp *http.Response) {
		s.observe(resp, manifestGet)
		if manifestGet && s.pulls != nil && notAPull(resp) {
			s.pulls.giveBack(ctx, reserved)
		}
	}, nil, nil
}

// pause holds every request to host until until (a 429's Retry-After).
func (h *Limits) pause(host string, until time.Time) {
	s := h.state(host)
	s.mu.Lock()
	longer := until.After(s.pauseUntil)
	if longer {
		s.pauseUntil = until
	}
	s.mu.Unlock()
	if h.onPause != nil {
		h.onPause(host, until)
	}
	if longer && time.Until(until) > longWait {
		h.logWait(host, s, "the end of a 429 Too Many Requests pause (Retry-After)", until)
	}
}

func (s *hostState) waitPause(ctx context.Context) error {
	for {
		s.mu.Lock()
		d := time.Until(s.pauseUntil)
		s.mu.Unlock()
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// MountGate lets a mount attempt on host proceed; release after learning the answer.
// ok is false when the host is known not to mount.
func (h *Limits) MountGate(host string) (release func(), ok bool) {
	s := h.state(host)
	s.mu.Lock()
	on, off := s.mountsOn, s.mountsOff
	s.mu.Unlock()
	switch {
	case off:
		return nil, false
	case on:
		return func() {}, true
	}
	s.mountProbe.Lock()
	s.mu.Lock()
	off = s.mountsOff
	s.mu.Unlock()
	if off {
		s.mountProbe.Unlock()
		return nil, false
	}
	return s.mountProbe.Unlock, true
}

// DisableMounts records that host does not mount (a mount answered 202, or was refused).
func (h *Limits) DisableMounts(host string) {
	s := h.state(host)
	s.mu.Lock()
	s.mountsOff = true
	s.mu.Unlock()
}

// ConfirmMounts records that a mount on host answered 201.
func (h *Limits) ConfirmMounts(host string) {
	s := h.state(host)
	s.mu.Lock()
	s.mountsOn = true
	s.mu.Unlock()
}

// MountsConfirmed reports whether a mount on host answered 201 before.
func (h *Limits) MountsConfirmed(host string) bool {
	s := h.state(host)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mountsOn && !s.mountsOff
}

// longWait is the shortest wait that is logged: a run that stops moving for longer says why.
const longWait = 5 * time.Second

// logWait logs, once per wait episode of a host, what its requests wait for and until when.
func (h *Limits) logWait(host string, s *hostState, what string, until time.Time) {
	if h.log == nil {
		return
	}
	s.mu.Lock()
	if time.Now().Before(s.waitLogged) {
		s.mu.Unlock()
		return // a wait logged before is still running
	}
	s.waitLogged = until
	s.mu.Unlock()
	h.log.Info("waiting for "+what, zap.String("host", host), zap.Time("until", until),
		zap.Duration("wait", time.Until(until).Round(time.Second)))
}

// RequestRepository is the repository of a /v2/<name>/{manifests,blobs,tags,referrers}/…
// path, "" for any other path.
func RequestRepository(path string) string {
	p, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return ""
	}
	end := -1
	for _, seg := range []string{"/manifests/", "/blobs/", "/tags/", "/referrers/"} {
		if i := strings.LastIndex(p, seg); i > end {
			end = i
		}
	}
	if end <= 0 {
		return ""
	}
	return p[:end]
}

// UploadCompletionBudgeted reports whether host budgets upload completions (ECR's
// CompleteLayerUpload quota, or a rate the user set).
func (h *Limits) UploadCompletionBudgeted(host string) bool {
	s := h.state(host)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buckets[bucketKind(KindUpload)+":complete"] != nil
}
