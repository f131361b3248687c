package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestProgressBarsCountChartsImagesAndBytes drives the bars as the engine does and reads
// the last frame: every addon and every distinct image counted, bytes summed.
func TestProgressBarsCountChartsImagesAndBytes(t *testing.T) {
	var out bytes.Buffer
	b := newProgressBars(&out)
	b.AddonsPlanned(3)
	for i := 0; i < 5; i++ {
		b.ImageQueued()
	}
	for i := 0; i < 5; i++ {
		b.ImageFinished(1024*1024, true)
	}
	b.AddonFinished("a", true)
	b.AddonFinished("b", false)
	b.AddonFinished("c", true)
	fmt.Fprintln(b.Writer(), "a log line above the bars")
	b.Wait()
	got := out.String()
	for _, want := range []string{"charts", "3 / 3", "images", "5 / 5", "5.0 MiB copied", "a log line above the bars"} {
		if !strings.Contains(got, want) {
			t.Errorf("progress output lacks %q:\n%s", want, got)
		}
	}
}

// TestNoProgressBarsOutsideATerminal: a buffer (CI, pipes) never gets bars.
func TestNoProgressBarsOutsideATerminal(t *testing.T) {
	a := &app{stderr: &bytes.Buffer{}, env: func(string) string { return "" }}
	if a.wantProgress() {
		t.Fatal("progress bars wanted on a non-terminal")
	}
}
