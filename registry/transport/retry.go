package transport

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Policy bounds the retries of one request.
type Policy struct {
	attempts int           // total tries, the first included
	base     time.Duration // first backoff; doubled per attempt, with jitter
	max      time.Duration // backoff ceiling
	maxPause time.Duration // longest Retry-After honoured
	// wait waits out a retry's backoff (and a 429's own Retry-After): nil is SleepCtx, a
	// real timer; a test gives one that records the waits and returns at once.
	wait func(ctx context.Context, d time.Duration) error
}

// Wait waits d before a retry, as the policy's clock says, or until ctx is done.
func (p Policy) Wait(ctx context.Context, d time.Duration) error {
	if p.wait != nil {
		return p.wait(ctx, d)
	}
	return SleepCtx(ctx, d)
}

// throttleAttempts bounds the tries of a request answered 429 without a spent quota:
// twice the tries of other failures, none when retries are off.
func (p Policy) throttleAttempts() int {
	if p.attempts <= 1 {
		return 1
	}
	return 2 * p.attempts
}

var defaultPolicy = Policy{attempts: 6, base: 250 * time.Millisecond, max: 15 * time.Second, maxPause: 10 * time.Minute}

// NewPolicy is the default policy with retries tries after the first (0: 5, negative:
// none), a first backoff (0: 250ms) and how a retry waits (nil: a timer).
func NewPolicy(retries int, backoff time.Duration, wait func(ctx context.Context, d time.Duration) error) Policy {
	p := defaultPolicy
	switch {
	case retries > 0:
		p.attempts = retries + 1
	case retries < 0:
		p.attempts = 1
	}
	if backoff > 0 {
		p.base = backoff
	}
	p.wait = wait
	return p
}

// Attempts is the tries a request gets, the first included.
func (p Policy) Attempts() int { return p.attempts }

// retryTransport retries requests on 5xx, 408, 429, resets and timeouts with exponential
// backoff and jitter. A 429 is backed off by its own request, after the delay the host's
// 429s share (throttle.go), and never sooner than its Retry-After; a storm of them pauses
// every request to the host (Limits.pause). Every attempt first waits for the host's
// limits. Each attempt
// is watched: no response headers in time, or a body that stops moving, ends it (a
// *StallError, retried like a timeout). A host that fails to connect several times in a
// row is down for the run: its requests fail at once (*HostDownError).
type retryTransport struct {
	inner    http.RoundTripper
	limits   *Limits
	policy   Policy
	timeouts timeouts
	log      *zap.Logger
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	host := req.URL.Host
	rewindable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	throttles := 0 // 429s answered (without a spent quota)
	// sent counts the sends: every one after the first needs a fresh body. (Not attempt,
	// which a 429 does not advance: a PUT retried after a 429 went out with the spent
	// body of its first send, and its connection broke.)
	sent := 0
	for attempt := 1; ; attempt++ {
		r := req
		if sent > 0 && req.Body != nil && req.Body != http.NoBody {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r = req.Clone(ctx)
			r.Body = body
		}
		if err := t.limits.IsDown(host); err != nil {
			if r.Body != nil {
				r.Body.Close()
			}
			return nil, err
		}
		done, answer, err := t.limits.wait(ctx, r)
		if err != nil || answer != nil {
			return answer, err
		}
		release, err := t.limits.acquireSlot(ctx, host)
		if err != nil {
			done(nil)
			if r.Body != nil {
				r.Body.Close()
			}
			return nil, err
		}
		resp, err := t.attempt(r)
		sent++
		release()
		done(resp)
		if ctx.Err() != nil || !rewindable {
			return resp, err
		}
		if err == nil && resp.StatusCode == http.StatusTooManyRequests && !budgetSpent(resp) {
			// 429s have tries of their own: a storm outlasts the tries of other failures.
			if throttles++; throttles >= t.policy.throttleAttempts() {
				return resp, err
			}
			attempt--
		} else if attempt >= t.policy.attempts {
			return resp, err
		}
		delay, retry := t.decide(resp, err, attempt)
		if !retry {
			return resp, err
		}
		fields := []zap.Field{zap.String("host", req.URL.Host), zap.String("method", req.Method),
			zap.String("path", req.URL.Path), zap.Int("attempt", attempt), zap.Duration("backoff", delay)}
		if resp != nil {
			fields = append(fields, zap.Int("status", resp.StatusCode))
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		} else {
			fields = append(fields, zap.String("error", err.Error()))
		}
		t.log.Debug("retrying registry request", fields...)
		if delay > longWait && (resp == nil || resp.StatusCode != http.StatusTooManyRequests) {
			t.log.Info("waiting to retry a registry request", append(fields, zap.Time("until", time.Now().Add(delay)))...)
		}
		if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
			// A 429 saying the pull budget is spent (ratelimit-remaining: 0) holds only the
			// pulls: the retry's wait (limits.wait) refuses it, or waits out the window when
			// allowed. Any other 429 is this request's to back off (throttle.go); only a
			// storm of them pauses every request to the host.
			if budgetSpent(resp) {
				continue
			}
			d, storm := t.limits.throttleDelay(host, t.policy, delay)
			until := time.Now().Add(d)
			if storm {
				t.limits.pause(host, until) // waited out by the next limits.wait
				continue
			}
			if d > longWait {
				t.limits.logWait(host, t.limits.state(host), "the end of a 429 Too Many Requests backoff (Retry-After)", until)
			}
			yieldFor(ctx, d)
			if err := t.policy.Wait(ctx, d); err != nil {
				return nil, err
			}
			continue
		}
		yieldFor(ctx, delay)
		if err := t.policy.Wait(ctx, delay); err != nil {
			return nil, err
		}
	}
}

// attempt sends r once, watched for stalls, and records whether its host answered.
func (t *retryTransport) attempt(r *http.Request) (*http.Response, error) {
	w, wr := startWatchdog(r, t.timeouts)
	resp, err := t.inner.RoundTrip(wr)
	switch {
	case err != nil && w != nil:
		w.stop()
		if s := w.stalled(); s != nil {
			err = s
		}
	case err == nil && w != nil:
		w.watchResponse(resp)
	}
	if err == nil {
		t.limits.Connected(r.URL.Host)
		t.limits.answered(r.URL.Host, resp)
	} else if IsConnectFailure(err) && r.Context().Err() == nil {
		t.limits.ConnectFailed(r.URL.Host, err)
	}
	return resp, err
}

// decide says whether to retry and after how long.
func (t *retryTransport) decide(resp *http.Response, err error, attempt int) (time.Duration, bool) {
	if err != nil {
		return t.backoff(attempt), RetryableError(err)
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		if budgetSpent(resp) {
			return 0, true
		}
		ra, _ := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		return ra, true // throttleDelay decides
	case http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return t.backoff(attempt), true
	}
	return 0, false
}

// backoff is base·2^(attempt-1), capped, with jitter in [d/2, d].
func (t *retryTransport) backoff(attempt int) time.Duration { return t.policy.Backoff(attempt) }

// Backoff is the wait before retry attempt+1: the base doubled each time, capped, with
// jitter over its upper half.
func (p Policy) Backoff(attempt int) time.Duration {
	d := p.base << (attempt - 1)
	if d <= 0 || d > p.max {
		d = p.max
	}
	half := d / 2
	return half + rand.N(half+1)
}

// RetryableError reports whether a transport error is worth another try.
func RetryableError(err error) bool {
	var down *HostDownError
	if errors.As(err, &down) || isTLSFailure(err) {
		return false
	}
	var stall *StallError
	if errors.As(err, &stall) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

// SleepCtx waits d, or until ctx is done.
func SleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
