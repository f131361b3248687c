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
		"2 addons: 1 succeeded, 1 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !r.Failed() {
		t.Error("Failed() = false with an ERROR addon")
	}
}
