// Package once runs work once per key across the goroutines of a run: a success is shared
// and kept, a failure is forgotten so that a later caller tries again.
package once

import (
	"context"
	"errors"
	"sync"
)

// Keyed runs a function once per key and shares its outcome with every caller that
// asks for the key while it runs. A success is kept: later callers get it at once. A
// failure goes to the callers waiting for it, then is forgotten, so a later caller runs
// the function again.
//
// The caller that finds no run starts one and runs the function itself, on its own
// goroutine (a lookup's deep call stack then grows on a goroutine whose stack has grown
// before, not on a fresh one for every key), but not under its context: under one of the
// run's own, with that caller's values. A caller waiting for a run that gives up (its
// context ends) gets its context's error at once and leaves the run to the others; the
// caller running it gets its context's error when the function returns. When every caller
// of a run has given up, the run's context is cancelled (so the function returns promptly)
// and the key forgotten, and the next caller starts afresh.
//
// With RetryWaiters, a failure goes to the caller that started the run only: the callers
// that waited for it run fn again themselves (one run at a time, as before), so that one
// failed attempt (a throttled listing, say) fails one caller, not every one that waited.
//
// The zero value is ready for use; a Keyed must not be copied after first use.
type Keyed[K comparable, V any] struct {
	RetryWaiters bool

	mu    sync.Mutex
	calls map[K]*onceCall[V]
}

type onceCall[V any] struct {
	done     chan struct{}
	finished bool // under Keyed.mu
	val      V
	err      error
	waiters  int // under Keyed.mu
	cancel   context.CancelFunc
}

// Do returns key's kept value, or runs fn for it (or waits for the run in flight) and
// returns what it returned.
func (o *Keyed[K, V]) Do(ctx context.Context, key K, fn func(context.Context) (V, error)) (V, error) {
	for {
		v, started, err := o.do(ctx, key, fn)
		if err == nil || started || !o.RetryWaiters || ctx.Err() != nil {
			return v, err
		}
		// a run this caller waited for failed, and was forgotten: try again
	}
}

// do is one attempt of Do; started says this caller started the run it got.
func (o *Keyed[K, V]) do(ctx context.Context, key K, fn func(context.Context) (V, error)) (_ V, started bool, _ error) {
	o.mu.Lock()
	c := o.calls[key]
	if c != nil && c.finished {
		o.mu.Unlock()
		return c.val, false, nil // only successes stay in the table
	}
	if c == nil {
		if o.calls == nil {
			o.calls = map[K]*onceCall[V]{}
		}
		runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &onceCall[V]{done: make(chan struct{}), cancel: cancel, waiters: 1}
		o.calls[key] = c
		o.mu.Unlock()
		stop := context.AfterFunc(ctx, func() { o.leave(key, c) })
		o.run(runCtx, key, c, fn)
		if !stop() { // this caller gave up while it ran: it has left already
			var zero V
			return zero, true, ctx.Err()
		}
		o.mu.Lock()
		c.waiters--
		o.mu.Unlock()
		return c.val, true, c.err
	}
	c.waiters++
	o.mu.Unlock()

	select {
	case <-c.done:
		o.mu.Lock()
		c.waiters--
		o.mu.Unlock()
		return c.val, false, c.err
	case <-ctx.Done():
		o.leave(key, c)
		var zero V
		return zero, false, ctx.Err()
	}
}

// leave takes a caller that gave up off c; the last one to leave an unfinished run stops it
// and forgets the key.
func (o *Keyed[K, V]) leave(key K, c *onceCall[V]) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c.waiters--
	if c.waiters == 0 && !c.finished {
		c.cancel() // nobody waits for it any more
		if o.calls[key] == c {
			delete(o.calls, key)
		}
	}
}

func (o *Keyed[K, V]) run(ctx context.Context, key K, c *onceCall[V], fn func(context.Context) (V, error)) {
	var v V
	err := errPanicked
	defer func() {
		if err == errPanicked { // fn panicked on the caller's goroutine: free the waiters, then go on panicking
			o.finish(key, c, v, err)
		}
	}()
	v, err = fn(ctx)
	o.finish(key, c, v, err)
}

// errPanicked is what the callers waiting for a run whose function panicked get.
var errPanicked = errors.New("the lookup panicked")

func (o *Keyed[K, V]) finish(key K, c *onceCall[V], v V, err error) {
	o.mu.Lock()
	c.val, c.err, c.finished = v, err, true
	if err != nil && o.calls[key] == c {
		delete(o.calls, key)
	}
	o.mu.Unlock()
	close(c.done)
	c.cancel()
}

// Peek returns key's kept value: the outcome of a run that succeeded. It runs nothing and
// waits for nothing.
func (o *Keyed[K, V]) Peek(key K) (V, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if c := o.calls[key]; c != nil && c.finished {
		return c.val, true
	}
	var zero V
	return zero, false
}
