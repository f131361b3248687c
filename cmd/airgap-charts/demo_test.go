package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestDemoRunsTheWholePipeline runs `airgap-charts demo` as a user would: it must exit 0
// having mirrored every embedded chart and its images, and say where they landed.
func TestDemoRunsTheWholePipeline(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"demo", "--log-format", "json", "--log-level", "warn"}, &stdout, &stderr, os.Getenv)
	if code != exitOK {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, chart := range demoCharts {
		if !strings.Contains(out, "SUCCESS  "+chart) {
			t.Errorf("summary has no SUCCESS row for %s:\n%s", chart, out)
		}
		refs, err := demoImages(chart)
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range refs {
			if !strings.Contains(out, "/mirror/"+ref.Repository+":"+ref.Tag+" ← "+ref.String()) {
				t.Errorf("no landing line for %s:\n%s", ref, out)
			}
		}
	}
	if !strings.Contains(out, "4 addons: 4 succeeded, 0 incomplete, 0 failed") {
		t.Errorf("totals line missing:\n%s", out)
	}
}
