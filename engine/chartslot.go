package engine

import (
	"context"

	"golang.org/x/sync/semaphore"
)

// chartSlot is an addon's place among the addons in their chart stages at once
// (--chart-concurrency). An addon holds it while it works on its chart and yields it while
// it waits (for the other releases of its chart, for its images), so that waiting never
// starves the chart stages of other addons. Not safe for concurrent use: one per addon.
type chartSlot struct {
	sem  *semaphore.Weighted
	held bool
}

// hold takes the slot, waiting for one to be free; holding it already is a no-op.
func (s *chartSlot) hold(ctx context.Context) error {
	if s.held {
		return nil
	}
	if err := s.sem.Acquire(ctx, 1); err != nil {
		return err
	}
	s.held = true
	return nil
}

// yield gives the slot back; not holding it is a no-op.
func (s *chartSlot) yield() {
	if s.held {
		s.sem.Release(1)
		s.held = false
	}
}

// waitFor runs wait with the slot given back, and takes it again after.
func (s *chartSlot) waitFor(ctx context.Context, wait func()) error {
	s.yield()
	wait()
	return s.hold(ctx)
}
