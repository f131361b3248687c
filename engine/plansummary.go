package engine

import (
	"fmt"
	"io"
	"sort"
)

// writePlan lists, for a plan (--scan-only), every distinct image by what a sync would do
// with it and every chart by what would happen to it.
func (r *Report) writePlan(w io.Writer) {
	if r.DestinationUnknown {
		fmt.Fprintln(w, "\nDestination unknown (no --target-registry, no AWS configuration): it was not consulted.")
	}
	images := map[Outcome][]string{}
	seen := map[string]bool{}
	for _, a := range r.Addons {
		for _, img := range a.Images {
			line := img.Source + " → " + img.Destination
			if img.Drift != "" {
				line += " (" + img.Drift + ")"
			}
			if seen[line] {
				continue
			}
			seen[line] = true
			images[img.Result] = append(images[img.Result], line)
		}
	}
	section(w, "Would copy %d images:", append(images[OutcomeToCopy], images[OutcomePlanned]...))
	section(w, "Drift, %d images (the destination tag holds another digest):", images[OutcomeDrift])
	section(w, "Missing at the source, %d images:", images[OutcomeMissingAtSource])
	section(w, "Failed to check, %d images:", images[OutcomeFailed])
	if n := len(images[OutcomePresent]); n > 0 {
		fmt.Fprintf(w, "Present with the same digest: %d images.\n", n)
	}
	charts := map[string][]string{}
	seen = map[string]bool{}
	for _, a := range r.Addons {
		if a.ChartRef == "" || seen[a.ChartRef+a.ChartResult] {
			continue
		}
		seen[a.ChartRef+a.ChartResult] = true
		charts[a.ChartResult] = append(charts[a.ChartResult], a.ChartRef)
	}
	section(w, "Would push %d charts:", append(charts[ChartPublish], charts[ChartPlanned]...))
	section(w, "Chart drift, %d charts (the tag holds another chart):", charts[ChartDrift])
	section(w, "Blocked, %d charts (images they need failed, drift, or stay public):", charts[ChartBlocked])
	if n := len(charts[ChartPresent]); n > 0 {
		fmt.Fprintf(w, "Present with the same archive: %d charts.\n", n)
	}
}

// section prints a heading and the sorted lines, nothing when there are none.
func section(w io.Writer, heading string, lines []string) {
	if len(lines) == 0 {
		return
	}
	sort.Strings(lines)
	fmt.Fprintf(w, "\n"+heading+"\n", len(lines))
	for _, l := range lines {
		fmt.Fprintln(w, "  "+l)
	}
}
