package transport

import (
	"context"
	"fmt"
	"github.com/airgap-charts/airgap-charts/config"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// PullBudgetError says a host's pull budget is spent: the one it advertises
// (ratelimit-remaining), or the one --rate-limit sets (Budget).
type PullBudgetError struct {
	Host    string
	Window  time.Duration
	Refused int    // manifest GETs refused so far on this host, this one included
	Budget  string // "--rate-limit N per PERIOD"; empty: the advertised budget
}

func (e *PullBudgetError) Error() string {
	if e.Budget != "" {
		return fmt.Sprintf("registry %s: pull budget spent (%s); at least %d more manifest pull(s) needed so far: rerun when the budget allows, raise it, or let the run wait with --on-budget wait",
			e.Host, e.Budget, e.Refused)
	}
	return fmt.Sprintf("registry %s: pull budget spent (ratelimit-remaining reached 0, window %s); at least %d more manifest pull(s) needed so far: rerun after the window, authenticate for a larger budget, or use --registry-mirror",
		e.Host, e.Window, e.Refused)
}

// pullBudget tracks the manifest GETs a host still allows, from its ratelimit-remaining
// header (Docker Hub: "N;w=SECONDS"), so that a run never sends a pull the host would
// refuse, yet spends every pull the host still has.
//
// Within a window the host's count only goes down, so the lowest count it reported (low)
// is the freshest. Every pull the host charged after reporting low has been answered with
// a lower count (then it would be low) or is still in flight; so at least
// low − inflight − lost pulls remain, where lost are the pulls that got no answer at all.
// Answers without a count (an injected 429, a 401 challenge, a reset) charge nothing: the
// host did not count them either.
//
// Until the host has answered a manifest GET, one pull at a time is sent (a probe), so a
// budget smaller than the run's concurrency is learned before it is overrun. A host that
// answers 2xx without the header is not budgeted (most registries).
type pullBudget struct {
	known    bool          // low is a count the host reported in this window
	low      int           // lowest ratelimit-remaining reported in this window
	window   time.Duration // w= of the header
	since    time.Time     // when this window's first count arrived
	probed   bool          // a manifest GET was answered 2xx or with a count
	inflight int           // manifest GETs sent and not yet answered
	lost     int           // manifest GETs without an answer since low was exact
	resetAt  time.Time     // from the Retry-After of a 429 that said the budget is spent
	refused  int           // manifest GETs refused because the budget was spent
	headSent bool          // the HEAD probe was sent in this window
	changed  chan struct{} // closed (and replaced) whenever inflight or low changes
}

// notify wakes every pull waiting for an answer. Call with the host's mutex held.
func (b *pullBudget) notify() {
	if b.changed != nil {
		close(b.changed)
	}
	b.changed = make(chan struct{})
}

// expire forgets a count older than its window, or whose Retry-After has passed.
func (b *pullBudget) expire(now time.Time) {
	if !b.known {
		return
	}
	if (b.window > 0 && now.Sub(b.since) >= b.window) || (!b.resetAt.IsZero() && !now.Before(b.resetAt)) {
		b.known, b.probed, b.headSent, b.lost, b.resetAt = false, false, false, 0, time.Time{}
	}
}

// takePull reserves one manifest GET (req) from its host's advertised budget. It waits
// while the pulls in flight may use up what is left, and for the host's window when the
// client allows it (pullWait); otherwise a spent budget is a *PullBudgetError. Before the
// first pull of a window whose budget is unknown, a HEAD of the same manifest (free on
// Docker Hub, which reports ratelimit-remaining on it) learns the budget, so that even a
// run that starts with none left draws no 429. When that HEAD, sent without credentials,
// draws a 401, the 401 is req's answer (answer non-nil, nothing reserved): the auth
// router learns the challenge from it, the host sees one 401, not two, and the
// authenticated GET probes again.
func (h *Limits) takePull(ctx context.Context, req *http.Request, s *hostState) (answer *http.Response, err error) {
	host := req.URL.Host
	for {
		s.mu.Lock()
		b := &s.pull
		now := time.Now()
		b.expire(now)
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		wake := b.changed
		switch {
		case !b.probed && b.inflight > 0:
			// wait for the probe's answer
		case !b.known && !b.probed && !b.headSent && h.probe != nil:
			b.headSent = true
			b.inflight++ // hold the other pulls until the HEAD has answered
			s.mu.Unlock()
			resp := h.headProbe(req, s)
			s.releasePull()
			if resp != nil && resp.StatusCode == http.StatusUnauthorized && req.Header.Get("Authorization") == "" {
				s.mu.Lock()
				b.headSent = false
				s.mu.Unlock()
				resp.Request = req
				return resp, nil
			}
			continue
		case !b.known || b.low-b.inflight-b.lost > 0:
			b.inflight++
			s.mu.Unlock()
			return nil, nil
		case b.inflight > 0:
			// what is left may be taken by the pulls in flight: wait for their counts
		default:
			b.refused++
			perr := &PullBudgetError{Host: config.HostKey(host), Window: b.window, Refused: b.refused}
			until := b.resetAt
			if until.IsZero() && b.window > 0 {
				until = b.since.Add(b.window)
			}
			s.mu.Unlock()
			wait := time.Until(until)
			if h.pullWait <= 0 || until.IsZero() || wait > h.pullWait {
				return nil, perr
			}
			if wait > longWait {
				h.logWait(host, s, "the pull budget window the registry advertised to pass (ratelimit-remaining: 0)", until)
			}
			if err := SleepCtx(ctx, wait); err != nil {
				return nil, err
			}
			s.mu.Lock()
			b.refused--
			b.expire(time.Now())
			s.mu.Unlock()
			continue
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake:
		}
	}
}

// headProbe sends a HEAD of the manifest req would GET (through the retries: a 429 or 5xx
// is tried again, after any pause of the host) and records the count it reports. It
// returns the answer, its body closed (nil: none). A probe that fails for good only
// leaves the budget unknown.
func (h *Limits) headProbe(req *http.Request, s *hostState) *http.Response {
	head, err := http.NewRequestWithContext(req.Context(), http.MethodHead, req.URL.String(), nil)
	if err != nil {
		return nil
	}
	for _, k := range []string{"Authorization", "Accept", "User-Agent"} {
		if v := req.Header.Values(k); len(v) > 0 {
			head.Header[k] = v
		}
	}
	resp, err := h.probe.RoundTrip(head)
	if err != nil {
		return nil
	}
	resp.Body.Close()
	resp.Body = http.NoBody
	s.observe(resp, false)
	return resp
}

// releasePull gives back a pull reserved by takePull and never sent.
func (s *hostState) releasePull() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pull.inflight > 0 {
		s.pull.inflight--
	}
	s.pull.notify()
}

// observe records what a response says about the host's pull budget. manifestGet: resp
// answers a pull reserved by takePull (resp nil: it got no answer).
func (s *hostState) observe(resp *http.Response, manifestGet bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.pull
	defer b.notify()
	if manifestGet {
		if b.inflight > 0 {
			b.inflight--
		}
		switch {
		case resp == nil:
			b.lost++ // the host may have counted it
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			b.probed = true
		}
	}
	if resp == nil {
		return
	}
	n, w, ok := parseRateLimitRemaining(resp.Header.Get("ratelimit-remaining"))
	if !ok {
		return
	}
	now := time.Now()
	b.expire(now)
	b.probed = true
	if !b.known || w != b.window {
		b.known, b.low, b.window, b.since, b.lost = true, n, w, now, 0
	} else if n <= b.low {
		b.low = n
		if b.inflight == 0 {
			b.lost = 0 // nothing else in flight: this count includes every pull sent
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests && n == 0 {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), now); ok {
			b.resetAt = now.Add(d)
		}
	}
}

// budgetSpent reports whether resp is a 429 saying the pull budget is spent
// (ratelimit-remaining 0): waiting out its Retry-After is the pull budget's business, not
// a pause of every request to the host (blobs and HEADs are still free).
func budgetSpent(resp *http.Response) bool {
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		return false
	}
	n, _, ok := parseRateLimitRemaining(resp.Header.Get("ratelimit-remaining"))
	return ok && n == 0
}

// parseRateLimitRemaining reads "N;w=SECONDS" (Docker Hub's ratelimit-remaining).
func parseRateLimitRemaining(v string) (n int, window time.Duration, ok bool) {
	if v == "" {
		return 0, 0, false
	}
	parts := strings.Split(v, ";")
	n, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil || n < 0 {
		return 0, 0, false
	}
	for _, p := range parts[1:] {
		if k, val, found := strings.Cut(strings.TrimSpace(p), "="); found && strings.TrimSpace(k) == "w" {
			if secs, err := strconv.Atoi(strings.TrimSpace(val)); err == nil && secs > 0 {
				window = time.Duration(secs) * time.Second
			}
		}
	}
	return n, window, true
}

// refusePulls counts n manifest GETs refused for a spent --rate-limit budget and returns
// the host's total of refused pulls.
func (s *hostState) refusePulls(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pull.refused += n
	return s.pull.refused
}

// RefusedPulls returns the manifest GETs refused per host for a spent pull budget.
func (h *Limits) RefusedPulls() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for k, s := range h.hosts {
		s.mu.Lock()
		if s.pull.refused > 0 {
			out[k] = s.pull.refused
		}
		s.mu.Unlock()
	}
	return out
}

// notAPull reports whether a manifest GET's answer is one no registry counts as a pull.
func notAPull(resp *http.Response) bool {
	return resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusUnauthorized)
}
