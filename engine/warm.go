package engine

import (
	"context"
	"sync"

	"github.com/airgap-charts/airgap-charts/registry"
)

// warmer asks a caching preflight about destination tags ahead of their jobs, at most max
// at once with at most max goroutines: tags queue, workers start when there is work and
// end when the queue is empty.
type warmer struct {
	ctx context.Context
	ask func(context.Context, registry.ImageRef)
	max int

	mu      sync.Mutex
	queue   []registry.ImageRef
	workers int
	wg      sync.WaitGroup
}

func newWarmer(ctx context.Context, limit int, ask func(context.Context, registry.ImageRef)) *warmer {
	return &warmer{ctx: ctx, ask: ask, max: max(limit, 1)}
}

// add queues dst and starts a worker unless max are running.
func (w *warmer) add(dst registry.ImageRef) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queue = append(w.queue, dst)
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
		dst := w.queue[0]
		w.queue = w.queue[1:]
		w.mu.Unlock()
		w.ask(w.ctx, dst)
	}
}

// wait returns once every worker has ended.
func (w *warmer) wait() { w.wg.Wait() }
