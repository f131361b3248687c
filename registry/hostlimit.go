package registry

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
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

// ecrDefaultRates are ECR's default quotas, applied to ECR hosts without an explicit rate.
var ecrDefaultRates = []HostRate{
	{Kind: KindManifestPut, N: 10, Period: time.Second},
	{Kind: KindUpload, N: 100, Period: time.Second},
}

// hostKey is the canonical spelling of a host for limits.
func hostKey(host string) string {
	h := strings.ToLower(host)
	switch h {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return DockerHub
	}
	return h
}

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

	// Pull budget advertised by ratelimit-remaining (-1: unknown).
	remaining int
	window    time.Duration
	inflight  int // manifest GETs sent and not yet answered
	refused   int // manifest GETs refused because the budget was spent

	mountsOff bool // a mount answered 202: this host does not mount
	mountsOn  bool // a mount answered 201: this host mounts
	// mountProbe lets one mount at a time through while the host's answer is unknown, so
	// a registry that does not mount sees one attempt, not one per blob in flight.
	mountProbe sync.Mutex
}

// hostLimits holds the state of every host a client talks to.
type hostLimits struct {
	mu       sync.Mutex
	hosts    map[string]*hostState
	rates    map[string][]HostRate // by host key
	ecr      map[string]bool       // hosts with ECR's default quotas though not named like ECR
	pullWait time.Duration         // how long a spent pull budget may be waited out
}

func newHostLimits(rates []HostRate, ecrHosts []string, pullWait time.Duration) (*hostLimits, error) {
	h := &hostLimits{hosts: map[string]*hostState{}, rates: map[string][]HostRate{}, ecr: map[string]bool{}, pullWait: pullWait}
	for _, e := range ecrHosts {
		h.ecr[hostKey(e)] = true
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
		k := hostKey(r.Host)
		h.rates[k] = append(h.rates[k], r)
	}
	return h, nil
}

func (h *hostLimits) state(host string) *hostState {
	k := hostKey(host)
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.hosts[k]
	if s == nil {
		s = &hostState{buckets: map[bucketKind]*rate.Limiter{}, remaining: -1}
		rates := h.rates[k]
		if _, _, isECR := IsECRHost(k); isECR || h.ecr[k] {
			rates = append(defaultsMissing(rates), rates...)
		}
		for _, r := range rates {
			lim := rate.NewLimiter(rate.Every(r.Period/time.Duration(r.N)), r.N)
			if r.Kind == KindUpload {
				s.buckets[bucketKind(KindUpload)+":start"] = lim
				s.buckets[bucketKind(KindUpload)+":complete"] = rate.NewLimiter(lim.Limit(), lim.Burst())
				continue
			}
			s.buckets[bucketKind(r.Kind)] = lim
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

// PullBudgetError says a host's advertised pull budget (ratelimit-remaining) is spent.
type PullBudgetError struct {
	Host    string
	Window  time.Duration
	Refused int // manifest GETs refused so far on this host, this one included
}

func (e *PullBudgetError) Error() string {
	return fmt.Sprintf("registry %s: pull budget spent (ratelimit-remaining reached 0, window %s); %d more manifest pull(s) needed so far: rerun after the window, authenticate for a larger budget, or use --registry-mirror",
		e.Host, e.Window, e.Refused)
}

// wait blocks until req may be sent to its host: after any 429 pause, within the pull
// budget, and with a token from the host's bucket for its kind.
func (h *hostLimits) wait(ctx context.Context, req *http.Request) (done func(*http.Response), err error) {
	host := req.URL.Host
	s := h.state(host)
	if err := s.waitPause(ctx); err != nil {
		return nil, err
	}
	kind, budgeted := classify(req)
	if budgeted && kind == bucketKind(KindManifestGet) {
		if err := h.takePull(ctx, host, s); err != nil {
			return nil, err
		}
	}
	if budgeted {
		s.mu.Lock()
		lim := s.buckets[kind]
		s.mu.Unlock()
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				return nil, fmt.Errorf("registry %s: waiting for %s rate limit: %w", host, kind, err)
			}
		}
	}
	manifestGet := budgeted && kind == bucketKind(KindManifestGet)
	return func(resp *http.Response) { s.observe(resp, manifestGet) }, nil
}

// takePull reserves one manifest GET from the advertised budget, waiting for the window
// when the client allows it.
func (h *hostLimits) takePull(ctx context.Context, host string, s *hostState) error {
	s.mu.Lock()
	if s.remaining < 0 || s.remaining > 0 {
		if s.remaining > 0 {
			s.remaining--
		}
		s.inflight++
		s.mu.Unlock()
		return nil
	}
	s.refused++
	perr := &PullBudgetError{Host: hostKey(host), Window: s.window, Refused: s.refused}
	wait := s.window
	s.mu.Unlock()
	if h.pullWait <= 0 || wait <= 0 || wait > h.pullWait {
		return perr
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	s.mu.Lock()
	s.refused--
	if s.remaining == 0 {
		s.remaining = -1 // the window passed: the next answer says what is left
	}
	s.inflight++
	s.mu.Unlock()
	return nil
}

// observe records what a response says about the host: its pull budget.
func (s *hostState) observe(resp *http.Response, manifestGet bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if manifestGet && s.inflight > 0 {
		s.inflight--
	}
	if resp == nil {
		return
	}
	n, w, ok := parseRateLimitRemaining(resp.Header.Get("ratelimit-remaining"))
	if !ok {
		return
	}
	// Requests still in flight were sent after this count was taken; they may be counted yet.
	n -= s.inflight
	if n < 0 {
		n = 0
	}
	if s.remaining < 0 || n < s.remaining || w != s.window {
		s.remaining = n
	}
	s.window = w
}

// parseRateLimitRemaining reads "N;w=SECONDS" (Docker Hub's ratelimit-remaining).
func parseRateLimitRemaining(v string) (n int, window time.Duration, ok bool) {
	if v == "" {
		return 0, 0, false
	}
	parts := strings.Split(v, ";")
	n, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil {
		return 0, 0, false
	}
	for _, p := range parts[1:] {
		if k, val, found := strings.Cut(strings.TrimSpace(p), "="); found && k == "w" {
			if secs, err := strconv.Atoi(val); err == nil {
				window = time.Duration(secs) * time.Second
			}
		}
	}
	return n, window, true
}

// pause holds every request to host until until (a 429's Retry-After).
func (h *hostLimits) pause(host string, until time.Time) {
	s := h.state(host)
	s.mu.Lock()
	if until.After(s.pauseUntil) {
		s.pauseUntil = until
	}
	s.mu.Unlock()
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

// mountGate lets a mount attempt on host proceed; release after learning the answer.
// ok is false when the host is known not to mount.
func (h *hostLimits) mountGate(host string) (release func(), ok bool) {
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

func (h *hostLimits) disableMounts(host string) {
	s := h.state(host)
	s.mu.Lock()
	s.mountsOff = true
	s.mu.Unlock()
}

func (h *hostLimits) confirmMounts(host string) {
	s := h.state(host)
	s.mu.Lock()
	s.mountsOn = true
	s.mu.Unlock()
}

// mountsConfirmed reports whether a mount on host answered 201 before.
func (h *hostLimits) mountsConfirmed(host string) bool {
	s := h.state(host)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mountsOn && !s.mountsOff
}

// refusedPulls returns the manifest GETs refused per host for a spent pull budget.
func (h *hostLimits) refusedPulls() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for k, s := range h.hosts {
		s.mu.Lock()
		if s.refused > 0 {
			out[k] = s.refused
		}
		s.mu.Unlock()
	}
	return out
}
