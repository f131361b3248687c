package stages

import (
	"context"
	"sync"

	"golang.org/x/sync/singleflight"
)

// runMemo keeps one answer per key for the run: concurrent first callers share one
// computation, a failure is not kept (a later caller tries again), and one caller's
// cancellation never fails the others waiting on the same computation.
type runMemo[T any] struct {
	mu     sync.Mutex
	done   map[string]T
	flight singleflight.Group
}

func (m *runMemo[T]) lookup(key string) (T, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.done[key]
	return v, ok
}

// get returns the kept answer for key, or computes it once with compute.
func (m *runMemo[T]) get(ctx context.Context, key string, compute func(context.Context) (T, error)) (T, error) {
	if v, ok := m.lookup(key); ok {
		return v, nil
	}
	ch := m.flight.DoChan(key, func() (any, error) {
		if v, ok := m.lookup(key); ok { // a flight that ended between our look and this one
			return v, nil
		}
		v, err := compute(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		if m.done == nil {
			m.done = map[string]T{}
		}
		m.done[key] = v
		m.mu.Unlock()
		return v, nil
	})
	var zero T
	select {
	case <-ctx.Done():
		return zero, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return zero, res.Err
		}
		return res.Val.(T), nil
	}
}
