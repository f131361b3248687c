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
	copiedHeader := "COPIED"
	if r.ScanOnly {
		copiedHeader = "TO COPY" // nothing was copied: the count is what a run would copy
	}
	tw.add("STATUS", "ADDON", "CHART", copiedHeader, "SKIPPED", "FAILED", "PUBLIC", "BYTES", "TIME", "LAST ERROR")
	for _, a := range r.Addons {
		var copied, skipped, failed int
		var bytes int64
		for _, img := range a.Images {
			bytes += img.Bytes
			switch img.Result {
			case OutcomeCopied, OutcomeOverwritten, OutcomePlanned:
				copied++
			case OutcomeFailed:
				failed++
			default:
				skipped++
			}
		}
		var status string
		switch a.Status {
		case StatusSuccess:
			status = paint("32", a.Status)
		case StatusIncomplete:
			status = paint("33", a.Status)
		default:
			status = paint("31", a.Status)
		}
		chart := a.Chart
		if a.Version != "" {
			chart += "@" + a.Version
		}
		tw.add(status, a.Addon, chart, strconv.Itoa(copied), strconv.Itoa(skipped), strconv.Itoa(failed),
			strconv.Itoa(distinctPublic(a.PublicImages)), HumanBytes(bytes), time.Duration(a.Duration).Round(time.Millisecond).String(),
			oneLine(summaryError(a), 160))
	}
	_ = tw.write(w, 2)
	t := r.Totals
	verb := "copied"
	if r.ScanOnly {
		verb = "to copy"
	}
	fmt.Fprintf(w, "\n%d addons: %d succeeded, %d incomplete, %d failed; %d distinct images: %d %s, %d skipped, %d failed; %s in %s\n",
		t.Addons, t.Succeeded, t.Incomplete, t.Failed, r.UniqueJobs, t.Copied+t.Planned, verb, t.Skipped, t.ImgFailed, HumanBytes(t.Bytes), r.ElapsedText)
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

// writePlan lists, for --scan-only, every distinct image the run would copy and every
// chart it would push.
func (r *Report) writePlan(w io.Writer) {
	seen := map[string]bool{}
	var lines []string
	for _, a := range r.Addons {
		for _, img := range a.Images {
			if img.Result != OutcomePlanned {
				continue
			}
			line := img.Source + " → " + img.Destination
			if !seen[line] {
				seen[line] = true
				lines = append(lines, line)
			}
		}
	}
	sort.Strings(lines)
	fmt.Fprintf(w, "\nWould copy %d images:\n", len(lines))
	for _, l := range lines {
		fmt.Fprintln(w, "  "+l)
	}
	var charts []string
	for _, a := range r.Addons {
		if a.ChartResult == "planned" && a.ChartRef != "" {
			charts = append(charts, a.ChartRef)
		}
	}
	if len(charts) > 0 {
		sort.Strings(charts)
		fmt.Fprintf(w, "Would push %d charts:\n", len(charts))
		for _, c := range charts {
			fmt.Fprintln(w, "  "+c)
		}
	}
}
