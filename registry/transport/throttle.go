package transport

import (
	"math/rand/v2"
	"net/http"
	"time"
)

// A 429 Too Many Requests that says nothing about a quota (no ratelimit-remaining: 0) is
// an answer about one request, not an order to stop: registries draw them at random under
// load. Such a 429 is backed off by the request that drew it, after a delay every request
// to the host shares: it doubles with each such 429 in a row and restarts at the first
// answer that is not one. Two in a row, with no other answer between, are a storm rather
// than chance: then the host is paused for that delay, so the requests in flight do not
// each draw a 429 of their own. A Retry-After in the answer is never undercut.

// throttleStormAfter is how many 429s in a row pause the whole host.
const throttleStormAfter = 2

// throttleDelay records a 429 without a spent quota from host and returns how long the
// request that drew it waits before trying again (at least retryAfter, when the answer
// gave one), and whether every request to the host waits as long (a storm).
func (h *Limits) throttleDelay(host string, p Policy, retryAfter time.Duration) (time.Duration, bool) {
	s := h.state(host)
	s.mu.Lock()
	s.throttled++
	n := s.throttled
	s.mu.Unlock()
	d := p.base << min(n-1, 30)
	if d <= 0 || d > p.max {
		d = p.max
	}
	d = d/2 + rand.N(d/2+1)
	if retryAfter > d {
		d = min(retryAfter, p.maxPause)
	}
	return d, n >= throttleStormAfter
}

// answered records an answer of host that is not a 429: its shared 429 delay restarts.
func (h *Limits) answered(host string, resp *http.Response) {
	if resp == nil || resp.StatusCode == http.StatusTooManyRequests {
		return
	}
	s := h.state(host)
	s.mu.Lock()
	s.throttled = 0
	s.mu.Unlock()
}
