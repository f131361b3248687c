package transport

import (
	"context"
	"time"
)

// A request that must wait a while before its retry (a 429's Retry-After, a long backoff)
// sends nothing meanwhile: its caller can lend its place to other work.
// WithYield gives the transport the caller's way to do so; the transport calls it before
// such a wait, and the caller decides what it gives up (the copy pool: the job's place
// among --concurrency, once).

// yieldAfter is the shortest wait worth yielding for.
const yieldAfter = 500 * time.Millisecond

type yieldKey struct{}

// WithYield returns ctx carrying yield, called (perhaps several times, from several
// requests) before a request sent with ctx waits yieldAfter or longer to retry.
func WithYield(ctx context.Context, yield func()) context.Context {
	return context.WithValue(ctx, yieldKey{}, yield)
}

// yieldFor calls ctx's yield when the wait d is long enough to lend the caller's place.
func yieldFor(ctx context.Context, d time.Duration) {
	if d < yieldAfter {
		return
	}
	if y, ok := ctx.Value(yieldKey{}).(func()); ok && y != nil {
		y()
	}
}
