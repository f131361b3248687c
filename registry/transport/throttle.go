package transport

import (
	"math/bits"
	"math/rand/v2"
	"net/http"
	"time"
)

// A 429 Too Many Requests that says nothing about a quota (no ratelimit-remaining: 0) is
// an answer about one request, not an order to stop: registries draw them at random under
// load. Such a 429 is backed off by the request that drew it, after a delay every request
// to the host shares: it doubles with each such 429 in a row and restarts at the first
// answer that is not one. A Retry-After in the answer is never undercut.
//
// When such 429s are a large share of the host's recent answers (throttleWindow), they
// are a storm rather than chance: the host is refusing most of what it is sent, so it is
// paused for the delay, and the requests in flight do not each draw a 429 of their own.
// Chance does not look like that: with one answer in twenty a 429, two in a row come
// every few hundred answers, and pausing every request to the host for each such pair
// (a Retry-After of a second, say) held a whole rerun still for most of its wall.

const (
	// throttleWindow is how many of the host's latest answers the storm test looks at.
	throttleWindow = 16
	// throttleStormAt is the fewest 429s among them that make a storm; they must also be
	// at least half of the answers looked at.
	throttleStormAt = 4
)

// throttleDelay records a 429 without a spent quota from host and returns how long the
// request that drew it waits before trying again (at least retryAfter, when the answer
// gave one), and whether every request to the host waits as long (a storm).
func (h *Limits) throttleDelay(host string, p Policy, retryAfter time.Duration) (time.Duration, bool) {
	s := h.state(host)
	s.mu.Lock()
	s.throttled++
	n := s.throttled
	s.recordAnswer(true)
	storm := s.storming()
	s.mu.Unlock()
	d := p.base << min(n-1, 30)
	if d <= 0 || d > p.max {
		d = p.max
	}
	d = d/2 + rand.N(d/2+1)
	if retryAfter > d {
		d = min(retryAfter, p.maxPause)
	}
	return d, storm
}

// answered records an answer of host that is not a 429: its shared 429 delay restarts.
// (A 429 saying a quota is spent is the pull budget's, and counts in neither.)
func (h *Limits) answered(host string, resp *http.Response) {
	if resp == nil || resp.StatusCode == http.StatusTooManyRequests {
		return
	}
	s := h.state(host)
	s.mu.Lock()
	s.throttled = 0
	s.recordAnswer(false)
	s.mu.Unlock()
}

// recordAnswer shifts one answer into the host's window of latest answers. Call with
// s.mu held.
func (s *hostState) recordAnswer(throttled bool) {
	s.recent <<= 1
	if throttled {
		s.recent |= 1
	}
	s.answers = min(s.answers+1, throttleWindow)
}

// storming says whether the 429s in the host's window make a storm. Call with s.mu held.
func (s *hostState) storming() bool {
	n := bits.OnesCount16(s.recent)
	return n >= throttleStormAt && 2*n >= s.answers
}
