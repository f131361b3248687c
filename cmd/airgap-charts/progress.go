package main

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/cupwriter"
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
	start  time.Time
	queued atomic.Int64
	bytes  atomic.Int64
	once   sync.Once
}

var _ engine.Progress = (*progressBars)(nil)

func newProgressBars(w io.Writer, extra ...mpb.ContainerOption) *progressBars {
	b := &progressBars{start: time.Now()}
	opts := append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithConsoleWriter(consoleWriter(w)), mpb.WithWidth(40), mpb.WithAutoRefresh()}, extra...)
	b.p = mpb.New(opts...)
	b.charts = b.p.AddBar(0,
		mpb.PrependDecorators(decor.Name("charts ", decor.WC{W: 8}), decor.CountersNoUnit("%d / %d", decor.WC{W: 10})),
		mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5}), decor.Name("  "), decor.OnComplete(timeLeft(b.start), "done")),
	)
	b.images = b.p.AddBar(0,
		mpb.PrependDecorators(decor.Name("images ", decor.WC{W: 8}), decor.CountersNoUnit("%d / %d", decor.WC{W: 10})),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			n := b.bytes.Load()
			return engine.HumanBytes(n) + " copied, " + rate(n, time.Since(b.start))
		}), decor.Name("  "), decor.OnComplete(timeLeft(b.start), "done")),
	)
	return b
}

// timeLeft estimates the time left from the average pace since start; the totals grow
// while charts are extracted, so it estimates the work known so far.
func timeLeft(start time.Time) decor.Decorator {
	return decor.Any(func(s decor.Statistics) string {
		return "left " + estimate(s.Current, s.Total, time.Since(start))
	})
}

// estimate is the time done..total takes at the pace done took in elapsed, or "…".
func estimate(done, total int64, elapsed time.Duration) string {
	if done <= 0 || total <= done {
		return "…"
	}
	left := time.Duration(float64(elapsed) * float64(total-done) / float64(done))
	return left.Round(time.Second).String()
}

// rate is n bytes over elapsed, per second.
func rate(n int64, elapsed time.Duration) string {
	if elapsed <= 0 {
		return engine.HumanBytes(0) + "/s"
	}
	return engine.HumanBytes(int64(float64(n)/elapsed.Seconds())) + "/s"
}

// consoleWriter is what the bars draw through: on a terminal it moves the cursor back up
// to redraw each frame in place. The terminal is found through any writer that exposes
// its file descriptor (the secret-redacting wrapper of stderr does), not only an *os.File.
func consoleWriter(w io.Writer) *cupwriter.Writer {
	cw := cupwriter.New(w, false)
	if f, ok := w.(interface{ Fd() uintptr }); ok && !cw.IsTerminal() {
		cw.SetTermFd(int(f.Fd()))
	}
	return cw
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
