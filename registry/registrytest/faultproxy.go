package registrytest

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fault is what a FaultProxy does to a request a rule matches.
type Fault string

const (
	// FaultStatus answers Status itself (a 5xx, a 429 with RetryAfter), nothing forwarded.
	FaultStatus Fault = "status"
	// FaultReset forwards, then sends half of the answer's body and drops the connection
	// (an answer without a body is dropped whole).
	FaultReset Fault = "reset"
	// FaultTruncate forwards, then sends half of the body as if it were all of it
	// (Content-Length says so): an answer that looks complete and is not.
	FaultTruncate Fault = "truncate"
	// FaultCorrupt forwards, then flips one byte of the body: same length, wrong digest.
	FaultCorrupt Fault = "corrupt"
	// FaultTamper forwards, then appends a byte to the body (a JSON manifest still
	// parses) and keeps every header, Docker-Content-Digest included.
	FaultTamper Fault = "tamper"
	// FaultStall holds the request without an answer until the client gives up.
	FaultStall Fault = "stall"
	// FaultTrickle forwards, then sends the headers and one byte of body per Interval.
	FaultTrickle Fault = "trickle"
)

// Rule injects Fault into the requests Match accepts (nil: every request), the first
// Times of them (0: all).
type Rule struct {
	Match      func(*http.Request) bool
	Fault      Fault
	Status     int           // FaultStatus; 0: 503
	RetryAfter string        // FaultStatus: a Retry-After header; empty: none
	Interval   time.Duration // FaultTrickle; 0: 100ms
	Times      int
}

// OnKinds matches registry requests of these kinds.
func OnKinds(kinds ...Kind) func(*http.Request) bool {
	return func(r *http.Request) bool {
		k, _ := Classify(r)
		for _, want := range kinds {
			if k == want {
				return true
			}
		}
		return false
	}
}

// OnPath matches requests whose path contains s.
func OnPath(s string) func(*http.Request) bool {
	return func(r *http.Request) bool { return strings.Contains(r.URL.Path, s) }
}

// Both matches requests both a and b match.
func Both(a, b func(*http.Request) bool) func(*http.Request) bool {
	return func(r *http.Request) bool { return a(r) && b(r) }
}

// FaultProxy is a reverse proxy on httptest in front of one HTTP server (a registry, a
// chart repository) that injects faults into the requests its rules match. Answers are
// read whole from upstream before they are sent on (test payloads are small).
type FaultProxy struct {
	Server *httptest.Server
	Host   string // host:port
	URL    string

	upstream *url.URL
	rt       http.RoundTripper
	done     chan struct{}

	mu       sync.Mutex
	rules    []Rule
	hits     []int
	injected map[Fault]int
	requests []Request
}

// NewFaultProxy starts a proxy to upstream (http://host:port); it is closed when the test
// ends. rules may be changed at any time with SetRules.
func NewFaultProxy(t testing.TB, upstream string, rules ...Rule) *FaultProxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatalf("fault proxy upstream %q: %v", upstream, err)
	}
	p := &FaultProxy{upstream: u, done: make(chan struct{}), injected: map[Fault]int{},
		rt: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64}}
	p.SetRules(rules...)
	p.Server = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	p.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	p.Server.Start()
	p.URL = p.Server.URL
	p.Host = strings.TrimPrefix(p.URL, "http://")
	t.Cleanup(p.Close)
	return p
}

// Close releases every held request and stops the proxy.
func (p *FaultProxy) Close() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.done)
	p.Server.Close()
}

// SetRules replaces the rules (none: a plain proxy) and their counts.
func (p *FaultProxy) SetRules(rules ...Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules, p.hits = rules, make([]int, len(rules))
}

// Injected is how many requests got fault f so far.
func (p *FaultProxy) Injected(f Fault) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected[f]
}

// Requests returns every request seen so far (Status 0 for a stalled one).
func (p *FaultProxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// Reset forgets the requests seen so far.
func (p *FaultProxy) Reset() {
	p.mu.Lock()
	p.requests = nil
	p.mu.Unlock()
}

// pick returns the rule r draws, if any, and counts it.
func (p *FaultProxy) pick(r *http.Request) (Rule, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	kind, repo := Classify(r)
	p.requests = append(p.requests, Request{Kind: kind, Method: r.Method, Path: r.URL.Path, Repository: repo})
	for i, rule := range p.rules {
		if rule.Match != nil && !rule.Match(r) {
			continue
		}
		if rule.Times > 0 && p.hits[i] >= rule.Times {
			continue
		}
		p.hits[i]++
		p.injected[rule.Fault]++
		return rule, true
	}
	return Rule{}, false
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	rule, faulty := p.pick(r)
	if faulty && rule.Fault == FaultStatus {
		if rule.RetryAfter != "" {
			w.Header().Set("Retry-After", rule.RetryAfter)
		}
		status := rule.Status
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"errors":[{"code":"UNAVAILABLE","message":"injected %d"}]}`, status)
		return
	}
	if faulty && rule.Fault == FaultStall {
		select {
		case <-r.Context().Done():
		case <-p.done:
		}
		return
	}
	resp, body, err := p.forward(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	if faulty && rule.Fault == FaultReset && len(body) == 0 {
		panic(http.ErrAbortHandler) // done upstream, the answer lost: the connection drops
	}
	if !faulty || r.Method == http.MethodHead || len(body) == 0 {
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
		return
	}
	switch rule.Fault {
	case FaultReset:
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection is dropped mid-body
	case FaultTruncate:
		body = body[:len(body)/2]
	case FaultCorrupt:
		body = bytes.Clone(body)
		body[len(body)/2] ^= 0xff
	case FaultTamper:
		body = append(bytes.Clone(body), ' ')
	case FaultTrickle:
		interval := rule.Interval
		if interval <= 0 {
			interval = 100 * time.Millisecond
		}
		w.WriteHeader(resp.StatusCode)
		for i := range body {
			_, _ = w.Write(body[i : i+1])
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-p.done:
				return
			case <-time.After(interval):
			}
		}
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// forward sends r upstream (its Host kept, so a registry builds its upload locations
// for the proxy) and reads the whole answer.
func (p *FaultProxy) forward(r *http.Request) (*http.Response, []byte, error) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.upstream.Scheme, p.upstream.Host
	out.Host = r.Host
	resp, err := p.rt.RoundTrip(out)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}
