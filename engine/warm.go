package engine

import (
	"context"
	"sync"
)

// warmer asks, ahead of their jobs, what the jobs will ask (a caching preflight about a
// destination tag, the lock's check of a source tag), at most max at once with at most max
// goroutines: asks queue, workers start when there is work and end when the queue is
// empty.
type warmer struct {
	ctx context.Context
	max int

	mu      sync.Mutex
	queue   []func(context.Context)
	workers int
	wg      sync.WaitGroup
}

func newWarmer(ctx context.Context, limit int) *warmer {
	return &warmer{ctx: ctx, max: max(limit, 1)}
}

// add queues ask and starts a worker unless max are running.
func (w *warmer) add(ask func(context.Context)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queue = append(w.queue, ask)
	if w.workers < w.max {
		w.workers++
		w.wg.Add(1)
		go w.work()
	}
}

func (w *warmer) work() {
	defer w.wg.Done()
	for {
		w.mu.Lock()
		if len(w.queue) == 0 || w.ctx.Err() != nil {
			w.queue = nil
			w.workers--
			w.mu.Unlock()
			return
		}
		ask := w.queue[0]
		w.queue = w.queue[1:]
		w.mu.Unlock()
		ask(w.ctx)
	}
}

// wait returns once every worker has ended.
func (w *warmer) wait() { w.wg.Wait() }
