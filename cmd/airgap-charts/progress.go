package main

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/airgap-charts/airgap-charts/engine"
)

// progressBars draws a bar for charts and one for images (with the bytes moved) on a
// terminal. It implements engine.Progress; log lines are printed above the bars through
// its Writer.
type progressBars struct {
	p      *mpb.Progress
	charts *mpb.Bar
	images *mpb.Bar
	queued atomic.Int64
	bytes  atomic.Int64
	once   sync.Once
}

var _ engine.Progress = (*progressBars)(nil)

func newProgressBars(w io.Writer) *progressBars {
	b := &progressBars{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithAutoRefresh())}
	b.charts = b.p.AddBar(0,
		mpb.PrependDecorators(decor.Name("charts ", decor.WC{W: 8}), decor.CountersNoUnit("%d / %d")),
		mpb.AppendDecorators(decor.Percentage()),
	)
	b.images = b.p.AddBar(0,
		mpb.PrependDecorators(decor.Name("images ", decor.WC{W: 8}), decor.CountersNoUnit("%d / %d")),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			return engine.HumanBytes(b.bytes.Load()) + " copied"
		})),
	)
	return b
}

// Writer prints above the bars.
func (b *progressBars) Writer() io.Writer { return b.p }

func (b *progressBars) AddonsPlanned(n int) { b.charts.SetTotal(int64(n), false) }

func (b *progressBars) AddonFinished(string, bool) { b.charts.Increment() }

func (b *progressBars) ImageQueued() { b.images.SetTotal(b.queued.Add(1), false) }

func (b *progressBars) ImageFinished(bytes int64, _ bool) {
	b.bytes.Add(bytes)
	b.images.Increment()
}

// Wait completes the bars and waits for the last frame.
func (b *progressBars) Wait() {
	b.once.Do(func() {
		b.charts.SetTotal(-1, true)
		b.images.SetTotal(-1, true)
		b.p.Wait()
	})
}

// switchWriter lets the logger write above progress bars while they are drawn.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

// Fd reports the file descriptor of the writer it started with, so terminal detection
// keeps working through it.
func (s *switchWriter) Fd() uintptr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.w.(interface{ Fd() uintptr }); ok {
		return f.Fd()
	}
	return ^uintptr(0)
}
