package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: the master end the test reads, the slave end the CLI
// writes to as it would to a terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skipf("cannot unlock a pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skipf("no pseudo-terminal number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("cannot open the pseudo-terminal's slave: %v", err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 120}); err != nil {
		t.Fatalf("terminal size: %v", err)
	}
	return m, s
}

// TestProgressBarsRedrawInPlaceOnATerminal: through the secret-redacting wrapper of
// stderr, the bars still see the terminal and redraw each frame over the last (cursor up,
// erase) instead of scrolling; they show the rate and the time left. With CI set, or on a
// pipe, there are no bars.
func TestProgressBarsRedrawInPlaceOnATerminal(t *testing.T) {
	master, slave := openPTY(t)
	var red redactor
	red.add("S3CRET-token")
	stderr := red.writer(slave)
	a := &app{stderr: stderr, env: func(string) string { return "" }}
	if !a.wantProgress() {
		t.Fatal("no progress bars on a terminal behind the redacting writer")
	}
	if ci := (&app{stderr: stderr, env: func(k string) string { return map[string]string{"CI": "true"}[k] }}); ci.wantProgress() {
		t.Error("progress bars with CI set")
	}
	chunks := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			if n > 0 {
				chunks <- string(buf[:n])
			}
			if err != nil {
				close(chunks)
				return
			}
		}
	}()
	var got strings.Builder
	waitFor := func(what string) {
		t.Helper()
		for !strings.Contains(got.String(), what) {
			c, ok := <-chunks
			if !ok {
				t.Fatalf("the terminal closed before %q appeared: %q", what, got.String())
			}
			got.WriteString(c)
		}
	}

	frames := make(chan any)
	b := newProgressBars(stderr, mpb.WithManualRefresh(frames))
	b.AddonsPlanned(2)
	for i := 0; i < 4; i++ {
		b.ImageQueued()
	}
	b.ImageFinished(3<<20, true)
	frames <- time.Now()
	waitFor("1 / 4")
	first := got.Len()
	fmt.Fprintln(b.Writer(), "log line with S3CRET-token")
	b.ImageFinished(1<<20, true)
	b.AddonFinished("a", true)
	frames <- time.Now()
	waitFor("2 / 4")
	if redraw := got.String()[first:]; !strings.Contains(redraw, "\x1b[2A\x1b[J") {
		t.Errorf("the second frame does not move back over the first (cursor up 2, erase): %q", redraw)
	}
	b.Wait()
	slave.Close()
	for c := range chunks {
		got.WriteString(c)
	}
	out := got.String()
	for _, want := range []string{"charts", "images", "4.0 MiB copied", "/s", "left", "log line with [redacted]"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q: %q", want, out)
		}
	}
	if strings.Contains(out, "S3CRET-token") {
		t.Error("a secret reached the terminal")
	}
}

func TestEstimate(t *testing.T) {
	for _, tc := range []struct {
		done, total int64
		elapsed     time.Duration
		want        string
	}{
		{0, 10, time.Minute, "…"},
		{5, 5, time.Minute, "…"},
		{5, 10, time.Minute, "1m0s"},
		{1, 4, 10 * time.Second, "30s"},
	} {
		if got := estimate(tc.done, tc.total, tc.elapsed); got != tc.want {
			t.Errorf("estimate(%d, %d, %v) = %s, want %s", tc.done, tc.total, tc.elapsed, got, tc.want)
		}
	}
}
