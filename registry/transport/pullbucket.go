package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// pullBucket is the budget of manifest GETs that --rate-limit HOST=N/PERIOD sets: N pulls
// at first, given back at N per PERIOD. Every manifest GET is a pull (Docker Hub counts
// them): an index and each platform manifest under it. A wait of a few seconds for the
// next pull only paces the run; a longer one means the budget is spent, and then the run
// waits for it (logged, with the time it reopens) or refuses the pull with a
// *PullBudgetError, as the client's budget policy says.
//
// A budget smaller than the work is spent on whole images: while pulls are scarce, one
// image at a time may start (take its first manifest) until the pulls the rest of it needs
// are known and reserved (pullGroup). The pull of a GET the registry did not count (a 429,
// a 401 challenge) is given back, so retries do not eat a budget sized to the run.
type pullBucket struct {
	mu     sync.Mutex
	n      int
	period time.Duration
	perSec float64
	tokens float64 // may go below 0: pulls taken ahead, waited for in turn
	last   time.Time
	wait   bool                               // a spent budget is waited for
	log    func(what string, until time.Time) // long waits; nil: none
	host   string                             // for errors
	refuse func(n int) int                    // counts refused pulls; returns the host's total

	spentAfter time.Duration // longest wait that only paces the run

	unsized int           // images that took their first pull and whose needs are unknown yet
	maxNeed int           // the most pulls an image needed after its first, so far
	changed chan struct{} // closed (and replaced) when unsized goes down

	waiting func() // called when a first pull starts waiting for another image (tests); nil: none
}

// takeKind says what a pull is for.
type takeKind int

const (
	takePlain takeKind = iota // a pull outside any image group, or one beyond its reservation
	takeStart                 // the first pull of an image
	takeSize                  // the rest of an image, reserved at once
)

// budgetSpentAfter is the longest wait for the next pulls that only paces the run.
const budgetSpentAfter = longWait

func newPullBucket(n int, period time.Duration) *pullBucket {
	return &pullBucket{n: n, period: period, perSec: float64(n) / period.Seconds(), tokens: float64(n),
		last: time.Now(), maxNeed: 2, changed: make(chan struct{}), spentAfter: budgetSpentAfter}
}

func (b *pullBucket) refill(now time.Time) {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(float64(b.n), b.tokens+el*b.perSec)
	}
	b.last = now
}

func (b *pullBucket) notify() {
	close(b.changed)
	b.changed = make(chan struct{})
}

func (b *pullBucket) spent(n int) error {
	total := n
	if b.refuse != nil {
		total = b.refuse(n)
	}
	return &PullBudgetError{Host: b.host, Window: b.period, Refused: total,
		Budget: fmt.Sprintf("--rate-limit %d per %s", b.n, b.period)}
}

// errScarce says an image may not take its first pull yet: another image's needs are not
// known and the pulls left may not cover both. The caller gives back whatever else it holds
// for the request (the host's advertised-budget reservation) and waits with awaitStart:
// waiting while holding it could starve the very image being waited for, whose next GET
// (a retry after a 429, say) needs that reservation too.
var errScarce = errors.New("pulls scarce: another image's needs are not known yet")

// scarce reports, with b.mu held, whether a first pull asked for since since must wait,
// and what to wait on. The wait is bounded: an image that never learns its needs (its copy
// stopped in a way that did not end its group) must not hold every other image back.
func (b *pullBucket) scarce(since time.Time) (wake <-chan struct{}, left time.Duration, ok bool) {
	left = b.spentAfter - time.Since(since)
	if b.unsized > 0 && left > 0 && b.tokens < float64((b.unsized+1)*(b.maxNeed+1)) {
		return b.changed, left, true
	}
	return nil, 0, false
}

// awaitStart waits until a first pull asked for since since may be taken (see scarce).
func (b *pullBucket) awaitStart(ctx context.Context, since time.Time) error {
	for {
		b.mu.Lock()
		b.refill(time.Now())
		wake, left, ok := b.scarce(since)
		b.mu.Unlock()
		if !ok {
			return nil
		}
		if b.waiting != nil {
			b.waiting()
		}
		t := time.NewTimer(left)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// take takes n pulls (n may be 0 for takeSize), waiting while they only pace the run. A
// first pull (takeStart) asked for since since that must wait for another image is
// errScarce. takeSize always ends the image's unsized state, taken or not.
func (b *pullBucket) take(ctx context.Context, n int, kind takeKind, since time.Time) error {
	b.mu.Lock()
	b.refill(time.Now())
	if _, _, ok := b.scarce(since); ok && kind == takeStart {
		b.mu.Unlock()
		return errScarce
	}
	if kind == takeSize {
		b.unsized--
		b.maxNeed = max(b.maxNeed, n)
		b.notify()
	}
	if n > b.n {
		err := b.spent(n)
		b.mu.Unlock()
		return fmt.Errorf("%w (this image alone needs %d)", err, n)
	}
	var wait time.Duration
	if deficit := float64(n) - b.tokens; deficit > 0 {
		wait = time.Duration(deficit / b.perSec * float64(time.Second))
	}
	if wait > b.spentAfter && !b.wait {
		err := b.spent(n)
		b.mu.Unlock()
		return err
	}
	b.tokens -= float64(n)
	if kind == takeStart {
		b.unsized++
	}
	b.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	if wait > b.spentAfter && b.log != nil {
		b.log(fmt.Sprintf("the pull budget (--rate-limit %d per %s) to allow %d more pull(s)", b.n, b.period, n), time.Now().Add(wait))
	}
	if err := SleepCtx(ctx, wait); err != nil {
		b.refund(n)
		if kind == takeStart {
			b.endUnsized()
		}
		return err
	}
	return nil
}

// refund gives n pulls back.
func (b *pullBucket) refund(n int) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(time.Now())
	b.tokens = min(float64(b.n), b.tokens+float64(n))
}

// endUnsized ends the unsized state of an image that stopped before its needs were known.
func (b *pullBucket) endUnsized() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.unsized--
	b.notify()
}
