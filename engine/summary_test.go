package engine

import (
	"strings"
	"testing"
)

// TestSummaryNamesSpentPullBudget: a run stopped by a spent pull budget says, per host, how
// many more pulls it needed.
func TestSummaryNamesSpentPullBudget(t *testing.T) {
	r := newReport([]*AddonReport{
		{Addon: "a", Chart: "a", Version: "1.0.0", Status: StatusSuccess},
		{Addon: "b", Chart: "b", Version: "2.0.0", Status: StatusError, Error: "addon b (v.yaml:3): images: 1 of 1 images failed"},
	}, "reg.example.com", Options{}, 0)
	r.PullsRefused = map[string]int{"docker.io": 7}
	var b strings.Builder
	r.WriteSummary(&b, false)
	out := b.String()
	for _, want := range []string{
		"Pull budget of docker.io spent: at least 7 more manifest pulls needed",
		"SUCCESS  a", "ERROR    b",
		"2 addons: 1 succeeded, 0 incomplete, 1 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !r.Failed() {
		t.Error("Failed() = false with an ERROR addon")
	}
}

// TestSummaryIncomplete: an INCOMPLETE addon shows its status and how many images stay
// public; the totals count it apart from succeeded and failed, and the run fails.
func TestSummaryIncomplete(t *testing.T) {
	r := newReport([]*AddonReport{
		{Addon: "a", Chart: "a", Version: "1.0.0", Status: StatusSuccess,
			PublicImages: []PublicImage{{Image: "quay.io/x/y:1", Render: "packaged", Allowed: true}}},
		{Addon: "b", Chart: "b", Version: "2.0.0", Status: StatusIncomplete, Stage: "verify",
			Error:        "addon b (v.yaml:3): verify: 2 images remain public after the rewrite",
			PublicImages: []PublicImage{{Image: "quay.io/x/y:1"}, {Image: "quay.io/x/z:1"}}},
		{Addon: "c", Chart: "c", Version: "3.0.0", Status: StatusError, Error: "addon c (v.yaml:5): fetch: boom"},
	}, "reg.example.com", Options{}, 0)
	if r.Totals.Succeeded != 1 || r.Totals.Incomplete != 1 || r.Totals.Failed != 1 {
		t.Errorf("totals %+v", r.Totals)
	}
	var b strings.Builder
	r.WriteSummary(&b, false)
	out := b.String()
	var header, lineA, lineB string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "STATUS"):
			header = l
		case strings.HasPrefix(l, "SUCCESS"):
			lineA = l
		case strings.HasPrefix(l, "INCOMPLETE"):
			lineB = l
		}
	}
	col := strings.Index(header, "PUBLIC")
	if col < 0 || lineA == "" || lineB == "" || len(lineA) <= col || len(lineB) <= col {
		t.Fatalf("no PUBLIC column or rows:\n%s", out)
	}
	if !strings.HasPrefix(lineA[col:], "1 ") || !strings.HasPrefix(lineB[col:], "2 ") {
		t.Errorf("PUBLIC column: a %q, b %q:\n%s", lineA[col:], lineB[col:], out)
	}
	if !strings.Contains(lineB, "2 images remain public") {
		t.Errorf("the incomplete row lacks its error:\n%s", out)
	}
	if !strings.Contains(out, "3 addons: 1 succeeded, 1 incomplete, 1 failed") {
		t.Errorf("totals line:\n%s", out)
	}
	if !r.Failed() {
		t.Error("Failed() = false with an INCOMPLETE addon")
	}
}
