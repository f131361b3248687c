package once

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// waitForWaiters returns once n callers wait for key's run.
func waitForWaiters[K comparable, V any](o *Keyed[K, V], key K, n int) {
	for {
		o.mu.Lock()
		c := o.calls[key]
		got := 0
		if c != nil {
			got = c.waiters
		}
		o.mu.Unlock()
		if got >= n {
			return
		}
		runtime.Gosched()
	}
}

// Concurrent callers of one key share one run and its outcome, a failure included; the
// failure is then forgotten and the next caller runs again; a success is kept.
func TestKeyedOnceSharesOneRunAndForgetsFailures(t *testing.T) {
	var o Keyed[string, int]
	var runs atomic.Int32
	release := make(chan struct{})
	boom := errors.New("boom")
	fail := func(context.Context) (int, error) {
		runs.Add(1)
		<-release
		return 0, boom
	}
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := o.Do(context.Background(), "k", fail)
			errs <- err
		})
	}
	waitForWaiters(&o, "k", n)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, boom) {
			t.Fatalf("a waiter got %v, want the run's failure", err)
		}
	}
	if r := runs.Load(); r != 1 {
		t.Fatalf("%d concurrent callers ran %d times, want once", n, r)
	}
	if _, ok := o.Peek("k"); ok {
		t.Fatal("a failure was kept")
	}

	ok := func(context.Context) (int, error) { runs.Add(1); return 7, nil }
	if v, err := o.Do(context.Background(), "k", ok); err != nil || v != 7 {
		t.Fatalf("after the failure: %d, %v", v, err)
	}
	if v, err := o.Do(context.Background(), "k", fail); err != nil || v != 7 {
		t.Fatalf("kept success: %d, %v", v, err)
	}
	if r := runs.Load(); r != 2 {
		t.Fatalf("runs = %d, want 2 (the failure forgotten, the success kept)", r)
	}
	if v, ok := o.Peek("k"); !ok || v != 7 {
		t.Fatalf("Peek = %d %v", v, ok)
	}
	if _, err := o.Do(context.Background(), "other", ok); err != nil || runs.Load() != 3 {
		t.Fatalf("another key shares nothing: %v, runs %d", err, runs.Load())
	}
}

type ctxKey struct{}

// A caller waiting for a run that gives up gets its context's error at once; the caller
// running it, giving up while another still waits, gets its error when the run ends. The
// run goes on under its own context (the first caller's values, never cancelled while
// anyone waits) and the caller left gets its value.
func TestKeyedOnceOneCallerCancellingLeavesTheRunToTheOthers(t *testing.T) {
	for _, quitter := range []string{"waiter", "runner"} {
		t.Run(quitter, func(t *testing.T) {
			var o Keyed[string, string]
			release := make(chan struct{})
			runErr := make(chan error, 1)
			fn := func(ctx context.Context) (string, error) {
				<-release
				runErr <- ctx.Err()
				v, _ := ctx.Value(ctxKey{}).(string)
				return v, nil
			}
			firstCtx := context.WithValue(context.Background(), ctxKey{}, "first's value")
			secondCtx := context.Background()
			quit, cancel := context.WithCancel(context.Background())
			defer cancel()
			if quitter == "runner" {
				firstCtx = context.WithValue(quit, ctxKey{}, "first's value")
			} else {
				secondCtx = quit
			}
			type outcome struct {
				v   string
				err error
			}
			first, second := make(chan outcome, 1), make(chan outcome, 1)
			go func() {
				v, err := o.Do(firstCtx, "k", fn)
				first <- outcome{v, err}
			}()
			waitForWaiters(&o, "k", 1)
			go func() {
				v, err := o.Do(secondCtx, "k", fn)
				second <- outcome{v, err}
			}()
			waitForWaiters(&o, "k", 2)
			cancel()
			stays := first
			if quitter == "waiter" {
				if got := <-second; !errors.Is(got.err, context.Canceled) {
					t.Fatalf("the waiter that gave up got %+v before the run ended", got)
				}
				stays = first
			}
			close(release)
			if err := <-runErr; err != nil {
				t.Fatalf("the run's context ended (%v) though a caller still waited", err)
			}
			if quitter == "runner" {
				if got := <-first; !errors.Is(got.err, context.Canceled) {
					t.Fatalf("the runner that gave up got %+v", got)
				}
				stays = second
			}
			if got := <-stays; got.err != nil || got.v != "first's value" {
				t.Fatalf("the caller left got %+v", got)
			}
		})
	}
}

// When every caller has given up, the run's context is cancelled and the key forgotten:
// the next caller starts a new run.
func TestKeyedOnceRunNobodyWaitsForStops(t *testing.T) {
	var o Keyed[int, int]
	stopped := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() {
		_, err := o.Do(ctx, 1, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			close(stopped)
			return 0, ctx.Err()
		})
		gone <- err
	}()
	waitForWaiters(&o, 1, 1)
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	<-stopped // the run saw its context end
	v, err := o.Do(context.Background(), 1, func(context.Context) (int, error) { return 2, nil })
	if err != nil || v != 2 {
		t.Fatalf("a new caller after the abandoned run: %d, %v", v, err)
	}
}

// With RetryWaiters, a failed run fails the caller that started it only; the callers that
// waited run again (one run for all of them) and get its value.
func TestKeyedOnceRetryWaiters(t *testing.T) {
	o := Keyed[string, int]{RetryWaiters: true}
	var runs atomic.Int32
	release := make(chan struct{})
	fn := func(context.Context) (int, error) {
		if runs.Add(1) == 1 {
			<-release
			return 0, errors.New("throttled")
		}
		return 5, nil
	}
	first := make(chan error, 1)
	go func() {
		_, err := o.Do(context.Background(), "k", fn)
		first <- err
	}()
	waitForWaiters(&o, "k", 1)
	const n = 8
	var wg sync.WaitGroup
	vals := make(chan int, n)
	for range n {
		wg.Go(func() {
			v, err := o.Do(context.Background(), "k", fn)
			if err != nil {
				v = -1
			}
			vals <- v
		})
	}
	waitForWaiters(&o, "k", n+1)
	close(release)
	if err := <-first; err == nil {
		t.Fatal("the caller whose run failed got no error")
	}
	wg.Wait()
	close(vals)
	for v := range vals {
		if v != 5 {
			t.Fatalf("a waiter got %d, want the retried run's 5", v)
		}
	}
	if r := runs.Load(); r != 2 {
		t.Fatalf("runs = %d, want the failed one and one retry for every waiter", r)
	}
}

// A run whose function panics panics in the caller running it; a caller waiting for it gets
// an error instead of waiting for ever, and the key is forgotten.
func TestKeyedOncePanicFreesTheWaiters(t *testing.T) {
	var o Keyed[string, int]
	release := make(chan struct{})
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_, _ = o.Do(context.Background(), "k", func(context.Context) (int, error) {
			<-release
			panic("boom")
		})
	}()
	waitForWaiters(&o, "k", 1)
	got := make(chan error, 1)
	go func() {
		_, err := o.Do(context.Background(), "k", func(context.Context) (int, error) { return 1, nil })
		got <- err
	}()
	waitForWaiters(&o, "k", 2)
	close(release)
	if p := <-panicked; p != "boom" {
		t.Fatalf("the running caller recovered %v, want the panic", p)
	}
	if err := <-got; err == nil {
		t.Fatal("the waiter got no error from a run that panicked")
	}
	if v, err := o.Do(context.Background(), "k", func(context.Context) (int, error) { return 3, nil }); err != nil || v != 3 {
		t.Fatalf("after the panic: %d, %v", v, err)
	}
}
