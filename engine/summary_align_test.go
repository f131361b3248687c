package engine

import (
	"strings"
	"testing"
)

// TestSummaryColumnsLineUpWithColours: with colours on, every column starts at the same
// screen column in every row (colour codes take no room), as with colours off.
func TestSummaryColumnsLineUpWithColours(t *testing.T) {
	r := newReport([]*AddonReport{
		{Addon: "a", Chart: "a", Version: "1.0.0", Status: StatusSuccess},
		{Addon: "bb", Chart: "bb", Version: "2.0.0", Status: StatusIncomplete, Error: "addon bb: verify: 1 image remains public"},
		{Addon: "ccc", Chart: "ccc", Version: "3.0.0", Status: StatusError, Error: "addon ccc: fetch: boom"},
	}, "reg.example.com", Options{}, 0)
	for _, colour := range []bool{false, true} {
		var b strings.Builder
		r.WriteSummary(&b, colour)
		out := b.String()
		if colour && !strings.Contains(out, "\x1b[32mSUCCESS\x1b[0m") {
			t.Fatalf("no colours:\n%q", out)
		}
		var rows []string
		for _, l := range strings.Split(out, "\n") {
			plain := ansiCSI.ReplaceAllString(l, "")
			if strings.HasPrefix(plain, "STATUS") || strings.HasPrefix(plain, "SUCCESS") || strings.HasPrefix(plain, "INCOMPLETE") || strings.HasPrefix(plain, "ERROR") {
				rows = append(rows, plain)
			}
		}
		if len(rows) != 4 {
			t.Fatalf("colour %v: rows %q", colour, rows)
		}
		for _, col := range []string{"ADDON", "CHART", "COPIED", "TIME", "LAST ERROR"} {
			at := strings.Index(rows[0], col)
			for _, row := range rows[1:] {
				if col == "LAST ERROR" && strings.HasPrefix(row, "SUCCESS") {
					continue // no error: the row ends before
				}
				if at <= 0 || len(row) <= at || row[at-1] != ' ' || row[at] == ' ' {
					t.Errorf("colour %v: column %s (at %d) out of line in %q", colour, col, at, row)
				}
			}
		}
	}
}

// TestSummaryLastErrorKeepsItsStart: a long error is cut at its end, so the cell still
// says what failed first.
func TestSummaryLastErrorKeepsItsStart(t *testing.T) {
	long := "addon web: images: 1 of 1 images failed; chart not published (first: docker.io/library/nginx:1.27: not found at the source" + strings.Repeat(" and more", 40) + " THE-END)"
	r := newReport([]*AddonReport{{Addon: "web", Chart: "web", Status: StatusError, Error: long}}, "reg.example.com", Options{}, 0)
	var b strings.Builder
	r.WriteSummary(&b, false)
	out := b.String()
	if !strings.Contains(out, "images: 1 of 1 images failed; chart not published (first: docker.io/library/nginx:1.27: not found") {
		t.Errorf("the last error lost its start:\n%s", out)
	}
	if strings.Contains(out, "THE-END") || !strings.Contains(out, "…") {
		t.Errorf("the last error was not cut at its end:\n%s", out)
	}
}

// TestSummaryScanOnlySaysToCopy: a scan-only run copied nothing, and its table says so.
func TestSummaryScanOnlySaysToCopy(t *testing.T) {
	r := newReport([]*AddonReport{{Addon: "web", Chart: "web", Status: StatusSuccess, Images: []ImageReport{{Source: "a", Destination: "b", Result: OutcomePlanned}}}},
		"reg.example.com", Options{ScanOnly: true}, 0)
	r.addJobs([]JobResult{{Outcome: OutcomePlanned}}) // the pool's one result for it
	var b strings.Builder
	r.WriteSummary(&b, false)
	out := b.String()
	if !strings.Contains(out, "TO COPY") || strings.Contains(out, "COPIED") || !strings.Contains(out, "1 to copy") {
		t.Errorf("scan-only summary:\n%s", out)
	}
}

func TestVisibleWidth(t *testing.T) {
	for s, want := range map[string]int{"": 0, "abc": 3, "\x1b[31mERROR\x1b[0m": 5, "→ é": 3, "\x1b[1;33mX\x1b[0m": 1} {
		if got := visibleWidth(s); got != want {
			t.Errorf("visibleWidth(%q) = %d, want %d", s, got, want)
		}
	}
}
