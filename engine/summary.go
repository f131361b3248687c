package engine

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// WriteSummary prints the per-addon table: status, chart@version, images copied /
// skipped / failed, distinct images the mirrored chart still pulls from outside the
// destination (PUBLIC, allowed ones included), bytes, time and the last error in one line; colours
// when asked.
func (r *Report) WriteSummary(w io.Writer, color bool) {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	var tw textTable
	copiedCol, skippedCol := "COPIED", "SKIPPED"
	if r.ScanOnly {
		// nothing was copied: the counts are what a run would copy, and what is there
		copiedCol, skippedCol = "TO COPY", "PRESENT"
	}
	tw.add("STATUS", "ADDON", "CHART", copiedCol, skippedCol, "DRIFT", "FAILED", "PUBLIC", "BYTES", "TIME", "LAST ERROR")
	for _, a := range r.Addons {
		var copied, skipped, drift, failed int
		var bytes int64
		for _, img := range a.Images {
			bytes += img.Bytes
			switch img.Result {
			case OutcomeCopied, OutcomeOverwritten, OutcomePlanned, OutcomeToCopy:
				copied++
			case OutcomeDrift:
				drift++
			case OutcomeFailed, OutcomeMissingAtSource:
				failed++
			default:
				skipped++
			}
		}
		var status string
		switch a.Status {
		case StatusSuccess:
			status = paint("32", a.Status)
		case StatusIncomplete, StatusDrift:
			status = paint("33", a.Status)
		default:
			status = paint("31", a.Status)
		}
		chart := a.Chart
		if a.Version != "" {
			chart += "@" + a.Version
		}
		tw.add(status, a.Addon, chart, strconv.Itoa(copied), strconv.Itoa(skipped), strconv.Itoa(drift), strconv.Itoa(failed),
			strconv.Itoa(distinctPublic(a.PublicImages)), HumanBytes(bytes), time.Duration(a.Duration).Round(time.Millisecond).String(),
			oneLine(summaryError(a), 160))
	}
	_ = tw.write(w, 2)
	t := r.Totals
	verb, skipped := "copied", "skipped"
	if r.ScanOnly {
		verb, skipped = "to copy", "present"
	}
	fmt.Fprintf(w, "\n%d addons: %d succeeded, %d incomplete, %d failed, %d drift; %d distinct images: %d %s, %d %s, %d drift, %d failed; %s in %s\n",
		t.Addons, t.Succeeded, t.Incomplete, t.Failed, t.Drifted, r.UniqueJobs, t.Copied+t.Planned+t.ToCopy, verb, t.Skipped+t.Present, skipped,
		t.Drift, t.ImgFailed, HumanBytes(t.Bytes), r.ElapsedText)
	hosts := make([]string, 0, len(r.PullsRefused))
	for h := range r.PullsRefused {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		fmt.Fprintf(w, "Pull budget of %s spent: at least %d more manifest pulls needed; rerun after the window resets (finished images are skipped) or raise the budget with credentials.\n",
			h, r.PullsRefused[h])
	}
	if r.ScanOnly {
		r.writePlan(w)
	}
}

// summaryError is the addon's error without the "addon NAME (file:line): " that the ADDON
// column already says.
func summaryError(a *AddonReport) string {
	e := a.Error
	if strings.HasPrefix(e, "addon "+a.Addon) {
		if i := strings.Index(e, ": "); i >= 0 {
			e = e[i+2:]
		}
	}
	return e
}

// oneLine folds s onto one line of at most max characters. A longer one keeps its start,
// which says what failed, and loses its end (report.json has the whole message).
func oneLine(s string, max int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) <= max {
		return string(r)
	}
	return string(r[:max-1]) + "…"
}

// HumanBytes formats n as B, KiB, MiB or GiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
