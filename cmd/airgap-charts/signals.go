package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// interruptedError is the cause of the run's context when a signal stopped it.
type interruptedError struct{ sig os.Signal }

func (e *interruptedError) Error() string {
	if e.sig == syscall.SIGTERM {
		return "terminated by SIGTERM"
	}
	return "interrupted by " + signalName(e.sig)
}

// exitCode is 128 + the signal's number, as a shell reports a process a signal ended.
func (e *interruptedError) exitCode() int {
	if e.sig == syscall.SIGTERM {
		return exitTerminated
	}
	return exitInterrupted
}

func signalName(s os.Signal) string {
	if s == syscall.SIGINT {
		return "SIGINT"
	}
	return s.String()
}

// withSignals returns a context that the first SIGINT or SIGTERM cancels, with an
// *interruptedError as its cause: the run then stops what it is doing, writes its report and
// exits 130 or 143. After that first signal the signals have their default action again,
// so a second Ctrl-C ends the process at once.
func withSignals(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			cancel(&interruptedError{sig: sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// interruption is the signal that stopped ctx's run, or nil.
func interruption(ctx context.Context) *interruptedError {
	var ie *interruptedError
	if ctx != nil && errors.As(context.Cause(ctx), &ie) {
		return ie
	}
	return nil
}
