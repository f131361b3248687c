package transport

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// timeouts bound the silences of one request attempt; they never trip on a slow link
// that still moves bytes.
type timeouts struct {
	header time.Duration // from the request sent to its response's headers
	stall  time.Duration // without a byte of the request or response body moving
}

// Default timeouts: a healthy link, however slow, answers and moves bytes more often.
const (
	DefaultRequestTimeout = 60 * time.Second
	DefaultStallTimeout   = 60 * time.Second
)

// StallError is an attempt abandoned because nothing moved for too long.
type StallError struct {
	Host  string
	What  string // what was awaited: "response headers to GET /v2/…", "the body of …"
	After time.Duration
}

func (e *StallError) Error() string {
	return fmt.Sprintf("registry %s stalled: nothing for %s while waiting for %s", e.Host, e.After, e.What)
}

// Timeout and Temporary make a stall a net.Error that is worth another attempt.
func (e *StallError) Timeout() bool   { return true }
func (e *StallError) Temporary() bool { return true }

// watchdog cancels one attempt when what it waits for does not come in time: response
// headers within timeouts.header of the request being sent, and the next bytes of a
// request or response body within timeouts.stall.
type watchdog struct {
	host, method, path string
	t                  timeouts
	cancel             context.CancelFunc

	mu    sync.Mutex
	timer *time.Timer
	what  awaited
	after time.Duration
	fired *StallError
	done  bool
}

// startWatchdog arms a watchdog on req (a clone bound to a context the watchdog may
// cancel is returned) or returns nil when no timeout is set.
func startWatchdog(req *http.Request, t timeouts) (*watchdog, *http.Request) {
	if t.header <= 0 && t.stall <= 0 {
		return nil, req
	}
	ctx, cancel := context.WithCancel(req.Context())
	w := &watchdog{host: req.URL.Host, method: req.Method, path: req.URL.Path, t: t, cancel: cancel}
	out := req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		out.Body = &watchedRequestBody{ReadCloser: req.Body, w: w}
		w.arm(awaitRequestBody, t.stall)
	} else {
		w.arm(awaitHeaders, t.header)
	}
	return w, out
}

// awaited is what a watchdog waits for; it is put in words only when the watchdog fires
// (an attempt arms its watchdog again on every read of a body).
type awaited uint8

const (
	awaitHeaders awaited = iota
	awaitRequestBody
	awaitResponseBody
)

// describe is what, for request ("GET /v2/…"), a StallError says was awaited.
func (a awaited) describe(request string) string {
	switch a {
	case awaitRequestBody:
		return "the registry to read the body of " + request
	case awaitResponseBody:
		return "the body of " + request
	}
	return "response headers to " + request
}

func (w *watchdog) arm(what awaited, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done || w.fired != nil {
		return
	}
	w.what, w.after = what, d
	if d <= 0 {
		if w.timer != nil {
			w.timer.Stop()
		}
		return
	}
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.fire)
		return
	}
	w.timer.Reset(d)
}

// pause stops the clock until the next arm.
func (w *watchdog) pause() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
}

func (w *watchdog) fire() {
	w.mu.Lock()
	if w.done || w.fired != nil {
		w.mu.Unlock()
		return
	}
	w.fired = &StallError{Host: w.host, What: w.what.describe(w.method + " " + w.path), After: w.after}
	w.mu.Unlock()
	w.cancel()
}

// stop ends the watch and releases the attempt's context.
func (w *watchdog) stop() {
	w.mu.Lock()
	w.done = true
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
	w.cancel()
}

// stalled is the stall that ended the attempt, if any.
func (w *watchdog) stalled() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired == nil {
		return nil
	}
	return w.fired
}

// watchResponse keeps watching resp's body: each read must bring a byte within the stall
// timeout. Closing the body ends the watch.
func (w *watchdog) watchResponse(resp *http.Response) {
	w.arm(awaitResponseBody, w.t.stall)
	resp.Body = &watchedResponseBody{ReadCloser: resp.Body, w: w}
}

type watchedRequestBody struct {
	io.ReadCloser
	w *watchdog
}

// Read times only the registry's side: the wait for our own source (a blob streamed from
// another registry, watched by its own attempt) is not the destination stalling.
func (b *watchedRequestBody) Read(p []byte) (int, error) {
	b.w.pause()
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.w.arm(awaitHeaders, b.w.t.header)
	} else {
		b.w.arm(awaitRequestBody, b.w.t.stall)
	}
	return n, err
}

type watchedResponseBody struct {
	io.ReadCloser
	w *watchdog
}

func (b *watchedResponseBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		if s := b.w.stalled(); s != nil {
			return n, s
		}
	}
	if n > 0 {
		b.w.arm(awaitResponseBody, b.w.t.stall)
	}
	return n, err
}

func (b *watchedResponseBody) Close() error {
	err := b.ReadCloser.Close()
	b.w.stop()
	return err
}
